/**
 * Gateway servers the gateway does not terminate: `tls.mode: PASSTHROUGH` servers forward the
 * TLS bytes as they came, chosen by SNI from the `tls:` routes of the VirtualServices bound to
 * the gateway (`match.sniHosts`, narrowed to the server's hosts); TCP servers forward by the
 * first matching `tcp:` route. As Istio builds them (pilot/pkg/networking/core/gateway.go,
 * buildGatewayNetworkFiltersFromTLSRoutes / FromTCPRoutes): one filter chain per route match,
 * a tcp_proxy to the destination's cluster. An unknown SNI matches no chain: the connection is
 * closed, never sent somewhere by default.
 */
import { fqdn, portProtocol } from '../../api/hosts.js';
import type { RouteDestination, Server, VirtualServiceSpec } from '../../api/networking/types.js';
import type { FilterChain, NetworkFilter } from '../../protocol/envoy-types.js';
import { TYPE } from '../../protocol/protos.js';
import { FILTER, pack } from './envoy.js';
import { outboundCluster } from './names.js';
import type { PushContext, VirtualServiceResource } from './push-context.js';
import { gatewayRef } from './route-match.js';
import { serverHostAdmits, type GatewayServer } from './virtual-services.js';

/** A server whose TLS passes through the gateway untouched. */
export function passesTlsThrough(server: Server): boolean {
  return server.tls?.mode === 'PASSTHROUGH';
}

/** A plain TCP server (its bytes go where a `tcp:` route says). */
export function isTcpServer(server: Server): boolean {
  return portProtocol(server.port.name, server.port.protocol) === 'TCP' && server.tls === undefined;
}

/** Servers whose connections the gateway forwards as bytes (no HTTP inside for it to route). */
export function isL4Server(server: Server): boolean {
  return passesTlsThrough(server) || isTcpServer(server);
}

function tcpProxy(
  statPrefix: string,
  targets: readonly { cluster: string; weight: number }[],
): NetworkFilter {
  const first = targets[0]!;
  const config =
    targets.length === 1
      ? { stat_prefix: statPrefix, cluster: first.cluster }
      : {
          stat_prefix: statPrefix,
          weighted_clusters: { clusters: targets.map((t) => ({ name: t.cluster, weight: t.weight })) },
        };
  return { name: FILTER.tcpProxy, typed_config: pack(TYPE.tcpProxy, config) };
}

/** Route destinations -> clusters; the port defaults to the service's only one, else `port`. */
function targetsOf(
  push: PushContext,
  routes: readonly RouteDestination[] | undefined,
  namespace: string,
  port: number,
): { cluster: string; weight: number }[] {
  const all = routes ?? [];
  const dests = all.length === 1 ? all : all.filter((d) => (d.weight ?? 0) > 0);
  return dests.map((d) => {
    const host = fqdn(d.destination.host, namespace, push.domainSuffix);
    const ports = push.index.service(host)?.ports ?? [];
    const p = d.destination.port?.number ?? (ports.length === 1 ? ports[0]!.number : port);
    return { cluster: outboundCluster(host, p, d.destination.subset ?? ''), weight: d.weight ?? 1 };
  });
}

/** Whether a route match names this server's gateway and port (unset: those of the VirtualService). */
function matchApplies(
  match: { port?: number; gateways?: string[] },
  vs: VirtualServiceResource,
  server: GatewayServer,
): boolean {
  if (match.port !== undefined && match.port !== server.server.port.number) return false;
  const gateways = match.gateways ?? vs.spec.gateways ?? [];
  return gateways.some((g) => gatewayRef(g, vs.metadata.namespace) === server.ref);
}

/**
 * The filter chains of one gateway port's L4 servers, oldest VirtualService first. An SNI name
 * goes to the first route claiming it (Envoy rejects overlapping chains); one TCP chain per port.
 */
export function l4FilterChains(
  push: PushContext,
  servers: readonly GatewayServer[],
  port: number,
): FilterChain[] {
  const onPort = servers.filter((s) => s.server.port.number === port && isL4Server(s.server));
  if (onPort.length === 0) return [];
  const bound = push.index.virtualServices.boundTo(onPort.map((s) => s.ref)).map((i) => i.vs);
  const chains: FilterChain[] = [];
  const claimed = new Set<string>();
  let tcpChain = false;
  for (const vs of bound) {
    const spec: VirtualServiceSpec = vs.spec;
    for (const route of spec.tls ?? []) {
      for (const match of route.match) {
        const names: string[] = [];
        for (const s of onPort) {
          if (!passesTlsThrough(s.server) || !matchApplies(match, vs, s)) continue;
          for (const sni of match.sniHosts)
            for (const entry of s.server.hosts) {
              const name = serverHostAdmits(entry, s.gateway.metadata.namespace, vs.metadata.namespace, sni);
              if (name !== undefined && !claimed.has(name) && !names.includes(name)) names.push(name);
            }
        }
        const targets = targetsOf(push, route.route, vs.metadata.namespace, port);
        if (names.length === 0 || targets.length === 0) continue;
        names.forEach((n) => claimed.add(n));
        chains.push({
          name: `${vs.metadata.namespace}/${vs.metadata.name}:tls:${names.join(',')}`,
          filter_chain_match: { server_names: names, transport_protocol: 'tls' },
          filters: [tcpProxy(targets[0]!.cluster, targets)],
        });
      }
    }
    for (const route of spec.tcp ?? []) {
      if (tcpChain) break;
      const applies = onPort.some(
        (s) =>
          isTcpServer(s.server) &&
          (route.match === undefined || route.match.length === 0
            ? matchApplies({}, vs, s)
            : route.match.some((m) => matchApplies(m, vs, s))),
      );
      const targets = targetsOf(push, route.route, vs.metadata.namespace, port);
      if (!applies || targets.length === 0) continue;
      tcpChain = true;
      chains.push({
        name: `${vs.metadata.namespace}/${vs.metadata.name}:tcp`,
        filters: [tcpProxy(targets[0]!.cluster, targets)],
      });
    }
  }
  return chains;
}
