/**
 * Cluster and ClusterLoadAssignment -> ClusterConfig / EndpointSet. Rejects cluster types, LB
 * policies, transport sockets and fields the proxy does not implement, naming the field.
 */
import { isTrellisError, type Problems } from '../../core/errors.js';
import { compileCircuitBreakers, type CircuitBreakersConfig } from '../policy/circuit-breaker.js';
import { priorityOptionsFrom, type CommonLbConfig } from '../policy/cluster-load-balancer.js';
import { compileLbSettings } from '../policy/load-balancer.js';
import { compileOutlierDetection, type OutlierDetectionConfig } from '../policy/outlier-detector.js';
import { TYPE, unpackAny } from '../../protocol/protos.js';
import type {
  ClusterConfig,
  Endpoint,
  EndpointIdentity,
  EndpointSet,
  LocalityEndpoints,
  TransportSocketMatch,
} from './config.js';
import { convertUpstreamTransport, NO_WORKLOAD_CERTIFICATES, type TlsConvertOptions } from './convert-tls.js';
import { checkFields, durationMs, fieldSet, structToJson } from './convert-common.js';
import { u32 } from './convert-common.js';
import { convertDynamicForwardProxyCluster } from './convert-dns-cache.js';
import { AGGREGATE_CLUSTER, convertAggregateCluster } from './convert-aggregate.js';
import type {
  Cluster__Output,
  ClusterLoadAssignment__Output,
  HttpProtocolOptions__Output,
  LbEndpoint__Output,
  Metadata__Output,
} from '../../protocol/envoy-types.js';

const CLUSTER_FIELDS = fieldSet(
  'name',
  'type',
  'cluster_type',
  'eds_cluster_config',
  'connect_timeout',
  'lb_policy',
  'ring_hash_lb_config',
  'maglev_lb_config',
  'least_request_lb_config',
  'load_assignment',
  'circuit_breakers',
  'outlier_detection',
  'http2_protocol_options',
  'typed_extension_protocol_options',
  'transport_socket',
  'transport_socket_matches',
  // Harmless for this proxy: naming, stats and DNS tuning.
  'metadata',
  'alt_stat_name',
  'common_lb_config',
  'dns_lookup_family',
  'dns_refresh_rate',
  'respect_dns_ttl',
  'per_connection_buffer_limit_bytes',
  'cleanup_interval',
  'ignore_health_on_host_removal',
  'track_cluster_stats',
);

const TYPES: ReadonlySet<string> = new Set(['EDS', 'STATIC', 'STRICT_DNS', 'LOGICAL_DNS', 'ORIGINAL_DST']);

