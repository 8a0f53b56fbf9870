/**
 * LDS: Listeners. Sidecars: an outbound listener per port (`0.0.0.0_PORT` with an HTTP
 * connection manager using RDS route `PORT`, or a tcp_proxy), and inbound listeners for the
 * workload's own ports. Gateways: one listener per server port. Proxyless gRPC: API listeners
 * named `HOST:PORT` as the client asks for them.
 */
import type {
  CertificateValidationContext,
  CommonTlsContext,
  DownstreamTlsContext,
  FilterChain,
  FilterChainMatch,
  HttpConnectionManager,
  HttpFilter,
  Listener,
  NetworkFilter,
  TlsParameters,
  TransportSocket,
  VirtualHost,
} from '../../protocol/envoy-types.js';
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
} from './envoy.js';
import { gatewayRouteName, inboundCluster, listenerName } from './names.js';
import type { PathNormalizationMode } from '../../api/mesh-config.js';

/**
 * HTTP filters in the order Istio installs them; `first` (authentication and authorization)
 * go before all others, `extra` (rate limit filters) just before the router, which must be last.
 */
export function httpFilters(
  flavor: Flavor,
  extra: readonly HttpFilter[] = [],
  first: readonly HttpFilter[] = [],
): HttpFilter[] {
  return flavor === 'grpc'
    ? [...first, faultFilter(), ...extra, routerFilter()]
    : [...first, faultFilter(), corsFilter(), ...extra, routerFilter()];
}

export function rdsConnectionManager(
  statPrefix: string,
  routeName: string,
  flavor: Flavor,
  extra: HttpConnectionManager = {},
  extraFilters: readonly HttpFilter[] = [],
): HttpConnectionManager {
  return {
    stat_prefix: statPrefix,
    rds: { config_source: adsConfigSource(), route_config_name: routeName },
    http_filters: httpFilters(flavor, extraFilters),
    ...(flavor === 'grpc' ? {} : ISTIO_HCM_DEFAULTS),
    ...extra,
  };
}

/**
 * What Istio sets on every sidecar and gateway HCM: WebSocket upgrades allowed, and no stream
 * idle timeout (Envoy's default of 5 minutes would cut silent long-lived streams).
 */
const ISTIO_HCM_DEFAULTS: HttpConnectionManager = Object.freeze({
  upgrade_configs: [{ upgrade_type: 'websocket' }],
  stream_idle_timeout: durationMs(0),
});

/**
 * The HCM path options for a mesh-wide normalization, as Istio sets them: BASE normalizes paths
 * (RFC 3986 dot segments and encoded unreserved characters) so `/public/../admin` is routed as
 * `/admin`; MERGE_SLASHES also merges `//`; DECODE_AND_MERGE_SLASHES also decodes `%2F` and
 * `%5C` first. NONE forwards paths as sent.
 */
export function pathNormalizationFields(mode: PathNormalizationMode): HttpConnectionManager {
  switch (mode) {
    case 'NONE':
      return { normalize_path: { value: false } };
    case 'BASE':
      return { normalize_path: { value: true } };
    case 'MERGE_SLASHES':
      return { normalize_path: { value: true }, merge_slashes: true };
    case 'DECODE_AND_MERGE_SLASHES':
      return {
        normalize_path: { value: true },
        merge_slashes: true,
        path_with_escaped_slashes_action: 'UNESCAPE_AND_FORWARD',
      };
  }
}

function hcmFilter(hcm: HttpConnectionManager): NetworkFilter {
  return { name: FILTER.hcm, typed_config: pack(TYPE.hcm, hcm) };
}

function tcpProxyFilter(cluster: string): NetworkFilter {
  return { name: FILTER.tcpProxy, typed_config: pack(TYPE.tcpProxy, { stat_prefix: cluster, cluster }) };
}

export function outboundHttpListener(
  port: number,
  routeName: string,
  extraFilters: readonly HttpFilter[] = [],
  paths: PathNormalizationMode = 'BASE',
): Listener {
  const name = listenerName('0.0.0.0', port);
  const hcm = rdsConnectionManager(
    `outbound_${name}`,
    routeName,
    'envoy',
    pathNormalizationFields(paths),
    extraFilters,
  );
  return {
    name,
    address: socketAddress('0.0.0.0', port),
    traffic_direction: 'OUTBOUND',
    filter_chains: [{ filters: [hcmFilter(hcm)] }],
  };
}

