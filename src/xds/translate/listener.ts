/**
 * LDS: Listeners. Sidecars: an outbound listener per port (`0.0.0.0_PORT` with an HTTP
 * connection manager using RDS route `PORT`, or a tcp_proxy), and inbound listeners for the
 * workload's own ports. Gateways: one listener per server port. Proxyless gRPC: API listeners
 * named `HOST:PORT` as the client asks for them.
 */
import type { Server } from '../../api/networking/types.js';
import { TYPE } from '../../protocol/protos.js';
import type { Flavor } from './cluster.js';
import {
  adsConfigSource,
  corsFilter,
  durationMs,
  faultFilter,
  FILTER,
  pack,
  routerFilter,
  socketAddress,
  type Json,
} from './envoy.js';
import { gatewayRouteName, inboundCluster, listenerName } from './names.js';

/**
 * HTTP filters in the order Istio installs them; `extra` (rate limit filters) go just before
 * the router, which must be last.
 */
export function httpFilters(flavor: Flavor, extra: readonly Json[] = []): Json[] {
  return flavor === 'grpc'
    ? [faultFilter(), ...extra, routerFilter()]
    : [faultFilter(), corsFilter(), ...extra, routerFilter()];
}

export function rdsConnectionManager(
  statPrefix: string,
  routeName: string,
  flavor: Flavor,
  extra: Json = {},
  extraFilters: readonly Json[] = [],
): Json {
  return {
    stat_prefix: statPrefix,
    rds: { config_source: adsConfigSource(), route_config_name: routeName },
    http_filters: httpFilters(flavor, extraFilters),
    ...extra,
  };
}

function hcmFilter(hcm: Json): Json {
  return { name: FILTER.hcm, typed_config: pack(TYPE.hcm, hcm) };
}

function tcpProxyFilter(cluster: string): Json {
  return { name: FILTER.tcpProxy, typed_config: pack(TYPE.tcpProxy, { stat_prefix: cluster, cluster }) };
}

export function outboundHttpListener(
  port: number,
  routeName: string,
  extraFilters: readonly Json[] = [],
): Json {
  const name = listenerName('0.0.0.0', port);
  const hcm = rdsConnectionManager(`outbound_${name}`, routeName, 'envoy', {}, extraFilters);
  return {
    name,
    address: socketAddress('0.0.0.0', port),
    traffic_direction: 'OUTBOUND',
    filter_chains: [{ filters: [hcmFilter(hcm)] }],
  };
}

/** What an inbound HTTP listener adds for rate limits: filters, and its virtual host rewritten. */
export interface InboundHttpExtras {
  filters: readonly Json[];
  virtualHost(vh: Json): Json;
}

/** TCP services listen on their virtual IP when they have one, else on 0.0.0.0 (Istio). */
export function outboundTcpListener(address: string, port: number, cluster: string): Json {
  return {
    name: listenerName(address, port),
    address: socketAddress(address, port),
    traffic_direction: 'OUTBOUND',
    filter_chains: [{ filters: [tcpProxyFilter(cluster)] }],
  };
}

/** Istio's name and port for the listener captured outbound traffic arrives on. */
export const VIRTUAL_OUTBOUND = 'virtualOutbound';
export const VIRTUAL_OUTBOUND_PORT = 15001;

/**
 * Istio's `virtualOutbound`: captured connections are handed to the listener matching their
 * original destination (`use_original_dst`); what matches none takes this listener's own chain,
 * a tcp_proxy to PassthroughCluster (outboundTrafficPolicy ALLOW_ANY) or BlackHoleCluster
 * (REGISTRY_ONLY).
 */
export function virtualOutboundListener(cluster: string): Json {
  return {
    name: VIRTUAL_OUTBOUND,
    address: socketAddress('0.0.0.0', VIRTUAL_OUTBOUND_PORT),
    traffic_direction: 'OUTBOUND',
    use_original_dst: { value: true },
    filter_chains: [{ name: VIRTUAL_OUTBOUND, filters: [tcpProxyFilter(cluster)] }],
  };
}

/**
 * An inbound listener for one of the workload's ports: accepts on `address:port` and hands
 * everything to the inbound cluster (the app on localhost). HTTP ports get a connection
 * manager with an inline catch-all route, so the HTTP filters (faults, metrics) still run.
 */
