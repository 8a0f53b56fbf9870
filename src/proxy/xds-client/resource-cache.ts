/**
 * The xDS client's state without sockets: takes DiscoveryResponses, converts and validates every
 * resource, and either accepts the whole response (ACK, new snapshot) or rejects it (NACK with
 * every problem and its field path, last good state kept). It also says which subscriptions
 * follow from what was accepted: clusters -> EDS names, listeners -> RDS names.
 */
import { Problems, formatProblem } from '../../core/errors.js';
import { TYPE, unpackAny, type AnyMessage } from '../../protocol/protos.js';
import type {
  ClusterConfig,
  EndpointSet,
  ListenerConfig,
  ProxyConfigSnapshot,
  RawResource,
  RouteTable,
  XdsShortType,
} from '../config.js';
import { convertCluster, convertLoadAssignment } from './convert-cluster.js';
import { convertListener, referencedRouteNames } from './convert-listener.js';
import { convertRouteConfiguration } from './convert-route.js';
import type { ClusterMsg, DiscoveryResponseMsg, ListenerMsg, RouteConfigurationMsg } from './envoy-types.js';

export const TYPE_BY_SHORT: Record<XdsShortType, string> = {
  CDS: TYPE.cluster,
  EDS: TYPE.endpoint,
  LDS: TYPE.listener,
  RDS: TYPE.route,
};
const SHORT_BY_URL = new Map<string, XdsShortType>(
  Object.entries(TYPE_BY_SHORT).map(([k, v]) => [v, k as XdsShortType]),
);

export function shortTypeOf(typeUrl: string): XdsShortType | undefined {
  return SHORT_BY_URL.get(typeUrl);
}

type Converted = ClusterConfig | EndpointSet | ListenerConfig | RouteTable;

interface Entry {
  config: Converted;
  raw: RawResource;
}

export type ResponseOutcome =
  | { kind: 'ack'; type: XdsShortType; version: string; nonce: string; warnings: string[] }
  | { kind: 'nack'; type: XdsShortType; version: string; nonce: string; message: string; problems: string[] }
  | { kind: 'ignored'; reason: string };

/** Wildcard types (CDS, LDS) are complete in every response: absence means deletion. */
const WILDCARD: ReadonlySet<XdsShortType> = new Set(['CDS', 'LDS']);

export class XdsResourceCache {
  private readonly entries: Record<XdsShortType, Map<string, Entry>> = {
    CDS: new Map(),
    EDS: new Map(),
    LDS: new Map(),
    RDS: new Map(),
  };
  private readonly versions: Record<XdsShortType, string> = { CDS: '', EDS: '', LDS: '', RDS: '' };
  private readonly received = new Set<XdsShortType>();
  /** Names subscribed for EDS and RDS (CDS and LDS are wildcard). */
  private readonly subscribed: Record<'EDS' | 'RDS', Set<string>> = { EDS: new Set(), RDS: new Set() };
  private current: ProxyConfigSnapshot;

  constructor(private readonly now: () => number) {
    this.current = this.build();
  }

  snapshot(): ProxyConfigSnapshot {
    return this.current;
  }

  version(type: XdsShortType): string {
    return this.versions[type];
  }

  /** Resource names to request for a type; [] means wildcard. */
  resourceNames(type: XdsShortType): string[] {
    if (type === 'EDS' || type === 'RDS') return [...this.subscribed[type]].sort();
    return [];
  }

  /** EDS names the accepted clusters need. */
  wantedEndpointNames(): string[] {
    const names = new Set<string>();
    for (const e of this.entries.CDS.values()) {
      const c = e.config as ClusterConfig;
      if (c.type === 'EDS') names.add(c.edsServiceName ?? c.name);
    }
    return [...names].sort();
  }

  /** RDS names the accepted listeners reference. */
  wantedRouteNames(): string[] {
    const names = new Set<string>();
    for (const e of this.entries.LDS.values())
      for (const n of referencedRouteNames(e.config as ListenerConfig)) names.add(n);
    return [...names].sort();
  }

  /** Replaces a subscription; returns true when it changed. Drops resources no longer wanted. */
  setSubscription(type: 'EDS' | 'RDS', names: readonly string[]): boolean {
    const next = new Set(names);
    const prev = this.subscribed[type];
    const changed = next.size !== prev.size || [...next].some((n) => !prev.has(n));
    if (!changed) return false;
    this.subscribed[type] = next;
    for (const name of [...this.entries[type].keys()]) if (!next.has(name)) this.entries[type].delete(name);
    this.current = this.build();
    return true;
  }