/** What an inbound HTTP listener adds for rate limits: filters, and its virtual host rewritten. */
export interface InboundHttpExtras {
  filters: readonly HttpFilter[];
  virtualHost(vh: VirtualHost): VirtualHost;
  /** Authentication/authorization filters (security/authorization-proxy.ts), first in each chain. */
  security?: { http: readonly HttpFilter[]; network: readonly NetworkFilter[] };
}

/** TCP services listen on their virtual IP when they have one, else on 0.0.0.0 (Istio). */
export function outboundTcpListener(address: string, port: number, cluster: string): Listener {
  return {
    name: listenerName(address, port),
    address: socketAddress(address, port),
    traffic_direction: 'OUTBOUND',
    filter_chains: [{ filters: [tcpProxyFilter(cluster)] }],
  };
}

/**
 * TLS services without a VIP on one port (external HTTPS ServiceEntries on 443): a chain per
 * service matched by SNI, and for every other ClientHello or plain bytes a chain to `fallback`
 * (PassthroughCluster, or BlackHoleCluster with REGISTRY_ONLY), so one service does not take
 * every connection to the port.
 */
export function outboundSniListener(
  port: number,
  services: readonly { host: string; cluster: string }[],
  fallback: string,
): Listener {
  return {
    name: listenerName('0.0.0.0', port),
    address: socketAddress('0.0.0.0', port),
    traffic_direction: 'OUTBOUND',
    filter_chains: [
      ...services.map((s) => ({
        name: s.cluster,
        filter_chain_match: { server_names: [s.host], transport_protocol: 'tls' },
        filters: [tcpProxyFilter(s.cluster)],
      })),
      { name: fallback, filters: [tcpProxyFilter(fallback)] },
    ],
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
export function virtualOutboundListener(cluster: string, http?: VirtualOutboundHttp): Listener {
  const chains: FilterChain[] = [{ name: VIRTUAL_OUTBOUND, filters: [tcpProxyFilter(cluster)] }];
  if (http !== undefined) {
    const hcm: HttpConnectionManager = {
      stat_prefix: `outbound_${VIRTUAL_OUTBOUND}_http`,
      route_config: { name: VIRTUAL_OUTBOUND, virtual_hosts: [http.catchAll] },
      http_filters: httpFilters('envoy', http.filters),
      ...ISTIO_HCM_DEFAULTS,
      ...pathNormalizationFields(http.paths),
    };
    chains.push({
      name: `${VIRTUAL_OUTBOUND}-http`,
      filter_chain_match: { application_protocols: [...HTTP_APPLICATION_PROTOCOLS] },
      filters: [hcmFilter(hcm)],
    });
  }
  return {
    name: VIRTUAL_OUTBOUND,
    address: socketAddress('0.0.0.0', VIRTUAL_OUTBOUND_PORT),
    traffic_direction: 'OUTBOUND',
    use_original_dst: { value: true },
    filter_chains: chains,
  };
}

/** What HTTP's own application protocols are called (Envoy's http_inspector names them so). */
const HTTP_APPLICATION_PROTOCOLS = ['http/1.0', 'http/1.1', 'h2c'] as const;

/**
 * virtualOutbound's HTTP chain: HTTP for a port no listener serves, from clients pointed at the
 * sidecar (HTTP_PROXY), where there is no captured address to pass through to. It holds only the
 * catch-all virtual host (allow_any or block_all, passthrough.ts). Captured connections keep the
 * TCP chain: this one matches only by application protocol, which Envoy learns from an
 * http_inspector this listener does not have, and which the Trellis proxy reads from a parsed
 * request.
 */
export interface VirtualOutboundHttp {
  catchAll: VirtualHost;
  filters: readonly HttpFilter[];
  paths: PathNormalizationMode;
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
  paths: PathNormalizationMode = 'BASE',
): Listener {
  const cluster = inboundCluster(servicePort);
  const vh: VirtualHost = {
    name: `inbound|http|${servicePort}`,
    domains: ['*'],
    routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster, timeout: durationMs(0) } }],
  };
  const filter = http
    ? hcmFilter({
        stat_prefix: `inbound_${port}`,
        route_config: { name: cluster, virtual_hosts: [extras ? extras.virtualHost(vh) : vh] },
        http_filters: httpFilters('envoy', extras?.filters, extras?.security?.http),
        ...ISTIO_HCM_DEFAULTS,
        ...pathNormalizationFields(paths),
      })
    : tcpProxyFilter(cluster);
  return {
    name: cluster,
    address: socketAddress(address, port),
    traffic_direction: 'INBOUND',
    filter_chains: [{ filters: http ? [filter] : [...(extras?.security?.network ?? []), filter] }],
  };
}

