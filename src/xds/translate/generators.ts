/**
 * The per-type generators. Each has a `key` that spells out every input its output depends on
 * for one proxy (digests of the derived views, never raw proxy fields that do not matter) and
 * a `build` that reads only what that key describes. generate() memoizes on the key, and
 * affectedTypes() compares keys across push contexts.
 */
import type { Cluster, ClusterLoadAssignment } from '../../protocol/envoy-types.js';
import type { ProxyNode } from '../proxy-node.js';
import {
  annotationValue,
  parseRetryBudget,
  RETRY_BUDGET_ANNOTATION,
  type RetryBudgetSetting,
} from '../../api/trellis-annotations.js';
import {
  BLACKHOLE_CLUSTER,
  buildBlackHoleCluster,
  buildInboundCluster,
  buildOutboundCluster,
  buildPassthroughCluster,
  isHttpPort,
  PASSTHROUGH_CLUSTER,
  usesDns,
} from './cluster.js';
import { buildLoadAssignment, localityMatters } from './endpoints.js';
import { buildFallbackCluster, fallbackKey, fallbackTargets } from './fallback.js';
import { PASSTHROUGH_DNS_CLUSTER, passthroughDnsCluster } from './passthrough.js';
import { digest, fingerprint, freezeDeep } from './memo.js';
import { outboundCluster, parseClusterName } from './names.js';
import { resourceFp, type PushContext } from './push-context.js';
import { proxyRateLimits } from './ratelimit.js';
import { rateLimitServiceCluster } from './ratelimit-envoy.js';
import { upstreamMtlsFacts, upstreamMtlsKey } from './security/cluster-mtls.js';
import {
  endpointsKey,
  findSubset,
  inboundPorts,
  localitySensitive,
  policyFor,
  proxyView,
  ruleSpec,
  type InboundPort,
  type ProxyView,
} from './proxy-view.js';

export type Resources<T = object> = ReadonlyMap<string, T>;

export interface TypeGenerator<T extends object = object> {
  /** `view`: the proxy's view in `push`, when the caller already has it. */
  key(push: PushContext, proxy: ProxyNode, view?: ProxyView): string;
  /** names: undefined = everything this proxy should have. */
  generate(push: PushContext, proxy: ProxyNode, names: readonly string[] | undefined): Resources<T>;
}

/**
 * Memoizes the full set under `key`. A request naming every resource of the set gets the full
 * set itself (the same object each time, which the server's encoding cache keys on); a true
 * subset is memoized under a digest of its names.
 */
export function memoized<T extends object>(
  push: PushContext,
  key: string,
  names: readonly string[] | undefined,
  build: () => Map<string, T>,
): Resources<T> {
  const all = push.index.cached(key, () => freezeDeep(build()) as Resources<T>);
  if (names === undefined || names.length === 0) return all;
  return subsetOf(push, key, all, names);
}

/** Names of a request, sorted, as one short key part. */
export function namesDigest(sorted: readonly string[]): string {
  return digest(JSON.stringify(sorted));
}

/** Position of each name in a generated set, for checking requests against it without a Set. */
const positions = new WeakMap<Resources, Map<string, number>>();

/**
 * How a request relates to a generated set: whether it names every resource of it (the common
 * case: Envoy asks for every EDS cluster it was given), and the names the set lacks.
 */
export function coverage(all: Resources, names: readonly string[]): { every: boolean; missing: string[] } {
  let index = positions.get(all);
  if (index === undefined) {
    index = new Map();
    for (const name of all.keys()) index.set(name, index.size);
    positions.set(all, index);
  }
  const seen = new Uint8Array(all.size);
  let covered = 0;
  const missing: string[] = [];
  for (const n of names) {
    const i = index.get(n);
    if (i === undefined) missing.push(n);
    else if (seen[i] === 0) {
      seen[i] = 1;
      covered++;
    }
  }
  return { every: covered === all.size, missing };
}

/** The resources of `all` named in `names`: `all` itself when that is every one of them. */
export function subsetOf<T extends object>(
  push: PushContext,
  key: string,
  all: Resources<T>,
  names: readonly string[],
): Resources<T> {
  if (coverage(all, names).every) return all;
  const sorted = [...new Set(names)].sort();
  return push.index.cached(`${key}|names:${namesDigest(sorted)}`, () => {
    const out = new Map<string, T>();
    for (const n of sorted) {
      const r = all.get(n);
      if (r !== undefined) out.set(n, r);
    }
    return out;
  });
}

// ------------------------------------------------------------------------------------------
// CDS
// ------------------------------------------------------------------------------------------

/** The DestinationRule's `trellis.io/retry-budget` (read by buildOutboundCluster). */
function retryBudgetOf(annotations: Readonly<Record<string, string>> | undefined): {
  retryBudget?: RetryBudgetSetting | 'off';
} {
  const budget = annotationValue(annotations, RETRY_BUDGET_ANNOTATION, parseRetryBudget);
  return budget === undefined ? {} : { retryBudget: budget };
}

