/**
 * Which VirtualServices decide the routes of which host, for sidecars (gateways: `mesh`) and
 * for gateways (VirtualServices bound to the selected Gateway resources).
 *
 * Several VirtualServices for one host are merged, oldest first (Istio merges them this way for
 * gateways; for sidecars Istio's result is the same when their matches do not overlap, and we
 * use the one rule for both). A host with an exact VirtualService host ignores wildcard ones;
 * otherwise the most specific wildcard wins.
 */
import { hostMatches, hostsOverlap } from '../../api/hosts.js';
import { SAME_NAMESPACE_ANNOTATION } from '../../controllers/gateway-api/gateways.js';
import type { Server } from '../../api/networking/types.js';
import type { ProxyNode } from '../proxy-node.js';
import { labelledMatches, mergeRoutes, type MergedRoute } from './http-routes.js';
import { digest } from './memo.js';
import {
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

interface HostRoutes {
  readonly routes: readonly MergedRoute[];
  /** Digest of `routes` (their ids name the resources they came from). */
  readonly digest: string;
}

/** Merged routes of one host: they depend on its VirtualServices, not on the host, so hosts share them. */
function hostRoutes(push: PushContext, deciding: readonly VirtualServiceResource[]): HostRoutes {
  // Reads the deciding VirtualServices and the delegates they name (every delegate's fingerprint).
  const vsIndex = push.index.virtualServices;
  const key = `hostroutes|${deciding.map(resourceFp).join(',')}|${vsIndex.delegatesFingerprint}`;
  return push.index.cached(key, () => {
    const routes = mergeRoutes(deciding, push.index.virtualServices.delegates);
    return Object.freeze({ routes, digest: digest(JSON.stringify(routes)) });
  });
}

function view(byHost: Map<string, HostRoutes>): RouteView {
  const routes = new Map<string, readonly MergedRoute[]>();
  const parts: string[] = [];
  for (const [host, r] of byHost) {
    routes.set(host, r.routes);
    parts.push(`${host}=${r.digest}`);
  }
  return Object.freeze({
    key: digest(parts.join(',')),
    byHost: routes,
    labelled: labelledMatches([...routes.values()].flat()),
  });
}

/**
 * Routes of every visible service host for sidecars and proxyless gRPC. Finding the deciding
 * VirtualServices of each host is done once per scope and push; the view itself is keyed by
 * what was found, so a change to one host's VirtualService rebuilds only the views showing it.
 */
export function meshRouteView(push: PushContext, scope: ProxyScope): RouteView {
  const vsIndex = push.index.virtualServices;
  return push.index.perPush(`meshroutes|${scope.key}`, () => {
    const deciding = new Map<string, VirtualServiceResource[]>();
    const parts: string[] = [];
    for (const svc of scope.services) {
      const list = vsIndex.deciding(svc.hostname, scope.namespace);
      if (list.length === 0) continue;
      deciding.set(svc.hostname, list);
      parts.push(`${svc.hostname}=${list.map(resourceFp).join('+')}`);
    }
    const key = `meshroutes|${digest(parts.join(','))}|${vsIndex.delegatesFingerprint}`;
    return push.index.cached(key, () => {
      const byHost = new Map<string, HostRoutes>();
      for (const [host, list] of deciding) byHost.set(host, hostRoutes(push, list));
      return view(byHost);
    });
  });
}

export const DEFAULT_GATEWAY_SELECTOR: Readonly<Record<string, string>> = { istio: 'ingressgateway' };

/**
 * Gateways whose selector matches the proxy, oldest first: in any namespace (Istio's rule for
 * Istio Gateways), except those derived from Gateway API Gateways, which only proxies in their
 * own namespace serve.
 */
export function selectGateways(push: PushContext, proxy: ProxyNode): GatewayResource[] {
  return push.index.gateways.filter(
    (g) =>
      labelsMatch(g.spec.selector ?? DEFAULT_GATEWAY_SELECTOR, proxy.labels) &&
      (g.metadata.annotations?.[SAME_NAMESPACE_ANNOTATION] === undefined ||
        g.metadata.namespace === proxy.namespace),
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
  const vsIndex = push.index.virtualServices;
  const gatewayFps = [...new Set(servers.map((s) => resourceFp(s.gateway)))].join(',');
  const key = `gwroutes|${port}|${gatewayFps}|${vsIndex.fingerprint}`;
  return push.index.cached(key, () => {
    const onPort = servers.filter((s) => s.server.port.number === port);
    const hostVs = new Map<string, VirtualServiceResource[]>();
    for (const { vs, hosts } of vsIndex.boundTo(onPort.map((s) => s.ref))) {
      const refs = (vs.spec.gateways ?? []).map((g) => gatewayRef(g, vs.metadata.namespace));
      const bound = onPort.filter((s) => refs.includes(s.ref));
      for (const host of hosts) {
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
    const byHost = new Map<string, HostRoutes>();
    for (const host of [...hostVs.keys()].sort()) {
      byHost.set(host, hostRoutes(push, hostVs.get(host) ?? []));
    }
    return view(byHost);
  });
}

/** Ids of sourceLabels matches that do not select this proxy: the only label input of RDS. */
export function excludedMatches(view: RouteView, labels: Readonly<Record<string, string>>): string[] {
  return view.labelled.filter((m) => !labelsMatch(m.labels, labels)).map((m) => m.id);
}