export function convertCluster(
  msg: Cluster__Output,
  path: string,
  problems: Problems,
  options: TlsConvertOptions = NO_WORKLOAD_CERTIFICATES,
): ClusterConfig | undefined {
  const name = msg.name ?? '';
  if (name === '') problems.error(`${path}.name`, 'must be non-empty');
  checkFields(msg, path, CLUSTER_FIELDS, problems);
  // cluster_type (an extension) replaces `type`: the dynamic forward proxy and the aggregate
  // cluster are the ones we run.
  const isAggregate = msg.cluster_type?.name === AGGREGATE_CLUSTER;
  const aggregate =
    msg.cluster_type !== undefined && isAggregate
      ? convertAggregateCluster(msg.cluster_type, name, `${path}.cluster_type`, problems)
      : undefined;
  if (isAggregate) checkAggregate(msg, path, problems);
  const dnsCache =
    msg.cluster_type === undefined || isAggregate
      ? undefined
      : convertDynamicForwardProxyCluster(msg.cluster_type, `${path}.cluster_type`, problems);
  const type = isAggregate
    ? 'AGGREGATE'
    : msg.cluster_type !== undefined
      ? 'DYNAMIC_FORWARD_PROXY'
      : (msg.type ?? 'STATIC');
  if (type === 'DYNAMIC_FORWARD_PROXY' && msg.lb_policy !== 'CLUSTER_PROVIDED')
    problems.error(`${path}.lb_policy`, 'a dynamic forward proxy cluster must say CLUSTER_PROVIDED');
  if (type === 'DYNAMIC_FORWARD_PROXY' && msg.load_assignment !== undefined)
    problems.error(`${path}.load_assignment`, 'a dynamic forward proxy cluster has no endpoints of its own');
  if (type !== 'DYNAMIC_FORWARD_PROXY' && type !== 'AGGREGATE' && !TYPES.has(type)) {
    problems.error(
      `${path}.type`,
      `cluster type ${type} is not supported (expected EDS, STATIC, STRICT_DNS, LOGICAL_DNS or ORIGINAL_DST)`,
    );
  }
  // ORIGINAL_DST clusters must say CLUSTER_PROVIDED (Envoy): the destination is the host.
  const lb =
    (type === 'ORIGINAL_DST' || type === 'DYNAMIC_FORWARD_PROXY' || type === 'AGGREGATE') &&
    msg.lb_policy === 'CLUSTER_PROVIDED'
      ? ({ policy: 'ROUND_ROBIN' } as const)
      : compiled(() => compileLbSettings(msg, path), path, problems);
  const tls =
    msg.transport_socket === undefined
      ? undefined
      : convertUpstreamTransport(msg.transport_socket, `${path}.transport_socket`, problems, options);
  const transportSocketMatches = socketMatches(msg, path, problems, options);
  const http2 = upstreamHttp2(msg, path, problems);
  const breakers = compiled(
    () =>
      compileCircuitBreakers(
        msg.circuit_breakers as CircuitBreakersConfig | undefined,
        `${path}.circuit_breakers`,
      ),
    path,
    problems,
  );
  const outlier =
    msg.outlier_detection === undefined
      ? undefined
      : compiled(
          () =>
            compileOutlierDetection(
              msg.outlier_detection as OutlierDetectionConfig,
              `${path}.outlier_detection`,
            ),
          path,
          problems,
        );
  const priorityOptions = compiled(
    () => priorityOptionsFrom(msg as { common_lb_config?: CommonLbConfig }, undefined, path),
    path,
    problems,
  );
  let staticEndpoints: EndpointSet | undefined;
  if (type !== 'EDS' && type !== 'ORIGINAL_DST' && type !== 'DYNAMIC_FORWARD_PROXY' && type !== 'AGGREGATE') {
    if (msg.load_assignment === undefined) {
      problems.error(`${path}.load_assignment`, `a ${type} cluster needs load_assignment`);
    } else {
      staticEndpoints = convertLoadAssignment(msg.load_assignment, `${path}.load_assignment`, problems, name);
    }
  }
  if (!problems.ok || !lb || !breakers || !priorityOptions) return undefined;
  if (type !== 'DYNAMIC_FORWARD_PROXY' && type !== 'AGGREGATE' && !TYPES.has(type)) return undefined;
  return Object.freeze({
    name,
    type: type,
    edsServiceName: type === 'EDS' ? msg.eds_cluster_config?.service_name || name : undefined,
    connectTimeoutMs: durationMs(msg.connect_timeout, 5000),
    lb,
    http2,
    circuitBreakers: breakers,
    outlier,
    priorityOptions,
    staticEndpoints,
    ...(tls ? { tls } : {}),
    ...(transportSocketMatches ? { transportSocketMatches } : {}),
    ...(dnsCache ? { dnsCache } : {}),
    ...(aggregate ? { aggregateClusters: aggregate } : {}),
  });
}

/** Envoy: an aggregate cluster has no hosts of its own and says CLUSTER_PROVIDED. */
function checkAggregate(msg: Cluster__Output, path: string, problems: Problems): void {
  if (msg.lb_policy !== 'CLUSTER_PROVIDED')
    problems.error(`${path}.lb_policy`, 'an aggregate cluster must say CLUSTER_PROVIDED');
  if (msg.load_assignment !== undefined)
    problems.error(`${path}.load_assignment`, 'an aggregate cluster has no endpoints of its own');
}

const MATCH_FIELDS = fieldSet('name', 'match', 'transport_socket');

/** transport_socket_matches: each a name, a flat match struct and a transport socket. */
function socketMatches(
  msg: Cluster__Output,
  path: string,
  problems: Problems,
  options: TlsConvertOptions,
): readonly TransportSocketMatch[] | undefined {
  const list = msg.transport_socket_matches ?? [];
  if (list.length === 0) return undefined;
  return Object.freeze(
    list.map((m, i) => {
      const p = `${path}.transport_socket_matches[${i}]`;
      checkFields(m, p, MATCH_FIELDS, problems);
      const match = structToJson(m.match);
      for (const [k, v] of Object.entries(match))
        if (v !== null && typeof v === 'object')
          problems.error(`${p}.match.${k}`, 'only string, number and boolean values can be matched');
      const out: TransportSocketMatch = { name: m.name ?? '', match: Object.freeze(match) };
      if (m.transport_socket === undefined) {
        problems.error(`${p}.transport_socket`, 'required');
      } else {
        const tls = convertUpstreamTransport(m.transport_socket, `${p}.transport_socket`, problems, options);
        if (tls) out.tls = tls;
      }
      return Object.freeze(out);
    }),
  );
}

/** Runs a policy compiler, turning its TrellisError into a problem with the field path. */
function compiled<T>(compile: () => T, path: string, problems: Problems): T | undefined {
  try {
    return compile();
  } catch (err) {
    problems.error(isTrellisError(err) ? (err.path ?? path) : path, (err as Error).message);
    return undefined;
  }
}