export function inboundListener(
  address: string,
  port: number,
  servicePort: number,
  http: boolean,
  extras?: InboundHttpExtras,
): Json {
  const cluster = inboundCluster(servicePort);
  const vh: Json = {
    name: `inbound|http|${servicePort}`,
    domains: ['*'],
    routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster, timeout: durationMs(0) } }],
  };
  const filter = http
    ? hcmFilter({
        stat_prefix: `inbound_${port}`,
        route_config: { name: cluster, virtual_hosts: [extras ? extras.virtualHost(vh) : vh] },
        http_filters: httpFilters('envoy', extras?.filters),
      })
    : tcpProxyFilter(cluster);
  return {
    name: cluster,
    address: socketAddress(address, port),
    traffic_direction: 'INBOUND',
    filter_chains: [{ filters: [filter] }],
  };
}

/** Gateway server TLS: certificates come over SDS, named by credentialName. */
function downstreamTls(server: Server): Json | undefined {
  const tls = server.tls;
  if (tls === undefined || tls.mode === undefined || (tls.mode !== 'SIMPLE' && tls.mode !== 'MUTUAL'))
    return undefined;
  const secret = tls.credentialName ?? `${server.port.name ?? server.port.number}-cert`;
  const common: Json = {
    tls_certificate_sds_secret_configs: [{ name: secret, sds_config: adsConfigSource() }],
    alpn_protocols: ['h2', 'http/1.1'],
  };
  if (tls.mode === 'MUTUAL') {
    common.validation_context_sds_secret_config = { name: `${secret}-cacert`, sds_config: adsConfigSource() };
  }
  const ctx: Json = { common_tls_context: common };
  if (tls.mode === 'MUTUAL') ctx.require_client_certificate = { value: true };
  return { name: FILTER.tls, typed_config: pack(TYPE.downstreamTls, ctx) };
}

/** The secret names a gateway server needs (for SDS). */
export function serverSecrets(server: Server): string[] {
  const tls = server.tls;
  if (tls === undefined || (tls.mode !== 'SIMPLE' && tls.mode !== 'MUTUAL')) return [];
  const secret = tls.credentialName ?? `${server.port.name ?? server.port.number}-cert`;
  return tls.mode === 'MUTUAL' ? [secret, `${secret}-cacert`] : [secret];
}

/**
 * One listener for all servers on a gateway port. TLS servers get a filter chain each, chosen
 * by SNI (their non-wildcard hosts); plain servers share one chain. All use route `http.PORT`.
 */
export function gatewayListener(port: number, servers: readonly Server[]): Json {
  const name = listenerName('0.0.0.0', port);
  const hcm = rdsConnectionManager(`outbound_${name}`, gatewayRouteName(port), 'envoy', {
    use_remote_address: { value: true },
  });
  const chains: Json[] = [];
  const seenSni = new Set<string>();
  let plain = false;
  for (const server of servers) {
    const transport = downstreamTls(server);
    if (transport === undefined) {
      plain = true;
      continue;
    }
    const sni = server.hosts.map((h) => h.slice(h.indexOf('/') + 1)).filter((h) => h !== '*');
    // Two chains with the same match are rejected by Envoy; the first server keeps it.
    const matchKey = sni.slice().sort().join(',');
    if (seenSni.has(matchKey)) continue;
    seenSni.add(matchKey);
    const match: Json = { transport_protocol: 'tls' };
    if (sni.length > 0) match.server_names = sni;
    chains.push({ filter_chain_match: match, filters: [hcmFilter(hcm)], transport_socket: transport });
  }
  if (plain) chains.push({ filters: [hcmFilter(hcm)] });
  const listener: Json = {
    name,
    address: socketAddress('0.0.0.0', port),
    traffic_direction: 'OUTBOUND',
    filter_chains: chains,
  };
  // SNI and transport_protocol matching need the TLS inspector to read the ClientHello.
  if (chains.length > (plain ? 1 : 0))
    listener.listener_filters = [{ name: TLS_INSPECTOR, typed_config: TLS_INSPECTOR_ANY }];
  return listener;
}

const TLS_INSPECTOR = 'envoy.filters.listener.tls_inspector';
// TlsInspector's defaults are what we want; an Any with no bytes is its empty message.
const TLS_INSPECTOR_ANY = {
  type_url: 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
  value: new Uint8Array(0),
};

/** Proxyless gRPC: an API listener, named as requested, pointing at the route configuration. */
export function grpcApiListener(name: string, address: string, port: number, routeName: string): Json {
  return {
    name,
    address: socketAddress(address, port),
    api_listener: { api_listener: pack(TYPE.hcm, rdsConnectionManager(name, routeName, 'grpc')) },
  };
}