// ------------------------------------------------------------------------------------------
// Gateway TLS termination (SDS certificates, SNI filter chains)
// ------------------------------------------------------------------------------------------

/** Istio's suffix of the SDS secret holding a MUTUAL server's CA (`NAME-cacert`). */
export const CA_SECRET_SUFFIX = '-cacert';

/** Gateway servers whose TLS the proxy terminates (serving HTTP inside). */
export function terminatesTls(server: Server): boolean {
  const mode = server.tls?.mode;
  return mode === 'SIMPLE' || mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL';
}

/** MUTUAL and OPTIONAL_MUTUAL check client certificates against the `NAME-cacert` CA. */
function validatesClients(server: Server): boolean {
  return server.tls?.mode === 'MUTUAL' || server.tls?.mode === 'OPTIONAL_MUTUAL';
}

/**
 * The SDS names of a server's certificates: credentialNames (several, e.g. RSA and ECDSA), else
 * credentialName. Without either (certificates as files on the gateway) a name derived from the
 * port, which no Secret provides: the listener then stays warming, refusing handshakes.
 */
function certificateNames(server: Server): string[] {
  const tls = server.tls ?? {};
  if (tls.credentialNames !== undefined && tls.credentialNames.length > 0) return [...tls.credentialNames];
  return [tls.credentialName ?? `${server.port.name ?? server.port.number}-cert`];
}

const TLS_VERSION: Record<string, TlsParameters['tls_minimum_protocol_version']> = {
  TLSV1_0: 'TLSv1_0',
  TLSV1_1: 'TLSv1_1',
  TLSV1_2: 'TLSv1_2',
  TLSV1_3: 'TLSv1_3',
};

/** Gateway server TLS: certificates come over SDS, named by credentialName (Istio's names). */
function downstreamTls(server: Server): TransportSocket | undefined {
  const tls = server.tls;
  if (tls === undefined || !terminatesTls(server)) return undefined;
  const names = certificateNames(server);
  const common: CommonTlsContext = {
    tls_certificate_sds_secret_configs: names.map((name) => ({ name, sds_config: adsConfigSource() })),
    alpn_protocols: ['h2', 'http/1.1'],
  };
  const params: TlsParameters = {};
  const min = TLS_VERSION[tls.minProtocolVersion ?? ''];
  const max = TLS_VERSION[tls.maxProtocolVersion ?? ''];
  if (min !== undefined) params.tls_minimum_protocol_version = min;
  if (max !== undefined) params.tls_maximum_protocol_version = max;
  if (tls.cipherSuites !== undefined && tls.cipherSuites.length > 0) params.cipher_suites = tls.cipherSuites;
  if (Object.keys(params).length > 0) common.tls_params = params;
  if (validatesClients(server)) {
    const ca = { name: `${names[0]}${CA_SECRET_SUFFIX}`, sds_config: adsConfigSource() };
    // As Istio: the CA over SDS, and what the client certificate must also match inline.
    const validation: CertificateValidationContext = {};
    const sans = tls.subjectAltNames ?? [];
    if (sans.length > 0) validation.match_subject_alt_names = sans.map((exact) => ({ exact }));
    if ((tls.verifyCertificateSpki ?? []).length > 0)
      validation.verify_certificate_spki = tls.verifyCertificateSpki;
    if ((tls.verifyCertificateHash ?? []).length > 0)
      validation.verify_certificate_hash = tls.verifyCertificateHash;
    if (Object.keys(validation).length > 0) {
      common.combined_validation_context = {
        default_validation_context: validation,
        validation_context_sds_secret_config: ca,
      };
    } else {
      common.validation_context_sds_secret_config = ca;
    }
  }
  const ctx: DownstreamTlsContext = { common_tls_context: common };
  // OPTIONAL_MUTUAL: a client certificate is asked for and verified, but not required.
  if (tls.mode === 'MUTUAL') ctx.require_client_certificate = { value: true };
  return { name: FILTER.tls, typed_config: pack(TYPE.downstreamTls, ctx) };
}

