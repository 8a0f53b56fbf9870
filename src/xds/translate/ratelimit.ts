/**
 * Which compiled RateLimits apply to one proxy, and where:
 * - side: server -> the inbound HTTP ports of sidecars beside workloads that serve a limited
 *   host (instances registered at the proxy's IPs), optionally only `port`. The inbound
 *   listener cannot tell which of the workload's services a request named, so a limit applies
 *   to every request arriving on that port.
 * - side: client -> the outbound route configuration of the port, virtual host of the host,
 *   in every sidecar that can see the host and whose labels/namespace the limit's
 *   sourceLabels/sourceNamespace select.
 * Gateways and proxyless gRPC get nothing: gateways are not wired yet, and grpc-js-xds has no
 * rate limit filter (it would NACK the listener).
 *
 * The result's keys name every input the LDS/RDS/CDS output reads from it (limit fingerprints
 * by port and host, the rate limit service address), so adding a RateLimit moves the keys of
 * exactly the proxies it applies to.
 */
import { hostMatches } from '../../api/hosts.js';
import type { CompiledRateLimit } from '../../controllers/ratelimit/compile.js';
import type { ProxyNode } from '../proxy-node.js';
import { isHttpPort } from './cluster.js';
import { digest } from './memo.js';
import { outboundCluster } from './names.js';
import { labelsMatch, type PushContext } from './push-context.js';
import type { InboundPort, ProxyView } from './proxy-view.js';

export interface ProxyRateLimits {
  /** Digest of everything below; '' when no limit applies. */
  readonly key: string;
  /** Digest of `outbound` alone: the only part RDS reads. */
  readonly outboundKey: string;
  /** Inbound service port -> limits, in precedence order. */
  readonly inbound: ReadonlyMap<number, readonly CompiledRateLimit[]>;
  /** Outbound port -> host -> limits, in precedence order. */
  readonly outbound: ReadonlyMap<number, ReadonlyMap<string, readonly CompiledRateLimit[]>>;
  /** Cluster name of the rate limit service; set when some global limit applies. */
  readonly serviceCluster: string | undefined;
}

const NONE: ProxyRateLimits = Object.freeze({
  key: '',
  outboundKey: '',
  inbound: new Map(),
  outbound: new Map(),
  serviceCluster: undefined,
});

export interface ClientRateLimits {
  /** Outbound port -> host -> limits, in precedence order. */
  readonly limits: ReadonlyMap<number, ReadonlyMap<string, readonly CompiledRateLimit[]>>;
  /** Digest of `limits`; '' when empty. */
  readonly key: string;
}

const NO_CLIENT_LIMITS: ClientRateLimits = Object.freeze({ limits: new Map(), key: '' });

const coversHost = (limit: CompiledRateLimit, host: string) => limit.hosts.some((h) => hostMatches(h, host));
const coversPort = (limit: CompiledRateLimit, port: number) =>
  limit.port === undefined || limit.port === port;

function inboundLimits(
  push: PushContext,
  proxy: ProxyNode,
  inbound: readonly InboundPort[],
): Map<number, CompiledRateLimit[]> {
  const out = new Map<number, CompiledRateLimit[]>();
  const servers = push.index.rateLimits.filter((l) => l.side === 'server');
  if (servers.length === 0) return out;
  const services = [...new Set(push.index.instancesAt(proxy.ipAddresses).map((e) => e.hostname))]
    .map((h) => push.index.service(h))
    .filter((s) => s !== undefined);
  for (const p of inbound) {
    if (!p.http) continue;
    const here = services.filter((s) => s.ports.some((sp) => sp.number === p.servicePort));
    const limits = servers.filter(
      (l) => coversPort(l, p.servicePort) && here.some((s) => coversHost(l, s.hostname)),
    );
    if (limits.length > 0) out.set(p.servicePort, limits);
  }
  return out;
}

/** The client-side limits of a proxy: all that its outbound route configurations read. */
export function clientRateLimits(push: PushContext, proxy: ProxyNode, view: ProxyView): ClientRateLimits {
  if (push.index.rateLimits.length === 0 || proxy.type !== 'sidecar') return NO_CLIENT_LIMITS;
  const callers = push.index.rateLimits.filter(
    (l) =>
      l.side === 'client' &&
      labelsMatch(l.sourceLabels, proxy.labels) &&
      (l.sourceNamespace === undefined || l.sourceNamespace === proxy.namespace),
  );
  if (callers.length === 0) return NO_CLIENT_LIMITS;
  // Proxies with the same scope and the same selected limits share the result.
  const memoKey = `rl-out|${view.scope.key}|${callers.map((l) => l.fp).join(',')}`;
  return push.index.cached(memoKey, (): ClientRateLimits => {
    const limits = new Map<number, Map<string, CompiledRateLimit[]>>();
    const parts: string[] = [];
    for (const svc of view.scope.services) {
      for (const port of svc.ports) {
        if (!isHttpPort(port)) continue;
        const applying = callers.filter((l) => coversPort(l, port.number) && coversHost(l, svc.hostname));
        if (applying.length === 0) continue;
        let byHost = limits.get(port.number);
        if (byHost === undefined) limits.set(port.number, (byHost = new Map<string, CompiledRateLimit[]>()));
        byHost.set(svc.hostname, applying);
        parts.push(`${port.number}/${svc.hostname}=${applying.map((l) => l.fp).join('+')}`);
      }
    }
    return { limits, key: parts.length > 0 ? digest(parts.join(',')) : '' };
  });
}

export function proxyRateLimits(
  push: PushContext,
  proxy: ProxyNode,
  view: ProxyView,
  inbound: readonly InboundPort[],
): ProxyRateLimits {
  if (push.index.rateLimits.length === 0 || proxy.type !== 'sidecar') return NONE;
  const inLimits = inboundLimits(push, proxy, inbound);
  const out = clientRateLimits(push, proxy, view);
  if (inLimits.size === 0 && out.limits.size === 0) return NONE;
  const all = [
    ...[...inLimits.values()].flat(),
    ...[...out.limits.values()].flatMap((m) => [...m.values()].flat()),
  ];
  const rls = push.rateLimitService;
  const serviceCluster = all.some((l) => l.mode === 'global')
    ? outboundCluster(rls.host, rls.port)
    : undefined;
  const inKey = [...inLimits].map(([port, ls]) => `${port}=${ls.map((l) => l.fp).join('+')}`).join(',');
  return {
    key: digest(`in:${inKey}|out:${out.key}|rls:${serviceCluster ?? ''}`),
    outboundKey: out.key,
    inbound: inLimits,
    outbound: out.limits,
    serviceCluster,
  };
}

/** Every limit of an outbound port (for its listener's filters). */
export function outboundPortLimits(limits: ProxyRateLimits, port: number): CompiledRateLimit[] {
  return [...(limits.outbound.get(port)?.values() ?? [])].flat();
}
