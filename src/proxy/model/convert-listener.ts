/**
 * Listener -> ListenerConfig. Accepts filter chains holding exactly one network filter: the
 * HTTP connection manager (RDS or inline routes, router filter last, file/stdout access logs) or
 * the TCP proxy. Any other network or HTTP filter is rejected unless marked optional.
 */
import type { Problems } from '../../core/errors.js';
import { TYPE, unpackAny, type AnyLike } from '../../protocol/protos.js';
import type {
  AccessLogConfig,
  FilterChainConfig,
  ForwardClientCert,
  HttpConnectionManagerConfig,
  HttpFilterConfig,
  ListenerConfig,
  NetworkFilterConfig,
  NetworkRbacFilter,
  PathNormalization,
  TcpProxyConfig,
} from './config.js';
import { checkFields, durationMs, fieldSet } from './convert-common.js';
import { bool } from './convert-common.js';
import { convertHttpFilter } from './convert-http-filters.js';
import { convertAccessLogFilter, jsonLogFormat } from './convert-access-log.js';
import { convertRouteConfiguration } from './convert-route.js';
import { clientAddressPolicy, convertNetworkRbac } from './convert-security-filters.js';
import { convertDownstreamTls, NO_WORKLOAD_CERTIFICATES, type TlsConvertOptions } from './convert-tls.js';
import { DEFAULT_STREAM_IDLE_TIMEOUT_MS } from '../connection-manager/stream-idle-timeout.js';
import { totalWeight } from '../policy/weighted.js';
import { convertTracing } from './convert-tracing.js';
import type { TraceOperation } from './tracing-config.js';
import type {
  AccessLog__Output,
  FileAccessLog__Output,
  FilterChain__Output,
  HttpConnectionManager__Output,
  Listener__Output,
  TcpProxy__Output,
} from '../../protocol/envoy-types.js';

const LISTENER_FIELDS = fieldSet(
  'name',
  'address',
  'filter_chains',
  'default_filter_chain',
  'traffic_direction',
  'listener_filters',
  // Socket tuning that does not change behaviour visible to requests.
  'metadata',
  'per_connection_buffer_limit_bytes',
  'continue_on_listener_filters_timeout',
  'bind_to_port',
  'use_original_dst',
  'stat_prefix',
);
const HCM_FIELDS = fieldSet(
  'stat_prefix',
  'codec_type',
  'rds',
  'route_config',
  'http_filters',
  'access_log',
  'generate_request_id',
  'normalize_path',
  'merge_slashes',
  'path_with_escaped_slashes_action',
  'upgrade_configs',
  // Accepted: Istio sets these; the proxy's behaviour already matches or they only tune limits.
  'use_remote_address',
  'stream_idle_timeout',
  'request_timeout',
  'common_http_protocol_options',
  'http_protocol_options',
  'http2_protocol_options',
  'forward_client_cert_details',
  'set_current_client_cert_details',
  'server_name',
  'preserve_external_request_id',
  'tracing',
  'xff_num_trusted_hops',
  'internal_address_config',
);

export function convertListener(
  msg: Listener__Output,
  path: string,
  problems: Problems,
  options: TlsConvertOptions = NO_WORKLOAD_CERTIFICATES,
): ListenerConfig | undefined {
  const name = msg.name ?? '';
  if (name === '') problems.error(`${path}.name`, 'must be non-empty');
  checkFields(msg, path, LISTENER_FIELDS, problems);
  (msg.listener_filters ?? []).forEach((f, i) => {
    // The TLS inspector reads SNI for filter chain matching, which TLS listeners always do.
    if (f.name !== TLS_INSPECTOR)
      problems.error(
        `${path}.listener_filters[${i}]`,
        `listener filter ${JSON.stringify(f.name ?? '')} is not supported (${TLS_INSPECTOR} is)`,
      );
  });
  const sa = msg.address?.socket_address;
  if (sa === undefined) problems.error(`${path}.address.socket_address`, 'a socket address is required');
  const port = sa?.port_value ?? 0;
  if (sa !== undefined && (port < 0 || port > 65535))
    problems.error(`${path}.address.socket_address.port_value`, 'out of range');
  const chains: FilterChainConfig[] = [];
  // Envoy's tracing operation: egress on OUTBOUND listeners, ingress otherwise (gateways too).
  const operation: TraceOperation = msg.traffic_direction === 'OUTBOUND' ? 'egress' : 'ingress';
  (msg.filter_chains ?? []).forEach((fc, i) => {
    const c = filterChain(fc, `${path}.filter_chains[${i}]`, problems, options, operation);
    if (c) chains.push(c);
  });
  if (msg.default_filter_chain !== undefined) {
    const c = filterChain(
      msg.default_filter_chain,
      `${path}.default_filter_chain`,
      problems,
      options,
      operation,
    );
    if (c) chains.push(c);
  }
  if (chains.length === 0 && problems.ok)
    problems.error(`${path}.filter_chains`, 'at least one filter chain is required');
  if (!problems.ok) return undefined;
  return Object.freeze({
    name,
    address: sa?.address ?? '0.0.0.0',
    port,
    ...(msg.traffic_direction === 'INBOUND' || msg.traffic_direction === 'OUTBOUND'
      ? { direction: msg.traffic_direction }
      : {}),
    filterChains: Object.freeze(chains),
  });
}

