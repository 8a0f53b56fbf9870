/**
 * RDS and LDS generators (see generators.ts for the key/build contract).
 */
import type { Listener, RouteConfiguration, VirtualHost } from '../../protocol/envoy-types.js';
import { fqdn, hostsOverlap, portProtocol } from '../../api/hosts.js';
import type { CompiledRateLimit } from '../../controllers/ratelimit/compile.js';
import type { Server } from '../../api/networking/types.js';
import type { Service } from '../../registry/types.js';
import type { ProxyNode } from '../proxy-node.js';
import { BLACKHOLE_CLUSTER, isHttpPort, PASSTHROUGH_CLUSTER } from './cluster.js';
import { isL4Server, l4FilterChains } from './gateway-passthrough.js';
import { laneFilters, lanePlan, withLaneHeaders, type LanePlan } from './lanes.js';
import { keepCallerHost, routesByDestination } from './keep-host.js';
import { catchAllVirtualHost, dynamicForwardProxyFilter, outboundPolicy } from './passthrough.js';
import { memoized, namesDigest, type TypeGenerator } from './generators.js';
import {
  grpcApiListener,
  gatewayListener,
  inboundListener,
  outboundHttpListener,
  outboundSniListener,
  outboundTcpListener,
  terminatesTls,
  virtualOutboundListener,
} from './listener.js';
import {
  outboundCluster,
  parseClusterName,
  sidecarRouteName,
  splitHostPort,
  virtualHostName,
} from './names.js';
import { resourceFp, type PushContext } from './push-context.js';
import type { PathNormalizationMode } from '../../api/mesh-config.js';
import { inboundKey, inboundPorts, policyFor, proxyView, type ProxyView } from './proxy-view.js';
import { clientRateLimits, outboundPortLimits, proxyRateLimits, type ProxyRateLimits } from './ratelimit.js';
import { applyRateLimits, rateLimitFilters } from './ratelimit-envoy.js';
import { securedInboundListener } from './security/mtls-inbound.js';
import {
  modeForPort,
  proxyPeerAuthentication,
  type MergedPeerAuthentication,
} from './security/peer-authn.js';
import { buildGatewayRouteConfig, buildSidecarRouteConfig } from './route-config.js';
import type { RouteSite } from './route-action.js';
import { proxySecurity, type ProxySecurity } from './security/authorization-proxy.js';
import { isServerListenerName } from './proxyless/server-names.js';
import { serverListeners, serverListenersKey } from './proxyless/server-listeners.js';
import {
  excludedMatches,
  gatewayRouteView,
  gatewayServers,
  meshRouteView,
  selectGateways,
  type GatewayServer,
} from './virtual-services.js';

function site(
  push: PushContext,
  view: ProxyView,
  port: number,
  gateways: readonly string[],
  excluded: readonly string[],
): RouteSite {
  return {
    port,
    gateways,
    proxyNamespace: view.scope.namespace,
    excluded: new Set(excluded),
    flavor: view.flavor,
    domainSuffix: push.domainSuffix,
    servicePorts: (host) => view.scope.servicesByHost.get(host)?.ports,
    consistentHash: (host, p) => policyFor(view, host, p).loadBalancer?.consistentHash,
  };
}

/** Services routed on `port`: HTTP ports for Envoy; every port for gRPC (always HTTP/2). */
function servicesOnPort(view: ProxyView, port: number): Service[] {
  return view.scope.services.filter((s) =>
    s.ports.some((p) => p.number === port && (view.flavor === 'grpc' || isHttpPort(p))),
  );
}

function httpPorts(view: ProxyView): number[] {
  const ports = new Set<number>();
  for (const s of view.scope.services) {
    for (const p of s.ports) if (view.flavor === 'grpc' || isHttpPort(p)) ports.add(p.number);
  }
  return [...ports].sort((a, b) => a - b);
}

const HTTP_SERVER_PROTOCOLS = new Set(['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB']);

function isHttpServer(server: Server): boolean {
  const protocol = portProtocol(server.port.name, server.port.protocol);
  if (HTTP_SERVER_PROTOCOLS.has(protocol)) return true;
  // HTTPS servers that terminate TLS carry HTTP inside.
  return protocol === 'HTTPS' && terminatesTls(server);
}

