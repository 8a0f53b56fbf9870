/**
 * The xDS client's state without sockets: takes DiscoveryResponses, converts and validates every
 * resource, and either accepts the whole response (ACK, new snapshot) or rejects it (NACK with
 * every problem and its field path, last good state kept). It also says which subscriptions
 * follow from what was accepted: clusters -> EDS names, listeners -> RDS and SDS names.
 *
 * Delta (incremental) xDS enters through `handleDeltaResponse`: the same conversion and the same
 * all-or-nothing rule, but a response carries only what changed (resources added or updated,
 * each with its own version, and `removed_resources`), so wildcard types are no longer replaced
 * whole. The per-resource versions held are what a reconnecting client reports in
 * initial_resource_versions (https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#incremental-xds).
 *
 * Make before break (Envoy's cluster warming): a new EDS cluster is warming until its
 * ClusterLoadAssignment arrives, or for at most WARMING_TIMEOUT_MS (Envoy's initial_fetch_timeout
 * default). While it warms, a RouteConfiguration update that routes to it is accepted (ACKed) but
 * not yet put in service: the snapshot keeps the version of that route configuration it had, so
 * a canary's weighted route starts taking traffic only once its cluster has endpoints, instead of
 * answering `503 UH`/`NC` in the gap between RDS and EDS.
 */
import { Problems, formatProblem } from '../../core/errors.js';
import { TYPE, unpackAny, type AnyLike, type AnyMessage } from '../../protocol/protos.js';
import type {
  ClusterConfig,
  EndpointSet,
  ListenerConfig,
  ProxyConfigSnapshot,
  RawResource,
  RouteTable,
  SecretConfig,
  XdsShortType,
} from '../model/config.js';
import { convertCluster, convertLoadAssignment } from '../model/convert-cluster.js';
import { convertListener, referencedRouteNames } from '../model/convert-listener.js';
import { convertRouteConfiguration } from '../model/convert-route.js';
import {
  clusterSecretNames,
  convertSecret,
  NO_WORKLOAD_CERTIFICATES,
  referencedSecretNames,
  type SecretMsg,
  type TlsConvertOptions,
} from '../model/convert-tls.js';
import type { DiscoveryResponse__Output } from '../../protocol/envoy-types.js';

export const TYPE_BY_SHORT: Record<XdsShortType, string> = {
  CDS: TYPE.cluster,
  EDS: TYPE.endpoint,
  LDS: TYPE.listener,
  RDS: TYPE.route,
  SDS: TYPE.secret,
};
const SHORT_BY_URL = new Map<string, XdsShortType>(
  Object.entries(TYPE_BY_SHORT).map(([k, v]) => [v, k as XdsShortType]),
);

export function shortTypeOf(typeUrl: string): XdsShortType | undefined {
  return SHORT_BY_URL.get(typeUrl);
}

type Converted = ClusterConfig | EndpointSet | ListenerConfig | RouteTable | SecretConfig;

interface Entry {
  config: Converted;
  raw: RawResource;
  /** The resource's own version, when it came from a delta response. */
  deltaVersion?: string;
}

export type ResponseOutcome =
  | { kind: 'ack'; type: XdsShortType; version: string; nonce: string; warnings: string[] }
  | { kind: 'nack'; type: XdsShortType; version: string; nonce: string; message: string; problems: string[] }
  | { kind: 'ignored'; reason: string };

/** A DeltaDiscoveryResponse as protobufjs decodes it (see src/protocol/envoy-types.ts for the conventions). */
export interface DeltaDiscoveryResponseMsg {
  system_version_info?: string;
  resources?: { name?: string; version?: string; resource?: AnyMessage; aliases?: string[] }[];
  type_url?: string;
  removed_resources?: string[];
  nonce?: string;
}

/** A delta ACK also says which resources changed, for the client's counters and logs. */
export type DeltaOutcome =
  | {
      kind: 'ack';
      type: XdsShortType;
      version: string;
      nonce: string;
      warnings: string[];
      updated: string[];
      removed: string[];
    }
  | Exclude<ResponseOutcome, { kind: 'ack' }>;

/** Types subscribed by name; their names follow from accepted clusters and listeners. */
type ExplicitType = 'EDS' | 'RDS' | 'SDS';

/** Types whose updates wait for the clusters they name to warm. */
type HeldType = 'LDS' | 'RDS';

/** Envoy's default initial_fetch_timeout: how long a new cluster may warm before it is used anyway. */
export const WARMING_TIMEOUT_MS = 15_000;