function outboundClusters(push: PushContext, view: ProxyView): Map<string, Cluster> {
  const out = new Map<string, Cluster>();
  for (const service of view.scope.services) {
    const rule = ruleSpec(view, service.hostname);
    const dns = usesDns(service, view.flavor);
    for (const port of service.ports) {
      for (const subset of [undefined, ...(rule?.subsets ?? [])]) {
        const subsetName = subset?.name ?? '';
        const name = outboundCluster(service.hostname, port.number, subsetName);
        const policy = policyFor(view, service.hostname, port.number, subset);
        const dnsAssignment = dns
          ? buildLoadAssignment({
              clusterName: name,
              service,
              port,
              endpoints: push.index.endpoints(service.hostname),
              subset,
              locality: undefined,
            })
          : undefined;
        const c = buildOutboundCluster({
          service,
          port,
          subset: subsetName,
          policy,
          flavor: view.flavor,
          dnsAssignment,
          mtls: upstreamMtlsFacts(push, service),
          ...retryBudgetOf(view.rules.rules.get(service.hostname)?.metadata.annotations),
        });
        out.set(name, c);
      }
    }
  }
  // trellis.io/fallback-subset: aggregate clusters for the destinations that fall back.
  for (const t of fallbackTargets(push)) {
    const service = view.scope.servicesByHost.get(t.host);
    if (service === undefined) continue;
    for (const port of service.ports) {
      if (t.port !== undefined && port.number !== t.port) continue;
      const subsetCluster = out.get(outboundCluster(t.host, port.number, t.subset));
      const c = buildFallbackCluster(t.host, port.number, t.subset, t.fallback, subsetCluster, view.flavor);
      out.set(c.name as string, c);
    }
  }
  return out;
}

/** Which aggregate (fallback) clusters a proxy gets: the targets among the hosts it sees. */
function fallbackClustersKey(push: PushContext, view: ProxyView): string {
  return fallbackKey(fallbackTargets(push), (h) => view.scope.servicesByHost.has(h));
}

/** Endpoint sets that CDS embeds: those of DNS-resolved services (per scope, per push). */
function dnsEndpointsKey(push: PushContext, view: ProxyView): string {
  return push.index.perPush(`dnseps|${view.flavor}|${view.scope.key}`, () =>
    digest(
      view.scope.services
        .filter((s) => usesDns(s, view.flavor))
        .map((s) => push.index.endpointsFingerprint(s.hostname))
        .join(','),
    ),
  );
}

function cdsKey(
  push: PushContext,
  proxy: ProxyNode,
  view: ProxyView,
  inbound: ReturnType<typeof inboundPorts>,
): string {
  const rls = proxyRateLimits(push, proxy, view, inbound).serviceCluster ?? '';
  return `cds|${proxy.type}|${view.flavor}|${view.scope.key}|${view.rules.key}|${dnsEndpointsKey(push, view)}|${inboundClustersKey(inbound)}|rls:${rls}|mtls:${upstreamMtlsKey(push, view.scope)}|fb:${fallbackClustersKey(push, view)}`;
}

/**
 * What inbound clusters read of the inbound ports: not the address a listener binds, so every
 * instance of a workload (same ports, different IPs) shares one CDS result.
 */
function inboundClustersKey(inbound: readonly InboundPort[]): string {
  return inbound.map((p) => `${p.servicePort}>${p.targetPort}${p.http2 ? 'h2' : ''}`).join(',');
}

export const cds: TypeGenerator<Cluster> = {
  key(push, proxy, view = proxyView(push, proxy)) {
    return cdsKey(push, proxy, view, inboundPorts(push, proxy, view.scope));
  },
  generate(push, proxy, names) {
    const view = proxyView(push, proxy);
    const inbound = inboundPorts(push, proxy, view.scope);
    const key = cdsKey(push, proxy, view, inbound);
    return memoized(push, key, names, () => {
      // DNS clusters embed their endpoints, so their fingerprints are part of the key.
      // Auto mTLS reads the destinations' PeerAuthentication modes and identities.
      const outbound = push.index.cached(
        `cds-out|${view.flavor}|${view.scope.key}|${view.rules.key}|${dnsEndpointsKey(push, view)}|${upstreamMtlsKey(push, view.scope)}|fb:${fallbackClustersKey(push, view)}`,
        () => outboundClusters(push, view),
      );
      const all = new Map(outbound);
      for (const p of inbound) {
        const c = buildInboundCluster(p.servicePort, p.targetPort, p.http2);
        all.set(c.name as string, c);
      }
      // Proxies with global limits need the rate limit service; a visible service may be it.
      // Sidecars send what matches no listener to the address dialled (or drop it).
      if (proxy.type === 'sidecar') {
        all.set(PASSTHROUGH_CLUSTER, buildPassthroughCluster());
        all.set(BLACKHOLE_CLUSTER, buildBlackHoleCluster());
        // HTTP for hosts outside the registry (allow_any): the Host, resolved by DNS.
        all.set(PASSTHROUGH_DNS_CLUSTER, passthroughDnsCluster());
      }
      const rls = proxyRateLimits(push, proxy, view, inbound).serviceCluster;
      if (rls !== undefined && !all.has(rls)) {
        all.set(rls, rateLimitServiceCluster(push.rateLimitService.host, push.rateLimitService.port));
      }
      return all;
    });
  },
};

