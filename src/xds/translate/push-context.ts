/**
 * The push context: one immutable snapshot of configuration and services, indexed for the
 * generators. Built once per change (not per proxy); generators read it and memoize their
 * outputs in it, so its caches live and die with it.
 */
import type { Resource } from '../../api/resource.js';
import {
  KIND,
  type DestinationRuleSpec,
  type GatewaySpec,
  type SidecarSpec,
  type VirtualServiceSpec,
} from '../../api/networking/types.js';
import { RATE_LIMIT_KIND, type RateLimitSpec } from '../../api/trellis/types.js';
import type { ConfigSnapshot } from '../../config/types.js';
import { compileRateLimits, type CompiledRateLimit } from '../../controllers/ratelimit/compile.js';
import type { Endpoint, Service, ServiceIndexSnapshot } from '../../registry/types.js';
import { BoundedMemo, digest, fingerprint } from './memo.js';

export type VirtualServiceResource = Resource<VirtualServiceSpec>;
export type DestinationRuleResource = Resource<DestinationRuleSpec>;
export type GatewayResource = Resource<GatewaySpec>;
export type SidecarResource = Resource<SidecarSpec>;

export interface PushContextOptions {
  /** DNS suffix of mesh-internal hosts (`cluster.local`). */
  domainSuffix?: string;
  /** Namespace whose Sidecar/DestinationRule apply mesh-wide (`istio-system`). */
  rootNamespace?: string;
  /** Most generated results kept per push context. */
  memoCapacity?: number;
  /**
   * Where proxies reach the global rate limit service (Envoy's RLS gRPC API). A service of
   * that name and port in the registry is used as is; otherwise proxies with global limits get
   * a cluster of their own for it. Default 127.0.0.1:8081 (`trellis ratelimit`'s default).
   */
  rateLimitService?: { host: string; port: number };
}

export interface PushContext {
  /** `CONFIG_REVISION.SERVICES_VERSION`; the version string xDS responses carry. */
  readonly version: string;
  readonly domainSuffix: string;
  readonly rootNamespace: string;
  readonly rateLimitService: { readonly host: string; readonly port: number };
  /** Indexes and caches the generators use; not part of the server-facing contract. */
  readonly index: PushIndex;
}

/** Oldest first, then namespace/name: Istio's precedence when resources conflict. */
function byCreation(a: Resource, b: Resource): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return (
    a.metadata.namespace.localeCompare(b.metadata.namespace) || a.metadata.name.localeCompare(b.metadata.name)
  );
}

function sortedList<S>(config: ConfigSnapshot, kind: string): Resource<S>[] {
  return [...(config.list(kind) as Resource<S>[])].sort(byCreation);
}

export class PushIndex {
  readonly services: readonly Service[];
  /** VirtualServices with hosts (roots), oldest first. */
  readonly virtualServices: readonly VirtualServiceResource[];
  /** Delegate VirtualServices (no hosts) by `namespace/name`. */
  readonly delegates: ReadonlyMap<string, VirtualServiceResource>;
  readonly destinationRules: readonly DestinationRuleResource[];
  /** DestinationRules with a workloadSelector, by namespace (they apply only there). */
  readonly selectorRulesByNamespace: ReadonlyMap<string, readonly DestinationRuleResource[]>;
  readonly gateways: readonly GatewayResource[];
  readonly sidecarsByNamespace: ReadonlyMap<string, readonly SidecarResource[]>;
  /** Every RateLimit's limits, compiled once per push (oldest resource first). */
  readonly rateLimits: readonly CompiledRateLimit[];
  /** Every generated result of this push, keyed by its full input key. */
  readonly memo: BoundedMemo<unknown>;
  private readonly endpointFps = new Map<string, string>();
  private byAddress: Map<string, Endpoint[]> | undefined;