const MATCH_FIELDS = fieldSet(
  'destination_port',
  'application_protocols',
  'transport_protocol',
  'server_names',
);
const TLS_INSPECTOR = 'envoy.filters.listener.tls_inspector';

function filterChain(
  fc: FilterChain__Output,
  path: string,
  problems: Problems,
  options: TlsConvertOptions,
  operation: TraceOperation,
): FilterChainConfig | undefined {
  if (fc.filter_chain_match !== undefined)
    checkFields(fc.filter_chain_match, `${path}.filter_chain_match`, MATCH_FIELDS, problems);
  const tls =
    fc.transport_socket === undefined
      ? undefined
      : convertDownstreamTls(fc.transport_socket, `${path}.transport_socket`, problems, options);
  const filters = fc.filters ?? [];
  // Network RBAC filters may precede the one terminal filter (convert-security-filters.ts).
  const rbac = filters
    .slice(0, -1)
    .map((r, i) => convertNetworkRbacEntry(r, `${path}.filters[${i}]`, problems));
  if (filters.length === 0) {
    problems.error(`${path}.filters`, 'expected a network filter (http_connection_manager or tcp_proxy)');
    return undefined;
  }
  const f = filters[filters.length - 1]!;
  const fpath = `${path}.filters[${filters.length - 1}]`;
  const any = f.typed_config;
  let filter: NetworkFilterConfig | undefined;
  if (any?.type_url === TYPE.hcm)
    filter = hcm(unpackAny<HttpConnectionManager__Output>(any), `${fpath}.typed_config`, problems, operation);
  else if (any?.type_url === TYPE.tcpProxy)
    filter = tcpProxy(unpackAny<TcpProxy__Output>(any), `${fpath}.typed_config`, problems);
  else
    problems.error(
      `${fpath}.typed_config`,
      `network filter ${JSON.stringify(any?.type_url ?? f.name)} is not supported`,
    );
  if (!filter) return undefined;
  if (rbac.length > 0) {
    if (filter.kind !== 'tcp')
      problems.error(`${path}.filters`, 'network RBAC is supported ahead of tcp_proxy only');
    else filter = { ...filter, rbac: Object.freeze(rbac.filter((r) => r !== undefined)) };
  }
  const out: FilterChainConfig = { name: fc.name ?? '', filter };
  const dp = fc.filter_chain_match?.destination_port?.value;
  if (dp !== undefined) out.destinationPort = dp;
  const sni = fc.filter_chain_match?.server_names ?? [];
  if (sni.length > 0) out.serverNames = Object.freeze(sni.map((n) => n.toLowerCase()));
  const transport = fc.filter_chain_match?.transport_protocol;
  if (transport) {
    if (transport !== 'tls' && transport !== 'raw_buffer')
      problems.error(
        `${path}.filter_chain_match.transport_protocol`,
        `expected tls or raw_buffer, got ${JSON.stringify(transport)}`,
      );
    out.transportProtocol = transport;
  }
  const alpn = fc.filter_chain_match?.application_protocols ?? [];
  if (alpn.length > 0) out.applicationProtocols = Object.freeze([...alpn]);
  if (tls !== undefined) out.tls = tls;
  return Object.freeze(out);
}

function convertNetworkRbacEntry(
  f: { name?: string; typed_config?: AnyLike },
  path: string,
  problems: Problems,
): NetworkRbacFilter | undefined {
  if (f.typed_config?.type_url === TYPE.networkRbac)
    return convertNetworkRbac(f.typed_config, `${path}.typed_config`, problems);
  problems.error(
    `${path}.typed_config`,
    `network filter ${JSON.stringify(f.typed_config?.type_url ?? f.name)} is not supported before the terminal filter`,
  );
  return undefined;
}