function gatewayFacts(
  push: PushContext,
  proxy: ProxyNode,
): { servers: GatewayServer[]; ports: number[]; key: string; l4: GatewayServer[]; l4Ports: number[] } {
  const gateways = selectGateways(push, proxy);
  const all = gatewayServers(gateways);
  const servers = all.filter((s) => isHttpServer(s.server));
  const ports = [...new Set(servers.map((s) => s.server.port.number))].sort((a, b) => a - b);
  // TLS passthrough and TCP servers: forwarded by tls:/tcp: routes (gateway-passthrough.ts).
  const l4 = all.filter((s) => isL4Server(s.server));
  const l4Ports = [...new Set(l4.map((s) => s.server.port.number))].sort((a, b) => a - b);
  return { servers, ports, key: gateways.map(resourceFp).join(','), l4, l4Ports };
}

// ------------------------------------------------------------------------------------------
// RDS
// ------------------------------------------------------------------------------------------

function meshRdsKey(
  push: PushContext,
  proxy: ProxyNode,
  view: ProxyView,
): { key: string; excluded: string[] } {
  const routes = meshRouteView(push, view.scope);
  const excluded = excludedMatches(routes, proxy.labels);
  const limits = clientRateLimits(push, proxy, view);
  return {
    key: `rds|${view.flavor}|${view.scope.key}|${view.rules.key}|${routes.key}|${excluded.join(',')}|rl:${limits.key}|lanes:${lanePlan(push, proxy).key}`,
    excluded,
  };
}

function gatewayRdsKey(push: PushContext, proxy: ProxyNode, view: ProxyView) {
  const facts = gatewayFacts(push, proxy);
  const views = facts.ports.map((port) => ({ port, routes: gatewayRouteView(push, facts.servers, port) }));
  const excluded = views.flatMap((v) => excludedMatches(v.routes, proxy.labels));
  const key = `rds|router|${view.scope.key}|${view.rules.key}|${facts.key}|${views.map((v) => v.routes.key).join(',')}|${excluded.join(',')}|lanes:${lanePlan(push, proxy).key}`;
  return { key, excluded, views, facts };
}

export const rds: TypeGenerator<RouteConfiguration> = {
  key(push, proxy, view = proxyView(push, proxy)) {
    return proxy.type === 'router' ? gatewayRdsKey(push, proxy, view).key : meshRdsKey(push, proxy, view).key;
  },
  generate(push, proxy, names) {
    const view = proxyView(push, proxy);
    if (proxy.type === 'router') {
      const { key, excluded, views, facts } = gatewayRdsKey(push, proxy, view);
      const lanes = lanePlan(push, proxy);
      return memoized(push, key, names, () => {
        const out = new Map<string, RouteConfiguration>();
        for (const { port, routes } of views) {
          const onPort = facts.servers.filter((s) => s.server.port.number === port);
          const redirect = onPort.filter((s) => s.server.tls?.httpsRedirect === true && !isTls(s.server));
          const redirectHosts = new Set(
            [...routes.byHost.keys()].filter((h) =>
              redirect.some((s) => s.server.hosts.some((e) => hostsOverlap(e.slice(e.indexOf('/') + 1), h))),
            ),
          );
          const built = buildGatewayRouteConfig({
            port,
            routesByHost: routes.byHost,
            redirectHosts,
            site: site(
              push,
              view,
              port,
              onPort.map((s) => s.ref),
              excluded,
            ),
          });
          const rc = withLaneHeaders(built, lanes, true);
          out.set(rc.name as string, rc);
        }
        return out;
      });
    }
    const { key, excluded } = meshRdsKey(push, proxy, view);
    const routes = meshRouteView(push, view.scope);
    const limits = clientRateLimits(push, proxy, view).limits;
    // Sidecars end each route configuration with Istio's allow_any or block_all; proxyless
    // gRPC clients have no such fallback (they ask for one service's routes).
    const catchAll =
      view.flavor === 'grpc' ? undefined : catchAllVirtualHost(outboundPolicy(push, view.scope));
    // The Trellis extension: routed by the address a request was sent to, keeping its Host.
    const keep = view.flavor !== 'grpc' && routesByDestination(view.scope);
    const lanes = lanePlan(push, proxy);
    const build = (port: number, name: string): RouteConfiguration =>
      withLaneHeaders(
        (keep ? keepCallerHost : (rc: RouteConfiguration) => rc)(
          withClientRateLimits(
            buildSidecarRouteConfig({
              port,
              name,
              services: servicesOnPort(view, port),
              routesByHost: routes.byHost,
              site: site(push, view, port, ['mesh'], excluded),
              ...(catchAll ? { catchAll } : {}),
            }),
            port,
            limits.get(port),
          ),
        ),
        lanes,
        false,
      );
    if (view.flavor === 'grpc') {
      // Proxyless gRPC names route configurations like clusters: `outbound|PORT||HOST`.
      const requested = names !== undefined && names.length > 0 ? [...new Set(names)].sort() : undefined;
      return memoized(
        push,
        `${key}|grpc:${requested === undefined ? '*' : namesDigest(requested)}`,
        undefined,
        () => {
          const out = new Map<string, RouteConfiguration>();
          const wanted =
            requested ??
            view.scope.services.flatMap((s) => s.ports.map((p) => outboundCluster(s.hostname, p.number)));
          for (const name of wanted) {
            const parsed = parseClusterName(name);
            if (parsed === undefined || !view.scope.servicesByHost.has(parsed.host)) continue;
            out.set(name, build(parsed.port, name));
          }
          return out;
        },
      );
    }
    return memoized(
      push,
      key,
      names,
      () => new Map(httpPorts(view).map((p) => [sidecarRouteName(p), build(p, sidecarRouteName(p))])),
    );
  },
};