// ------------------------------------------------------------------------------------------
// EDS
// ------------------------------------------------------------------------------------------

function edsKey(push: PushContext, proxy: ProxyNode, view: ProxyView): string {
  const locality = localitySensitive(push, view) ? proxy.locality : '';
  // The flavor decides which clusters use EDS (proxyless gRPC resolves DNS services through it).
  return `eds|${view.flavor}|${view.scope.key}|${view.rules.key}|${endpointsKey(push, view.scope)}|${locality}`;
}

/** The assignment for one outbound cluster the proxy can see; undefined for unknown names. */
function loadAssignment(
  push: PushContext,
  proxy: ProxyNode,
  view: ProxyView,
  name: string,
): object | undefined {
  const parsed = parseClusterName(name);
  if (parsed === undefined || parsed.direction !== 'outbound') return undefined;
  const service = view.scope.servicesByHost.get(parsed.host);
  const port = service?.ports.find((p) => p.number === parsed.port);
  if (service === undefined || port === undefined) return undefined;
  // DNS clusters carry their (host name) endpoints inline in CDS.
  if (usesDns(service, view.flavor)) return undefined;
  const rule = ruleSpec(view, service.hostname);
  const subset = parsed.subset === '' ? undefined : findSubset(rule, parsed.subset);
  if (parsed.subset !== '' && subset === undefined) return undefined;
  const policy = policyFor(view, service.hostname, port.number, subset);
  const setting = policy.loadBalancer?.localityLbSetting;
  const matters = localityMatters(setting, policy.outlierDetection !== undefined);
  const fp = push.index.endpointsFingerprint(service.hostname);
  const ruleRes = view.rules.rules.get(service.hostname);
  const ruleFp = ruleRes === undefined ? '-' : resourceFp(ruleRes);
  const key = `cla|${name}|${fingerprint(service)}|${fp}|${ruleFp}|${matters ? proxy.locality : ''}`;
  return push.index.cached(key, () =>
    freezeDeep(
      buildLoadAssignment({
        clusterName: name,
        service,
        port,
        endpoints: push.index.endpoints(service.hostname),
        subset,
        locality: matters
          ? {
              proxyLocality: proxy.locality,
              setting,
              failover: policy.outlierDetection !== undefined && setting?.enabled !== false,
            }
          : undefined,
      }),
    ),
  );
}

export const eds: TypeGenerator<ClusterLoadAssignment> = {
  key(push, proxy, view = proxyView(push, proxy)) {
    return edsKey(push, proxy, view);
  },
  generate(push, proxy, names) {
    const view = proxyView(push, proxy);
    const key = edsKey(push, proxy, view);
    const all = push.index.cached(`${key}|names:*`, () => {
      const out = new Map<string, ClusterLoadAssignment>();
      for (const s of view.scope.services) {
        const rule = ruleSpec(view, s.hostname);
        for (const p of s.ports) {
          for (const name of [
            outboundCluster(s.hostname, p.number),
            ...(rule?.subsets ?? []).map((sub) => outboundCluster(s.hostname, p.number, sub.name)),
          ]) {
            const cla = loadAssignment(push, proxy, view, name);
            if (cla !== undefined) out.set(name, cla);
          }
        }
      }
      return out;
    });
    if (names === undefined || names.length === 0) return all;
    // Names outside the full set (none Envoy would ask for) still get what they resolve to.
    const { every, missing } = coverage(all, names);
    const resolvable = missing.some((n) => loadAssignment(push, proxy, view, n) !== undefined);
    if (every && !resolvable) return all;
    const sorted = [...new Set(names)].sort();
    return push.index.cached(`${key}|names:${namesDigest(sorted)}`, () => {
      const out = new Map<string, ClusterLoadAssignment>();
      for (const name of sorted) {
        const cla = all.get(name) ?? loadAssignment(push, proxy, view, name);
        if (cla !== undefined) out.set(name, cla);
      }
      return out;
    });
  },
};

/** Whether a service port number carries HTTP for any visible service (sidecar listeners). */
export function httpOnPort(view: ProxyView, port: number): boolean {
  return view.scope.services.some((s) => s.ports.some((p) => p.number === port && isHttpPort(p)));
}