function upstreamHttp2(msg: Cluster__Output, path: string, problems: Problems): boolean {
  if (msg.http2_protocol_options !== undefined) return true;
  const opts = msg.typed_extension_protocol_options ?? {};
  for (const [key, any] of Object.entries(opts)) {
    if (any.type_url !== TYPE.http2Options) {
      problems.error(
        `${path}.typed_extension_protocol_options["${key}"]`,
        `type ${any.type_url} is not supported`,
      );
      continue;
    }
    const o = unpackAny<HttpProtocolOptions__Output>(any);
    if (o.explicit_http_config?.http2_protocol_options !== undefined) return true;
    if (o.use_downstream_protocol_config !== undefined || o.auto_config !== undefined) {
      problems.error(
        `${path}.typed_extension_protocol_options["${key}"]`,
        'only explicit_http_config is supported (use_downstream_protocol_config and auto_config are not)',
      );
    }
  }
  return false;
}

export function convertLoadAssignment(
  msg: ClusterLoadAssignment__Output,
  path: string,
  problems: Problems,
  nameOverride?: string,
): EndpointSet {
  const clusterName = nameOverride ?? msg.cluster_name ?? '';
  if (clusterName === '') problems.error(`${path}.cluster_name`, 'must be non-empty');
  const localities: LocalityEndpoints[] = [];
  (msg.endpoints ?? []).forEach((loc, i) => {
    const lpath = `${path}.endpoints[${i}]`;
    const endpoints: Endpoint[] = [];
    (loc.lb_endpoints ?? []).forEach((ep, j) => {
      const e = convertEndpoint(ep, `${lpath}.lb_endpoints[${j}]`, problems);
      if (e) endpoints.push(e);
    });
    const l = loc.locality ?? {};
    localities.push(
      Object.freeze({
        locality: [l.region ?? '', l.zone ?? '', l.sub_zone ?? ''].join('/').replace(/\/+$/, ''),
        weight: u32(loc.load_balancing_weight, 1),
        priority: loc.priority ?? 0,
        endpoints: Object.freeze(endpoints),
      }),
    );
  });
  const factor = u32(msg.policy?.overprovisioning_factor, 140);
  if (factor <= 0) problems.error(`${path}.policy.overprovisioning_factor`, 'must be greater than 0');
  return Object.freeze({
    clusterName,
    overprovisioningFactor: factor,
    localities: Object.freeze(localities),
  });
}

const HEALTHY: ReadonlySet<string> = new Set(['UNKNOWN', 'HEALTHY', 'DEGRADED']);

function convertEndpoint(ep: LbEndpoint__Output, path: string, problems: Problems): Endpoint | undefined {
  const sa = ep.endpoint?.address?.socket_address;
  if (sa === undefined) {
    problems.error(
      `${path}.endpoint.address.socket_address`,
      'a socket address is required (pipes are not supported)',
    );
    return undefined;
  }
  const host = sa.address ?? '';
  const port = sa.port_value ?? 0;
  if (host === '') problems.error(`${path}.endpoint.address.socket_address.address`, 'must be non-empty');
  if (port <= 0 || port > 65535) {
    problems.error(
      `${path}.endpoint.address.socket_address.port_value`,
      `port ${port} is out of range 1-65535`,
    );
  }
  const healthStatus = ep.health_status ?? 'UNKNOWN';
  return Object.freeze({
    key: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`,
    host,
    port,
    healthy: HEALTHY.has(healthStatus),
    healthStatus,
    weight: u32(ep.load_balancing_weight, 1),
    identity: endpointIdentity(ep.metadata),
    ...socketMatchMetadata(ep.metadata),
  });
}

/** filter_metadata `envoy.transport_socket_match` (Istio: `{tlsMode: istio}`), when present. */
function socketMatchMetadata(md: Metadata__Output | undefined): Pick<Endpoint, 'transportSocketMatch'> {
  const struct = md?.filter_metadata?.['envoy.transport_socket_match'];
  if (struct === undefined) return {};
  return { transportSocketMatch: Object.freeze(structToJson(struct)) };
}

/**
 * Istio writes `filter_metadata.istio.workload = "NAME;NAMESPACE;CANONICAL_SERVICE;REVISION;CLUSTER"`
 * on endpoints; Trellis also accepts separate `workload`/`namespace`/`version` string fields.
 */
export function endpointIdentity(md: Metadata__Output | undefined): EndpointIdentity {
  const istio = structToJson(md?.filter_metadata?.istio);
  const id: EndpointIdentity = {};
  if (typeof istio.workload === 'string') {
    const [workload, namespace, canonical, revision, cluster] = istio.workload.split(';');
    if (workload) id.workload = workload;
    if (namespace) id.namespace = namespace;
    if (canonical) id.canonicalService = canonical;
    if (revision) id.version = revision;
    if (cluster) id.cluster = cluster;
  }
  if (typeof istio.app === 'string') id.app = istio.app;
  if (typeof istio.namespace === 'string') id.namespace = istio.namespace;
  if (typeof istio.version === 'string') id.version = istio.version;
  return Object.freeze(id);
}