/** Applies the client-side rate limits of `port` to the virtual hosts of their hosts. */
function withClientRateLimits(
  rc: RouteConfiguration,
  port: number,
  byHost: ReadonlyMap<string, readonly CompiledRateLimit[]> | undefined,
): RouteConfiguration {
  if (byHost === undefined) return rc;
  const byName = new Map([...byHost].map(([host, limits]) => [virtualHostName(host, port), limits]));
  const vhs = (rc.virtual_hosts ?? []).map((vh) => {
    const limits = byName.get(vh.name ?? '');
    return limits === undefined ? vh : applyRateLimits(vh, limits);
  });
  return { ...rc, virtual_hosts: vhs };
}

const isTls = terminatesTls;

// ------------------------------------------------------------------------------------------
// LDS
// ------------------------------------------------------------------------------------------

function sidecarListeners(
  push: PushContext,
  view: ProxyView,
  inbound: ReturnType<typeof inboundPorts>,
  limits: ProxyRateLimits,
  paths: PathNormalizationMode,
  security: ProxySecurity,
  peerAuthn: MergedPeerAuthentication,
  lanes: LanePlan,
): Map<string, Listener> {
  const out = new Map<string, Listener>();
  const http = new Set(httpPorts(view));
  const rls = limits.serviceCluster ?? '';
  const blocked = registryOnly(push, view);
  for (const port of http) {
    // ALLOW_ANY: allow_any's cluster resolves the Host through the dynamic forward proxy filter.
    // The lane filter acts before the route is chosen wherever it sits in the chain.
    const extra = [
      ...laneFilters(lanes, 'OUTBOUND'),
      ...rateLimitFilters(outboundPortLimits(limits, port), rls),
    ];
    const l = outboundHttpListener(
      port,
      sidecarRouteName(port),
      blocked ? extra : [...extra, dynamicForwardProxyFilter()],
      paths,
    );
    out.set(l.name as string, l);
  }
  // TLS ports without a VIP share 0.0.0.0:PORT, told apart by SNI (Istio), by port number.
  const sniByPort = new Map<number, { host: string; cluster: string }[]>();
  for (const svc of view.scope.services) {
    for (const p of svc.ports) {
      if (isHttpPort(p)) continue;
      const vip = svc.addresses.find((a) => !a.includes('/') && !a.includes(':') && a !== '0.0.0.0');
      // Without a VIP a TCP service needs 0.0.0.0:PORT, which HTTP or an earlier service may own.
      const address = vip ?? '0.0.0.0';
      if (address === '0.0.0.0' && http.has(p.number)) continue;
      const cluster = outboundCluster(svc.hostname, p.number);
      if (address === '0.0.0.0' && (p.protocol === 'TLS' || p.protocol === 'HTTPS')) {
        const list = sniByPort.get(p.number) ?? [];
        list.push({ host: svc.hostname, cluster });
        sniByPort.set(p.number, list);
        continue;
      }
      const l = outboundTcpListener(address, p.number, cluster);
      if (!out.has(l.name as string)) out.set(l.name as string, l);
    }
  }
  const fallback = blocked ? BLACKHOLE_CLUSTER : PASSTHROUGH_CLUSTER;
  for (const [port, services] of sniByPort) {
    const l = outboundSniListener(port, services, fallback);
    // A plain TCP service without a VIP on the same port came first and keeps it (as before).
    if (!out.has(l.name as string)) out.set(l.name as string, l);
  }
  for (const p of inbound) {
    const ls = limits.inbound.get(p.servicePort);
    // Rate limits and security filters, when any apply (undefined leaves the listener as before).
    const sec = security.key === '' ? {} : { security };
    const inboundLanes = p.http ? laneFilters(lanes, 'INBOUND') : [];
    const extras =
      ls !== undefined
        ? {
            filters: [...inboundLanes, ...rateLimitFilters(ls, rls)],
            virtualHost: (vh: VirtualHost) => applyRateLimits(vh, ls),
            ...sec,
          }
        : security.key !== '' || inboundLanes.length > 0
          ? { filters: inboundLanes, virtualHost: (vh: VirtualHost) => vh, ...sec }
          : undefined;
    const plain = inboundListener(p.listenAddress, p.listenPort, p.servicePort, p.http, extras, paths);
    // PeerAuthentication ports are the workload's own (target) ports: what the listener binds.
    const l = securedInboundListener(plain, modeForPort(peerAuthn, p.listenPort), p.http);
    out.set(l.name as string, l);
  }
  // HTTP on ports no listener serves (HTTP_PROXY clients): the catch-all alone.
  const catchAll = catchAllVirtualHost(outboundPolicy(push, view.scope));
  const l = virtualOutboundListener(blocked ? BLACKHOLE_CLUSTER : PASSTHROUGH_CLUSTER, {
    catchAll: routesByDestination(view.scope)
      ? (keepCallerHost({ virtual_hosts: [catchAll] }).virtual_hosts?.[0] ?? catchAll)
      : catchAll,
    filters: [...laneFilters(lanes, 'OUTBOUND'), ...(blocked ? [] : [dynamicForwardProxyFilter()])],
    paths,
  });
  out.set(l.name as string, l);
  return out;
}