/** The secret names a gateway server needs (for SDS). */
export function serverSecrets(server: Server): string[] {
  if (!terminatesTls(server)) return [];
  const names = certificateNames(server);
  return validatesClients(server) ? [...names, `${names[0]}${CA_SECRET_SUFFIX}`] : names;
}

/**
 * SNI names of a TLS server: its hosts without the `namespace/` part; none (any name, and
 * clients sending no SNI) when one of them is `*`.
 */
function serverNames(server: Server): string[] {
  const hosts = server.hosts.map((h) => h.slice(h.indexOf('/') + 1).toLowerCase());
  return hosts.includes('*') ? [] : [...new Set(hosts)];
}

/**
 * One listener for all servers on a gateway port. TLS servers get a filter chain each, chosen
 * by SNI (their hosts); plain servers share one chain. All use route `http.PORT`.
 *
 * Envoy rejects a listener whose chains overlap (the same server name, or two catch-alls), so a
 * name goes to the first server (oldest Gateway first) that claims it, and a server left with
 * no names of its own gets no chain, as Istio does with conflicting servers.
 */
export function gatewayListener(
  port: number,
  servers: readonly Server[],
  paths: PathNormalizationMode = 'BASE',
  security: readonly HttpFilter[] = [],
  /** Chains of the port's TLS passthrough and TCP servers (gateway-passthrough.ts). */
  l4: readonly FilterChain[] = [],
): Listener {
  const name = listenerName('0.0.0.0', port);
  const hcm = rdsConnectionManager(`outbound_${name}`, gatewayRouteName(port), 'envoy', {
    use_remote_address: { value: true },
    ...pathNormalizationFields(paths),
  });
  // Authentication and authorization first (security/authorization-proxy.ts).
  if (security.length > 0) hcm.http_filters = [...security, ...(hcm.http_filters ?? [])];
  const chains: FilterChain[] = [];
  const claimed = new Set<string>();
  let catchAll = false;
  let plain = false;
  for (const server of servers) {
    const transport = downstreamTls(server);
    if (transport === undefined) {
      plain = true;
      continue;
    }
    const wanted = serverNames(server);
    const sni = wanted.filter((h) => !claimed.has(h));
    if (wanted.length === 0 ? catchAll : sni.length === 0) continue;
    if (wanted.length === 0) catchAll = true;
    for (const h of sni) claimed.add(h);
    const match: FilterChainMatch = { transport_protocol: 'tls' };
    if (sni.length > 0) match.server_names = sni;
    chains.push({ filter_chain_match: match, filters: [hcmFilter(hcm)], transport_socket: transport });
  }
  // Passthrough chains are matched by SNI, so they cannot take a name a terminating server has.
  for (const c of l4) {
    const names = (c.filter_chain_match?.server_names ?? []).filter((n) => !claimed.has(n));
    if ((c.filter_chain_match?.server_names ?? []).length > 0 && names.length === 0) continue;
    if (c.filter_chain_match === undefined && plain) continue; // the plain HTTP chain has the port
    chains.push(
      c.filter_chain_match === undefined
        ? c
        : { ...c, filter_chain_match: { ...c.filter_chain_match, server_names: names } },
    );
  }
  if (plain) chains.push({ filters: [hcmFilter(hcm)] });
  const listener: Listener = {
    name,
    address: socketAddress('0.0.0.0', port),
    traffic_direction: 'OUTBOUND',
    filter_chains: chains,
  };
  // SNI and transport_protocol matching need the TLS inspector to read the ClientHello.
  if (chains.some((c) => c.filter_chain_match?.transport_protocol === 'tls'))
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
export function grpcApiListener(name: string, address: string, port: number, routeName: string): Listener {
  return {
    name,
    address: socketAddress(address, port),
    api_listener: { api_listener: pack(TYPE.hcm, rdsConnectionManager(name, routeName, 'grpc')) },
  };
}