  constructor(
    readonly config: ConfigSnapshot,
    readonly registry: ServiceIndexSnapshot,
    memoCapacity: number,
    domainSuffix = 'cluster.local',
  ) {
    this.services = [...registry.services].sort((a, b) => a.hostname.localeCompare(b.hostname));
    const roots: VirtualServiceResource[] = [];
    const delegates = new Map<string, VirtualServiceResource>();
    for (const vs of sortedList<VirtualServiceSpec>(config, KIND.VirtualService)) {
      if ((vs.spec.hosts ?? []).length === 0) {
        delegates.set(`${vs.metadata.namespace}/${vs.metadata.name}`, vs);
      } else {
        roots.push(vs);
      }
    }
    this.virtualServices = roots;
    this.delegates = delegates;
    this.destinationRules = sortedList<DestinationRuleSpec>(config, KIND.DestinationRule);
    const selectorRules = new Map<string, DestinationRuleResource[]>();
    for (const r of this.destinationRules) {
      if (r.spec.workloadSelector?.labels === undefined) continue;
      let list = selectorRules.get(r.metadata.namespace);
      if (!list) selectorRules.set(r.metadata.namespace, (list = []));
      list.push(r);
    }
    this.selectorRulesByNamespace = selectorRules;
    this.gateways = sortedList<GatewaySpec>(config, KIND.Gateway);
    const sidecars = new Map<string, SidecarResource[]>();
    for (const sc of sortedList<SidecarSpec>(config, KIND.Sidecar)) {
      let list = sidecars.get(sc.metadata.namespace);
      if (!list) sidecars.set(sc.metadata.namespace, (list = []));
      list.push(sc);
    }
    this.sidecarsByNamespace = sidecars;
    this.rateLimits = compileRateLimits(
      config.list(RATE_LIMIT_KIND) as Resource<RateLimitSpec>[],
      domainSuffix,
    );
    this.memo = new BoundedMemo<unknown>(memoCapacity);
  }

  service(hostname: string): Service | undefined {
    return this.registry.service(hostname);
  }

  endpoints(hostname: string): readonly Endpoint[] {
    return this.registry.endpoints(hostname);
  }

  /** Fingerprint of a service's endpoint set; computed once per push. */
  endpointsFingerprint(hostname: string): string {
    let fp = this.endpointFps.get(hostname);
    if (fp === undefined) {
      fp = digest(JSON.stringify(this.registry.endpoints(hostname)));
      this.endpointFps.set(hostname, fp);
    }
    return fp;
  }

  /** Instances whose address is one of `addresses`: the workloads a sidecar sits beside. */
  instancesAt(addresses: readonly string[]): Endpoint[] {
    if (this.byAddress === undefined) {
      const map = new Map<string, Endpoint[]>();
      for (const svc of this.services) {
        for (const ep of this.registry.endpoints(svc.hostname)) {
          let list = map.get(ep.address);
          if (!list) map.set(ep.address, (list = []));
          list.push(ep);
        }
      }
      this.byAddress = map;
    }
    const out: Endpoint[] = [];
    for (const a of addresses) out.push(...(this.byAddress.get(a) ?? []));
    return out;
  }

  /** Memoized lookup: `key` must name every input `build` reads. */
  cached<T>(key: string, build: () => T): T {
    return this.memo.getOrBuild(key, build) as T;
  }
}

export const DEFAULT_RATE_LIMIT_SERVICE = { host: '127.0.0.1', port: 8081 } as const;

export function buildPushContext(
  config: ConfigSnapshot,
  services: ServiceIndexSnapshot,
  options: PushContextOptions = {},
): PushContext {
  const domainSuffix = options.domainSuffix ?? 'cluster.local';
  const index = new PushIndex(config, services, options.memoCapacity ?? 20_000, domainSuffix);
  return Object.freeze({
    version: `${config.revision}.${services.version}`,
    domainSuffix,
    rateLimitService: Object.freeze({ ...(options.rateLimitService ?? DEFAULT_RATE_LIMIT_SERVICE) }),
    rootNamespace: options.rootNamespace ?? 'istio-system',
    index,
  });
}

/** Istio's exportTo: absent or `*` = everyone, `.` = own namespace, `~` = nobody. */
export function exportedTo(
  exportTo: readonly string[] | undefined,
  ownNamespace: string,
  namespace: string,
): boolean {
  if (exportTo === undefined || exportTo.length === 0) return true;
  for (const e of exportTo) {
    if (e === '*') return true;
    if (e === '.' && ownNamespace === namespace) return true;
    if (e === namespace) return true;
  }
  return false;
}

export function labelsMatch(
  selector: Readonly<Record<string, string>> | undefined,
  labels: Readonly<Record<string, string>>,
): boolean {
  if (selector === undefined) return true;
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

export function resourceFp(r: Resource): string {
  return fingerprint(r);
}