/** outboundTrafficPolicy (the Sidecar's, else the mesh's): REGISTRY_ONLY drops unknown hosts. */
export function registryOnly(push: PushContext, view: ProxyView): boolean {
  return outboundPolicy(push, view.scope) === 'REGISTRY_ONLY';
}

/**
 * Resolves a proxyless listener host as Istio does: an exact visible hostname, else a short
 * name (`echo` -> `echo.NS.svc.SUFFIX`), `echo.ns` or `echo.ns.svc` completed with the suffix.
 */
export function resolveGrpcHost(push: PushContext, view: ProxyView, host: string): Service | undefined {
  const direct = view.scope.servicesByHost.get(host);
  if (direct !== undefined) return direct;
  const candidates = [
    fqdn(host, view.scope.namespace, push.domainSuffix),
    `${host}.svc.${push.domainSuffix}`,
    `${host}.${push.domainSuffix}`,
  ];
  for (const c of candidates) {
    const s = view.scope.servicesByHost.get(c);
    if (s !== undefined) return s;
  }
  return undefined;
}

function grpcListeners(
  push: PushContext,
  proxy: ProxyNode,
  view: ProxyView,
  names: readonly string[] | undefined,
): Map<string, Listener> {
  // xDS-enabled servers (gRFC A36) ask for `xds.istio.io/grpc/lds/inbound/IP:PORT`.
  const out = serverListeners(push, proxy, names);
  const requests =
    names !== undefined && names.length > 0
      ? names
      : view.scope.services.flatMap((s) => s.ports.map((p) => `${s.hostname}:${p.number}`));
  for (const name of requests) {
    if (isServerListenerName(name)) continue;
    const hp = splitHostPort(name);
    if (hp === undefined) continue;
    const svc = resolveGrpcHost(push, view, hp.host);
    if (svc === undefined || !svc.ports.some((p) => p.number === hp.port)) continue;
    const vip = svc.addresses.find((a) => !a.includes('/')) ?? '0.0.0.0';
    out.set(name, grpcApiListener(name, vip, hp.port, outboundCluster(svc.hostname, hp.port)));
  }
  return out;
}