function hcm(
  msg: HttpConnectionManager__Output,
  path: string,
  problems: Problems,
  operation: TraceOperation,
): HttpConnectionManagerConfig | undefined {
  checkFields(msg, path, HCM_FIELDS, problems);
  if (msg.codec_type !== undefined && !['AUTO', 'HTTP1', 'HTTP2'].includes(msg.codec_type)) {
    problems.error(`${path}.codec_type`, `codec ${msg.codec_type} is not supported`);
  }
  const filters: HttpFilterConfig[] = [];
  const httpFilters = msg.http_filters ?? [];
  httpFilters.forEach((f, i) => {
    const converted = convertHttpFilter(f, `${path}.http_filters[${i}]`, problems);
    if (converted) filters.push(converted);
  });
  const last = httpFilters[httpFilters.length - 1];
  if (last === undefined || last.typed_config?.type_url !== TYPE.router) {
    problems.error(`${path}.http_filters`, 'the last HTTP filter must be envoy.filters.http.router');
  }
  const out: HttpConnectionManagerConfig = {
    kind: 'http',
    statPrefix: msg.stat_prefix ?? '',
    httpFilters: Object.freeze(filters),
    accessLogs: accessLogs(msg.access_log, `${path}.access_log`, problems),
    generateRequestId: bool(msg.generate_request_id, true),
    streamIdleTimeoutMs: durationMs(msg.stream_idle_timeout, DEFAULT_STREAM_IDLE_TIMEOUT_MS),
    upgradeTypes: upgradeTypes(msg, path, problems),
    pathNormalization: pathNormalization(msg, path, problems),
    clientAddress: clientAddressPolicy(msg),
  };
  const xfcc = forwardClientCert(msg, path, problems);
  if (xfcc !== undefined) out.forwardClientCert = xfcc;
  const tracing = convertTracing(msg.tracing, operation, `${path}.tracing`, problems);
  if (tracing !== undefined) out.tracing = tracing;
  if (msg.rds !== undefined) {
    if (!msg.rds.route_config_name) problems.error(`${path}.rds.route_config_name`, 'must be non-empty');
    out.routeConfigName = msg.rds.route_config_name ?? '';
  } else if (msg.route_config !== undefined) {
    out.inlineRoutes = convertRouteConfiguration(
      { name: 'inline', ...msg.route_config },
      `${path}.route_config`,
      problems,
    );
  } else {
    problems.error(path, 'expected rds or route_config (scoped routes are not supported)');
  }
  return out;
}

const XFCC_MODES = [
  'SANITIZE',
  'FORWARD_ONLY',
  'APPEND_FORWARD',
  'SANITIZE_SET',
  'ALWAYS_FORWARD_ONLY',
] as const;
const XFCC_DETAIL_FIELDS = fieldSet('subject', 'uri', 'dns', 'cert', 'chain');

/** forward_client_cert_details / set_current_client_cert_details (connection-manager/forward-client-cert.ts). */
function forwardClientCert(
  msg: HttpConnectionManager__Output,
  path: string,
  problems: Problems,
): ForwardClientCert | undefined {
  const raw = msg.forward_client_cert_details;
  const details = msg.set_current_client_cert_details;
  if (raw === undefined && details === undefined) return undefined;
  const mode = typeof raw === 'number' ? XFCC_MODES[raw] : (raw ?? 'SANITIZE');
  if (mode === undefined || !(XFCC_MODES as readonly string[]).includes(mode)) {
    problems.error(`${path}.forward_client_cert_details`, `unknown mode ${JSON.stringify(raw)}`);
    return undefined;
  }
  const d = (details ?? {}) as Record<string, unknown>;
  checkFields(d, `${path}.set_current_client_cert_details`, XFCC_DETAIL_FIELDS, problems);
  for (const f of ['cert', 'chain'])
    if (d[f] === true)
      problems.error(
        `${path}.set_current_client_cert_details.${f}`,
        'the PEM of the client certificate is not forwarded (subject, uri and dns are)',
      );
  const flag = (v: unknown) =>
    v === true || (typeof v === 'object' && v !== null && (v as { value?: boolean }).value === true);
  return Object.freeze({
    mode: mode,
    subject: flag(d.subject),
    uri: d.uri === true,
    dns: d.dns === true,
  });
}

const UPGRADE_FIELDS = fieldSet('upgrade_type', 'filters', 'enabled');

function upgradeTypes(
  msg: HttpConnectionManager__Output,
  path: string,
  problems: Problems,
): ReadonlySet<string> {
  const out = new Set<string>();
  (msg.upgrade_configs ?? []).forEach((u, i) => {
    const p = `${path}.upgrade_configs[${i}]`;
    checkFields(u, p, UPGRADE_FIELDS, problems);
    if (!u.upgrade_type) problems.error(`${p}.upgrade_type`, 'must be non-empty');
    if ((u.filters ?? []).length > 0)
      problems.error(`${p}.filters`, 'upgrade filter chains are not supported');
    if (u.upgrade_type && bool(u.enabled, true)) out.add(u.upgrade_type.toLowerCase());
  });
  return out;
}