/** Wildcard types (CDS, LDS) are complete in every response: absence means deletion. */
const WILDCARD: ReadonlySet<XdsShortType> = new Set(['CDS', 'LDS']);

export class XdsResourceCache {
  private readonly entries: Record<XdsShortType, Map<string, Entry>> = {
    CDS: new Map(),
    EDS: new Map(),
    LDS: new Map(),
    RDS: new Map(),
    SDS: new Map(),
  };
  private readonly versions: Record<XdsShortType, string> = { CDS: '', EDS: '', LDS: '', RDS: '', SDS: '' };
  private readonly received = new Set<XdsShortType>();
  /** Names subscribed for EDS, RDS and SDS (CDS and LDS are wildcard). */
  private readonly subscribed: Record<ExplicitType, Set<string>> = {
    EDS: new Set(),
    RDS: new Set(),
    SDS: new Set(),
  };
  private current: ProxyConfigSnapshot;
  /** Warming EDS clusters by name: when they started warming (`now()` time). */
  private readonly warmingSince = new Map<string, number>();
  /** EDS clusters that have had their endpoints once: an update of one does not warm again. */
  private readonly warmed = new Set<string>();
  /** The listeners and route configurations in service (what the last snapshot published). */
  private readonly inService: Record<HeldType, Map<string, Entry>> = { LDS: new Map(), RDS: new Map() };