  handleResponse(res: DiscoveryResponseMsg): ResponseOutcome {
    const type = shortTypeOf(res.type_url ?? '');
    if (type === undefined) return { kind: 'ignored', reason: `unknown type_url ${res.type_url ?? ''}` };
    const version = res.version_info ?? '';
    const nonce = res.nonce ?? '';
    const problems = new Problems();
    const accepted = new Map<string, Entry>();
    const at = this.now();
    (res.resources ?? []).forEach((any, i) => {
      const path = `resources[${i}]`;
      if (any.type_url !== res.type_url) {
        problems.error(
          `${path}.type_url`,
          `resource type ${any.type_url} does not match response type ${res.type_url ?? ''}`,
        );
        return;
      }
      // Each resource is judged on its own, so one bad resource does not hide another's problems.
      const own = new Problems();
      const config = convert(type, any, path, own);
      problems.items.push(...own.items);
      if (config === undefined || !own.ok) return;
      const name = nameOf(config);
      if (accepted.has(name))
        problems.error(`${RESOURCE_KIND[type]} ${JSON.stringify(name)}`, 'duplicate resource name');
      accepted.set(name, { config, raw: { name, resource: any, version, lastUpdatedMs: at } });
    });
    if (!problems.ok) {
      const lines = problems.errors.map((p) => formatProblem(p));
      return {
        kind: 'nack',
        type,
        version: this.versions[type],
        nonce,
        message: `${type} update ${JSON.stringify(version)} rejected: ${lines.join('; ')}`,
        problems: lines,
      };
    }
    const table = this.entries[type];
    if (WILDCARD.has(type)) table.clear();
    for (const [name, entry] of accepted) {
      if (type === 'EDS' || type === 'RDS') {
        if (!this.subscribed[type].has(name)) continue;
      }
      // Keep last_updated for resources whose bytes did not change, as Envoy's dump does.
      const prev = table.get(name);
      if (
        prev &&
        Buffer.compare(Buffer.from(prev.raw.resource.value), Buffer.from(entry.raw.resource.value)) === 0
      ) {
        entry.raw.lastUpdatedMs = prev.raw.lastUpdatedMs;
      }
      table.set(name, entry);
    }
    this.versions[type] = version;
    this.received.add(type);
    this.current = this.build();
    return { kind: 'ack', type, version, nonce, warnings: problems.warnings.map((p) => formatProblem(p)) };
  }

  private build(): ProxyConfigSnapshot {
    const pick = <T>(type: XdsShortType) =>
      new Map([...this.entries[type]].map(([k, e]) => [k, e.config as T]));
    const raw = (type: XdsShortType) => new Map([...this.entries[type]].map(([k, e]) => [k, e.raw]));
    return Object.freeze({
      clusters: pick<ClusterConfig>('CDS'),
      endpoints: pick<EndpointSet>('EDS'),
      listeners: pick<ListenerConfig>('LDS'),
      routes: pick<RouteTable>('RDS'),
      raw: { CDS: raw('CDS'), EDS: raw('EDS'), LDS: raw('LDS'), RDS: raw('RDS') },
      versions: { ...this.versions },
      received: new Set(this.received),
    });
  }
}

function convert(
  type: XdsShortType,
  any: AnyMessage,
  path: string,
  problems: Problems,
): Converted | undefined {
  let msg: object;
  try {
    msg = unpackAny(any);
  } catch (err) {
    problems.error(path, `cannot decode: ${(err as Error).message}`);
    return undefined;
  }
  // Name the resource in every problem path: `Cluster "outbound|9080||reviews".lb_policy`.
  const named = msg as { name?: unknown; cluster_name?: unknown };
  const name =
    typeof named.name === 'string'
      ? named.name
      : typeof named.cluster_name === 'string'
        ? named.cluster_name
        : '';
  if (name !== '') path = `${RESOURCE_KIND[type]} ${JSON.stringify(name)}`;
  switch (type) {
    case 'CDS':
      return convertCluster(msg as ClusterMsg, path, problems);
    case 'EDS':
      return convertLoadAssignment(msg, path, problems);
    case 'LDS':
      return convertListener(msg as ListenerMsg, path, problems);
    case 'RDS':
      return convertRouteConfiguration(msg as RouteConfigurationMsg, path, problems);
  }
}

const RESOURCE_KIND: Record<XdsShortType, string> = {
  CDS: 'Cluster',
  EDS: 'ClusterLoadAssignment',
  LDS: 'Listener',
  RDS: 'RouteConfiguration',
};

function nameOf(c: Converted): string {
  return 'clusterName' in c ? c.clusterName : c.name;
}