const ESCAPED_SLASH_ACTIONS = [
  'IMPLEMENTATION_SPECIFIC_DEFAULT',
  'KEEP_UNCHANGED',
  'REJECT_REQUEST',
  'UNESCAPE_AND_REDIRECT',
  'UNESCAPE_AND_FORWARD',
] as const;

function pathNormalization(
  msg: HttpConnectionManager__Output,
  path: string,
  problems: Problems,
): PathNormalization {
  const raw = msg.path_with_escaped_slashes_action ?? 'IMPLEMENTATION_SPECIFIC_DEFAULT';
  const action = typeof raw === 'number' ? ESCAPED_SLASH_ACTIONS[raw] : raw;
  let escapedSlashes: PathNormalization['escapedSlashes'] = 'KEEP_UNCHANGED';
  if (action === undefined || !(ESCAPED_SLASH_ACTIONS as readonly string[]).includes(action))
    problems.error(`${path}.path_with_escaped_slashes_action`, `unknown action ${JSON.stringify(raw)}`);
  else if (action !== 'IMPLEMENTATION_SPECIFIC_DEFAULT') escapedSlashes = action;
  return Object.freeze({
    normalize: bool(msg.normalize_path, false),
    mergeSlashes: msg.merge_slashes === true,
    escapedSlashes,
  });
}

function tcpProxy(msg: TcpProxy__Output, path: string, problems: Problems): TcpProxyConfig {
  let targets: { cluster: string; weight: number }[] = [];
  if (msg.cluster) targets = [{ cluster: msg.cluster, weight: 1 }];
  else if (msg.weighted_clusters) {
    targets = (msg.weighted_clusters.clusters ?? []).map((c) => ({
      cluster: c.name ?? '',
      weight: c.weight ?? 0,
    }));
  }
  if (targets.length === 0) problems.error(path, 'expected cluster or weighted_clusters');
  const total = totalWeight(targets);
  if (targets.length > 1 && total === 0) problems.error(`${path}.weighted_clusters`, 'the weights sum to 0');
  return {
    kind: 'tcp',
    statPrefix: msg.stat_prefix ?? '',
    targets: Object.freeze(targets),
    totalWeight: total,
    idleTimeoutMs: durationMs(msg.idle_timeout, 3_600_000),
    accessLogs: accessLogs(msg.access_log, `${path}.access_log`, problems),
  };
}

function accessLogs(
  logs: AccessLog__Output[] | undefined,
  path: string,
  problems: Problems,
): readonly AccessLogConfig[] {
  const out: AccessLogConfig[] = [];
  (logs ?? []).forEach((l, i) => {
    const any: AnyLike | undefined = l.typed_config;
    const filter =
      l.filter === undefined ? undefined : convertAccessLogFilter(l.filter, `${path}[${i}].filter`, problems);
    const base = filter === undefined ? {} : { filter };
    if (any?.type_url === TYPE.stdoutAccessLog) {
      const m = unpackAny<FileAccessLog__Output>(any);
      out.push(withFormat(base, m, `${path}[${i}].typed_config`, problems));
    } else if (any?.type_url === TYPE.fileAccessLog) {
      const m = unpackAny<FileAccessLog__Output>(any);
      if (!m.path) problems.error(`${path}[${i}].typed_config.path`, 'must be non-empty');
      const at = m.path === '/dev/stdout' ? base : { ...base, path: m.path ?? '' };
      out.push(withFormat(at, m, `${path}[${i}].typed_config`, problems));
    } else {
      problems.error(
        `${path}[${i}].typed_config`,
        `access logger ${JSON.stringify(any?.type_url ?? l.name)} is not supported (file and stdout are)`,
      );
    }
  });
  return Object.freeze(out);
}

function withFormat(
  base: AccessLogConfig,
  m: FileAccessLog__Output,
  path: string,
  problems: Problems,
): AccessLogConfig {
  const json =
    m.log_format === undefined ? undefined : jsonLogFormat(m.log_format, `${path}.log_format`, problems);
  if (json !== undefined) return { ...base, json };
  const format = m.log_format?.text_format_source?.inline_string ?? m.log_format?.text_format ?? m.format;
  return format ? { ...base, format } : base;
}

/** Route config names the listener's HTTP connection managers ask RDS for. */
export function referencedRouteNames(l: ListenerConfig): string[] {
  const out: string[] = [];
  for (const c of l.filterChains)
    if (c.filter.kind === 'http' && c.filter.routeConfigName) out.push(c.filter.routeConfigName);
  return out;
}