  constructor(
    private readonly now: () => number,
    /** What conversion needs to know of the proxy (whether it has a workload certificate source). */
    private readonly convertOptions: TlsConvertOptions = NO_WORKLOAD_CERTIFICATES,
  ) {
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
    if (type === 'EDS' || type === 'RDS' || type === 'SDS') return [...this.subscribed[type]].sort();
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

  /** SDS names (certificates, CAs) the accepted listeners' and clusters' TLS contexts reference over ADS. */
  wantedSecretNames(): string[] {
    const names = new Set<string>();
    for (const e of this.entries.LDS.values())
      for (const n of referencedSecretNames(e.config as ListenerConfig)) names.add(n);
    for (const e of this.entries.CDS.values())
      for (const n of clusterSecretNames(e.config as ClusterConfig)) names.add(n);
    return [...names].sort();
  }

  /** Replaces a subscription; returns true when it changed. Drops resources no longer wanted. */
  setSubscription(type: ExplicitType, names: readonly string[]): boolean {
    const next = new Set(names);
    const prev = this.subscribed[type];
    const changed = next.size !== prev.size || [...next].some((n) => !prev.has(n));
    if (!changed) return false;
    this.subscribed[type] = next;
    for (const name of [...this.entries[type].keys()]) if (!next.has(name)) this.entries[type].delete(name);
    this.current = this.build();
    return true;
  }

  handleResponse(res: DiscoveryResponse__Output): ResponseOutcome {
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
      const config = convert(type, any, path, own, this.convertOptions);
      problems.items.push(...own.items);
      if (config === undefined || !own.ok) return;
      const name = nameOf(config);
      if (accepted.has(name))
        problems.error(`${RESOURCE_KIND[type]} ${JSON.stringify(name)}`, 'duplicate resource name');
      const resource = { type_url: any.type_url ?? '', value: any.value ?? new Uint8Array(0) };
      accepted.set(name, { config, raw: { name, resource, version, lastUpdatedMs: at } });
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
      if (type === 'EDS' || type === 'RDS' || type === 'SDS') {
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

  /**
   * Name -> version of every resource of a type held from delta responses: a reconnecting delta
   * client sends this as initial_resource_versions so the server can skip what is unchanged.
   */
  heldVersions(type: XdsShortType): Record<string, string> {
    const held: Record<string, string> = {};
    for (const [name, e] of this.entries[type]) if (e.deltaVersion !== undefined) held[name] = e.deltaVersion;
    return held;
  }

  /**
   * A DeltaDiscoveryResponse: resources added or updated (each judged as in state of the world)
   * and names removed. Any problem rejects the whole response and changes nothing; otherwise
   * resources not mentioned stay as they are, for wildcard types too.
   */
  handleDeltaResponse(res: DeltaDiscoveryResponseMsg): DeltaOutcome {
    const type = shortTypeOf(res.type_url ?? '');
    if (type === undefined) return { kind: 'ignored', reason: `unknown type_url ${res.type_url ?? ''}` };
    const version = res.system_version_info ?? '';
    const nonce = res.nonce ?? '';
    const problems = new Problems();
    const table = this.entries[type];
    const updates = new Map<string, Entry>();
    const mentioned = new Set<string>();
    const at = this.now();
    (res.resources ?? []).forEach((r, i) => {
      const path = `resources[${i}]`;
      const name = r.name ?? '';
      if (name === '') {
        problems.error(`${path}.name`, 'a delta resource needs a name');
        return;
      }
      const named = `${RESOURCE_KIND[type]} ${JSON.stringify(name)}`;
      if (mentioned.has(name)) {
        problems.error(named, 'duplicate resource name');
        return;
      }
      mentioned.add(name);
      // No body: a TTL heartbeat for a resource the client holds (xDS TTL); it changes nothing.
      if (r.resource === undefined) return;
      if (r.resource.type_url !== res.type_url) {
        problems.error(
          `${path}.resource.type_url`,
          `resource type ${r.resource.type_url} does not match response type ${res.type_url ?? ''}`,
        );
        return;
      }
      const own = new Problems();
      const config = convert(type, r.resource, path, own, this.convertOptions);
      problems.items.push(...own.items);
      if (config === undefined || !own.ok) return;
      if (nameOf(config) !== name) {
        problems.error(named, `the resource inside is named ${JSON.stringify(nameOf(config))}`);
        return;
      }
      const v = r.version ?? '';
      updates.set(name, {
        config,
        raw: { name, resource: r.resource, version: v, lastUpdatedMs: at },
        deltaVersion: v,
      });
    });
    (res.removed_resources ?? []).forEach((name, i) => {
      if (mentioned.has(name))
        problems.error(`removed_resources[${i}]`, `${JSON.stringify(name)} is also in resources`);
    });
    if (!problems.ok) {
      const lines = problems.errors.map((p) => formatProblem(p));
      return {
        kind: 'nack',
        type,
        version: this.versions[type],
        nonce,
        message: `${type} delta update ${JSON.stringify(version)} rejected: ${lines.join('; ')}`,
        problems: lines,
      };
    }
    const wanted = this.explicitNames(type);
    const updated: string[] = [];
    for (const [name, entry] of updates) {
      // A server may send names this client did not ask for; they are not kept (as in SotW).
      if (wanted !== undefined && !wanted.has(name)) continue;
      const prev = table.get(name);
      if (
        prev &&
        Buffer.compare(Buffer.from(prev.raw.resource.value), Buffer.from(entry.raw.resource.value)) === 0
      ) {
        entry.raw.lastUpdatedMs = prev.raw.lastUpdatedMs;
      }
      table.set(name, entry);
      updated.push(name);
    }
    const removed = (res.removed_resources ?? []).filter((name) => table.delete(name));
    this.versions[type] = version;
    this.received.add(type);
    this.current = this.build();
    return {
      kind: 'ack',
      type,
      version,
      nonce,
      warnings: problems.warnings.map((p) => formatProblem(p)),
      updated,
      removed,
    };
  }

  /** The explicit subscription of a type; undefined for wildcard types (CDS, LDS). */
  private explicitNames(type: XdsShortType): ReadonlySet<string> | undefined {
    if (WILDCARD.has(type)) return undefined;
    return (this.subscribed as Partial<Record<XdsShortType, Set<string>>>)[type] ?? new Set();
  }

  /** Clusters still warming: new EDS clusters without their endpoints, within the timeout. */
  warmingClusters(): ReadonlySet<string> {
    const at = this.now();
    const out = new Set<string>();
    for (const name of this.warmingSince.keys()) {
      if (at - this.warmingSince.get(name)! < WARMING_TIMEOUT_MS) out.add(name);
    }
    return out;
  }

  /** When the earliest warming cluster times out (`now()` time), if any is warming. */
  warmingDeadline(): number | undefined {
    let first: number | undefined;
    const at = this.now();
    for (const since of this.warmingSince.values()) {
      const deadline = since + WARMING_TIMEOUT_MS;
      if (deadline > at && (first === undefined || deadline < first)) first = deadline;
    }
    return first;
  }

  /** Rebuilds the snapshot (after a warming timeout); returns true when it changed what is in service. */
  refresh(): boolean {
    const before = this.current;
    this.current = this.build();
    return (
      [...before.routes].some(([name, table]) => this.current.routes.get(name) !== table) ||
      [...before.listeners].some(([name, l]) => this.current.listeners.get(name) !== l)
    );
  }

  /** Tracks which EDS clusters are warming, from the clusters and endpoints now held. */
  private updateWarming(): void {
    const at = this.now();
    const present = new Set<string>();
    for (const [name, e] of this.entries.CDS) {
      const c = e.config as ClusterConfig;
      if (c.type !== 'EDS') continue;
      present.add(name);
      if (this.entries.EDS.has(c.edsServiceName ?? c.name)) {
        this.warmed.add(name);
        this.warmingSince.delete(name);
      } else if (!this.warmed.has(name) && !this.warmingSince.has(name)) {
        this.warmingSince.set(name, at);
      }
    }
    for (const name of [...this.warmed]) if (!present.has(name)) this.warmed.delete(name);
    for (const name of [...this.warmingSince.keys()]) if (!present.has(name)) this.warmingSince.delete(name);
  }

  /**
   * The route configurations (or listeners) to put in service: each as held, except an update
   * that sends to a warming cluster, which waits (the version in service stays) until that
   * cluster is warm. One seen for the first time has nothing to wait with and is used as is.
   * Listeners wait for the clusters their TCP proxies and inline routes name, as Envoy warms a
   * listener before it replaces the one in service.
   */
  private toServe(type: HeldType, warming: ReadonlySet<string>): Map<string, Entry> {
    const clustersOf =
      type === 'RDS'
        ? (e: Entry) => routedClusters(e.config as RouteTable)
        : (e: Entry) => listenerClusters(e.config as ListenerConfig);
    const out = new Map<string, Entry>();
    for (const [name, entry] of this.entries[type]) {
      const inService = this.inService[type].get(name);
      const wait =
        warming.size > 0 &&
        inService !== undefined &&
        inService !== entry &&
        clustersOf(entry).some((c) => warming.has(c));
      out.set(name, wait ? inService : entry);
    }
    this.inService[type] = out;
    return out;
  }

  private build(): ProxyConfigSnapshot {
    this.updateWarming();
    const warming = this.warmingClusters();
    const routes = this.toServe('RDS', warming);
    const listeners = this.toServe('LDS', warming);
    const configs = <T>(entries: ReadonlyMap<string, Entry>) =>
      new Map([...entries].map(([k, e]) => [k, e.config as T]));
    const raws = (entries: ReadonlyMap<string, Entry>) => new Map([...entries].map(([k, e]) => [k, e.raw]));
    const pick = <T>(type: XdsShortType) => configs<T>(this.entries[type]);
    const raw = (type: XdsShortType) => raws(this.entries[type]);
    return Object.freeze({
      clusters: pick<ClusterConfig>('CDS'),
      endpoints: pick<EndpointSet>('EDS'),
      listeners: configs<ListenerConfig>(listeners),
      routes: configs<RouteTable>(routes),
      secrets: pick<SecretConfig>('SDS'),
      raw: { CDS: raw('CDS'), EDS: raw('EDS'), LDS: raws(listeners), RDS: raws(routes), SDS: raw('SDS') },
      versions: { ...this.versions },
      received: new Set(this.received),
    });
  }
}

/** Every cluster a listener sends to itself: TCP proxy targets and inline route tables. */
export function listenerClusters(listener: ListenerConfig): string[] {
  const out = new Set<string>();
  for (const chain of listener.filterChains) {
    const f = chain.filter;
    if (f.kind === 'tcp') for (const t of f.targets) out.add(t.cluster);
    else if (f.inlineRoutes !== undefined) for (const c of routedClusters(f.inlineRoutes)) out.add(c);
  }
  return [...out];
}

/** Every cluster a route configuration forwards to (weighted targets and mirrors). */
export function routedClusters(table: RouteTable): string[] {
  const out = new Set<string>();
  for (const vh of table.virtualHosts) {
    for (const route of vh.routes) {
      if (route.action.kind !== 'forward') continue;
      for (const t of route.action.targets) out.add(t.cluster);
      for (const m of route.action.mirrors) out.add(m.cluster);
    }
  }
  return [...out];
}

function convert(
  type: XdsShortType,
  any: AnyLike,
  path: string,
  problems: Problems,
  options: TlsConvertOptions,
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
      return convertCluster(msg, path, problems, options);
    case 'EDS':
      return convertLoadAssignment(msg, path, problems);
    case 'LDS':
      return convertListener(msg, path, problems, options);
    case 'RDS':
      return convertRouteConfiguration(msg, path, problems);
    case 'SDS':
      return convertSecret(msg as SecretMsg, path, problems);
  }
}

const RESOURCE_KIND: Record<XdsShortType, string> = {
  CDS: 'Cluster',
  EDS: 'ClusterLoadAssignment',
  LDS: 'Listener',
  RDS: 'RouteConfiguration',
  SDS: 'Secret',
};

function nameOf(c: Converted): string {
  return 'clusterName' in c ? c.clusterName : c.name;
}
