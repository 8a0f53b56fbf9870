/**
 * Which VirtualServices decide the routes of which host, for sidecars (gateways: `mesh`) and
 * for gateways (VirtualServices bound to the selected Gateway resources).
 *
 * Several VirtualServices for one host are merged, oldest first (Istio merges them this way for
 * gateways; for sidecars Istio's result is the same when their matches do not overlap, and we
 * use the one rule for both). A host with an exact VirtualService host ignores wildcard ones;
 * otherwise the most specific wildcard wins.
 */
import { fqdn, hostMatches, hostsOverlap } from '../../api/hosts.js';
import type { Server } from '../../api/networking/types.js';
import type { ProxyNode } from '../proxy-node.js';
import { labelledMatches, mergeRoutes, type MergedRoute } from './http-routes.js';
import { digest } from './memo.js';
import {
  exportedTo,
  labelsMatch,
  resourceFp,
  type GatewayResource,
  type PushContext,
  type VirtualServiceResource,
} from './push-context.js';
import { gatewayRef } from './route-match.js';
import type { ProxyScope } from './scope.js';

export interface RouteView {
  /** Digest of every merged route below (their ids name the resources they came from). */
  readonly key: string;
  readonly byHost: ReadonlyMap<string, readonly MergedRoute[]>;
  readonly labelled: readonly { id: string; labels: Record<string, string> }[];
}

function vsHosts(push: PushContext, vs: VirtualServiceResource): string[] {
  return (vs.spec.hosts ?? []).map((h) => fqdn(h, vs.metadata.namespace, push.domainSuffix));
}

/** The VirtualServices deciding `host`, given candidates with their resolved hosts. */
export function decidingServices(
  host: string,
  candidates: readonly { vs: VirtualServiceResource; hosts: readonly string[] }[],
): VirtualServiceResource[] {
  const exact = candidates.filter((c) => c.hosts.includes(host)).map((c) => c.vs);
  if (exact.length > 0) return exact;
  let best = -1;
  let out: VirtualServiceResource[] = [];
  for (const c of candidates) {
    const pattern = c.hosts
      .filter((h) => h.startsWith('*') && hostMatches(h, host))
      .sort((a, b) => b.length - a.length)[0];
    if (pattern === undefined) continue;
    if (pattern.length > best) {
      best = pattern.length;
      out = [c.vs];
    } else if (pattern.length === best) {
      out.push(c.vs);
    }
  }
  return out;
}

function view(byHost: Map<string, readonly MergedRoute[]>): RouteView {
  const all = [...byHost.values()].flat();
  return Object.freeze({
    key: digest(JSON.stringify([...byHost])),
    byHost,
    labelled: labelledMatches(all),
  });
}

/** Routes of every visible service host for sidecars and proxyless gRPC. */
export function meshRouteView(push: PushContext, scope: ProxyScope): RouteView {
  return push.index.cached(`meshroutes|${scope.key}`, () => {
    const candidates = push.index.virtualServices
      .filter(
        (vs) =>
          exportedTo(vs.spec.exportTo, vs.metadata.namespace, scope.namespace) &&
          ((vs.spec.gateways ?? []).length === 0 || (vs.spec.gateways ?? []).includes('mesh')),
      )
      .map((vs) => ({ vs, hosts: vsHosts(push, vs) }));
    const byHost = new Map<string, readonly MergedRoute[]>();
    for (const svc of scope.services) {
      const deciding = decidingServices(svc.hostname, candidates);
      if (deciding.length > 0) byHost.set(svc.hostname, mergeRoutes(deciding, push.index.delegates));
    }
    return view(byHost);
  });
}

export const DEFAULT_GATEWAY_SELECTOR: Readonly<Record<string, string>> = { istio: 'ingressgateway' };

/** Gateways whose selector matches the proxy (any namespace, oldest first). */
export function selectGateways(push: PushContext, proxy: ProxyNode): GatewayResource[] {
  return push.index.gateways.filter((g) =>
    labelsMatch(g.spec.selector ?? DEFAULT_GATEWAY_SELECTOR, proxy.labels),
  );
}

export interface GatewayServer {
  gateway: GatewayResource;
  /** `namespace/name`, as VirtualServices refer to it. */
  ref: string;
  server: Server;
}

export function gatewayServers(gateways: readonly GatewayResource[]): GatewayServer[] {
  return gateways.flatMap((g) =>
    g.spec.servers.map((server) => ({
      gateway: g,
      ref: `${g.metadata.namespace}/${g.metadata.name}`,
      server,
    })),
  );
}

/** A server host `ns/host` admits a VirtualService host from `vsNamespace` when both agree. */
export function serverHostAdmits(
  entry: string,
  gatewayNamespace: string,
  vsNamespace: string,
  host: string,
): string | undefined {
  const slash = entry.indexOf('/');
  const ns = slash >= 0 ? entry.slice(0, slash) : '*';
  const pattern = slash >= 0 ? entry.slice(slash + 1) : entry;
  if (ns !== '*' && (ns === '.' ? gatewayNamespace : ns) !== vsNamespace) return undefined;
  if (!hostsOverlap(pattern, host)) return undefined;
  // The narrower of the two names the virtual host.
  return hostMatches(pattern, host) ? host : pattern;
}

/** Routes per virtual host for the HTTP servers of one gateway port. */
export function gatewayRouteView(
  push: PushContext,
  servers: readonly GatewayServer[],
  port: number,
): RouteView {
  const key = `gwroutes|${port}|${[...new Set(servers.map((s) => resourceFp(s.gateway)))].join(',')}`;
  return push.index.cached(key, () => {
    const onPort = servers.filter((s) => s.server.port.number === port);
    const hostVs = new Map<string, VirtualServiceResource[]>();
    for (const vs of push.index.virtualServices) {
      const refs = (vs.spec.gateways ?? []).map((g) => gatewayRef(g, vs.metadata.namespace));
      const bound = onPort.filter((s) => refs.includes(s.ref));
      if (bound.length === 0) continue;
      for (const host of vsHosts(push, vs)) {
        for (const s of bound) {
          for (const entry of s.server.hosts) {
            const vhost = serverHostAdmits(entry, s.gateway.metadata.namespace, vs.metadata.namespace, host);
            if (vhost === undefined) continue;
            const list = hostVs.get(vhost) ?? [];
            if (!list.includes(vs)) list.push(vs);
            hostVs.set(vhost, list);
          }
        }
      }
    }
    const byHost = new Map<string, readonly MergedRoute[]>();
    for (const host of [...hostVs.keys()].sort()) {
      byHost.set(host, mergeRoutes(hostVs.get(host) ?? [], push.index.delegates));
    }
    return view(byHost);
  });
}

/** Ids of sourceLabels matches that do not select this proxy: the only label input of RDS. */
export function excludedMatches(view: RouteView, labels: Readonly<Record<string, string>>): string[] {
  return view.labelled.filter((m) => !labelsMatch(m.labels, labels)).map((m) => m.id);
}