function ldsKey(push: PushContext, proxy: ProxyNode, view: ProxyView): string {
  const sec = proxySecurity(push, proxy).key;
  if (proxy.type === 'router') {
    const facts = gatewayFacts(push, proxy);
    // L4 chains read the bound VirtualServices' tls:/tcp: routes and the services' ports.
    const l4 =
      facts.l4.length === 0
        ? ''
        : `|l4:${push.index.virtualServices.fingerprint}|${push.index.catalog.fingerprint}`;
    return `lds|router|${facts.key}|sec:${sec}${l4}|lanes:${lanePlan(push, proxy).key}`;
  }
  const inbound = inboundPorts(push, proxy, view.scope);
  const limits = proxyRateLimits(push, proxy, view, inbound);
  // Inbound mTLS: the PeerAuthentications that apply (by name) and the modes they compose to;
  // proxyless servers: each served port's mode and authorization filters.
  const mtls =
    proxy.type === 'grpc'
      ? `srv:${serverListenersKey(push, proxy)}`
      : proxyPeerAuthentication(push, proxy).key;
  return `lds|${proxy.type}|${view.scope.key}|${inboundKey(inbound)}|rl:${limits.key}|sec:${sec}|pa:${mtls}|lanes:${lanePlan(push, proxy).key}`;
}

export const lds: TypeGenerator<Listener> = {
  key(push, proxy, view = proxyView(push, proxy)) {
    return ldsKey(push, proxy, view);
  },
  generate(push, proxy, names) {
    const view = proxyView(push, proxy);
    const key = ldsKey(push, proxy, view);
    if (proxy.type === 'grpc') {
      const wanted = names !== undefined && names.length > 0 ? [...new Set(names)].sort() : undefined;
      return memoized(
        push,
        `${key}|grpc:${wanted === undefined ? '*' : namesDigest(wanted)}`,
        undefined,
        () => grpcListeners(push, proxy, view, wanted),
      );
    }
    if (proxy.type === 'router') {
      const facts = gatewayFacts(push, proxy);
      return memoized(push, key, names, () => {
        const out = new Map<string, Listener>();
        for (const port of facts.ports) {
          const l = gatewayListener(
            port,
            facts.servers.filter((s) => s.server.port.number === port).map((s) => s.server),
            push.pathNormalization,
            [...laneFilters(lanePlan(push, proxy), 'GATEWAY'), ...proxySecurity(push, proxy).http],
            l4FilterChains(push, facts.l4, port),
          );
          out.set(l.name as string, l);
        }
        for (const port of facts.l4Ports) {
          if (facts.ports.includes(port)) continue;
          const chains = l4FilterChains(push, facts.l4, port);
          // No route for the port's servers: no listener (Istio), so nothing is accepted there.
          if (chains.length === 0) continue;
          const l = gatewayListener(port, [], push.pathNormalization, [], chains);
          out.set(l.name as string, l);
        }
        return out;
      });
    }
    const inbound = inboundPorts(push, proxy, view.scope);
    const limits = proxyRateLimits(push, proxy, view, inbound);
    const peerAuthn = proxyPeerAuthentication(push, proxy).merged;
    return memoized(push, key, names, () =>
      sidecarListeners(
        push,
        view,
        inbound,
        limits,
        push.pathNormalization,
        proxySecurity(push, proxy),
        peerAuthn,
        lanePlan(push, proxy),
      ),
    );
  },
};
