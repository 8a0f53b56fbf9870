/**
 * CDS: one Envoy Cluster per visible service port, plus one per DestinationRule subset, with
 * the DestinationRule's traffic policy applied the way Istio applies it.
 */
import type {
  ConnectionPoolSettings,
  LoadBalancerSettings,
  OutlierDetection,
} from '../../api/networking/types.js';
import type { Service, ServicePort } from '../../registry/types.js';
import type {
  CircuitBreakers,
  Cluster,
  ClusterLoadAssignment,
  Http2ProtocolOptions,
  HttpProtocolOptions,
  OutlierDetection as EnvoyOutlierDetection,
  TcpKeepalive,
} from '../../protocol/envoy-types.js';
import { TYPE } from '../../protocol/protos.js';
import { adsConfigSource, durationMs, durationOf, FILTER, pack, socketAddress, wrapU32 } from './envoy.js';
import { inboundCluster, outboundCluster } from './names.js';
import type { EffectivePolicy } from './traffic-policy.js';
import { upstreamTlsDecision, type UpstreamMtlsFacts } from './security/mtls-auto.js';
import { grpcUpstreamTlsSocket } from './security/mtls-grpc.js';
import { autoMtlsSocketMatches, upstreamTlsSocket } from './upstream-tls.js';
import { applyRetryBudget } from './retry-budget.js';
import type { RetryBudgetSetting } from '../../api/trellis-annotations.js';

/** `envoy` for the Trellis proxy and Envoy; `grpc` for proxyless gRPC (a narrower subset). */
export type Flavor = 'envoy' | 'grpc';

/** Istio's default connect timeout (meshConfig.connectTimeout). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export function isHttp2Port(port: ServicePort): boolean {
  return port.protocol === 'HTTP2' || port.protocol === 'GRPC';
}

export function isHttpPort(port: ServicePort): boolean {
  return port.protocol === 'HTTP' || isHttp2Port(port);
}

export interface ClusterInput {
  service: Service;
  port: ServicePort;
  subset: string;
  policy: EffectivePolicy;
  flavor: Flavor;
  /** For DNS-resolved services (Envoy flavor): the inline assignment of host names. */
  dnsAssignment?: ClusterLoadAssignment;
  /** What auto mTLS decides from: mesh config, the destination's PeerAuthentication, identities. */
  mtls: UpstreamMtlsFacts;
  /** The DestinationRule's `trellis.io/retry-budget`; absent: Trellis's default budget. */
  retryBudget?: RetryBudgetSetting | 'off';
}

/** Envoy resolves these itself; EDS can carry only IP addresses. */
export function usesDns(service: Service, flavor: Flavor): boolean {
  return flavor === 'envoy' && (service.resolution === 'DNS' || service.resolution === 'DNS_ROUND_ROBIN');
}

export function buildOutboundCluster(input: ClusterInput): Cluster {
  const { service, port, subset, policy, flavor } = input;
  const name = outboundCluster(service.hostname, port.number, subset);
  const cluster: Cluster = { name };
  const path = `DestinationRule(${service.hostname}).trafficPolicy`;
  const passthrough =
    flavor === 'envoy' && (service.resolution === 'NONE' || policy.loadBalancer?.simple === 'PASSTHROUGH');
  if (passthrough) {
    // No endpoints to balance over: forward to the address the client dialled.
    cluster.type = 'ORIGINAL_DST';
    cluster.lb_policy = 'CLUSTER_PROVIDED';
  } else if (usesDns(service, flavor)) {
    // Istio: DNS -> STRICT_DNS (every address), DNS_ROUND_ROBIN -> LOGICAL_DNS (one at a time).
    cluster.type = service.resolution === 'DNS' ? 'STRICT_DNS' : 'LOGICAL_DNS';
    cluster.dns_lookup_family = 'V4_ONLY';
    cluster.load_assignment = input.dnsAssignment ?? { cluster_name: name, endpoints: [] };
    applyLoadBalancer(cluster, policy.loadBalancer, flavor);
  } else {
    cluster.type = 'EDS';
    cluster.eds_cluster_config = { eds_config: adsConfigSource(), service_name: name };
    applyLoadBalancer(cluster, policy.loadBalancer, flavor);
  }
  const connectTimeout = policy.connectionPool?.tcp?.connectTimeout;
  cluster.connect_timeout =
    connectTimeout !== undefined
      ? durationOf(connectTimeout, `${path}.connectionPool.tcp.connectTimeout`)
      : durationMs(DEFAULT_CONNECT_TIMEOUT_MS);
  applyConnectionPool(cluster, policy.connectionPool, port, path, flavor);
  applyRetryBudget(cluster, policy.connectionPool, input.retryBudget);
  if (policy.outlierDetection !== undefined) {
    cluster.outlier_detection = outlierDetection(policy.outlierDetection, path, flavor);
    const minHealth = policy.outlierDetection.minHealthPercent;
    if (minHealth !== undefined && minHealth >= 0 && flavor === 'envoy') {
      cluster.common_lb_config = {
        ...cluster.common_lb_config,
        healthy_panic_threshold: { value: minHealth },
      };
    }
  }
  if (flavor === 'envoy') {
    // Passthrough (ORIGINAL_DST) clusters have no endpoint metadata to match: mesh mTLS goes to
    // every connection or none. SIMPLE/MUTUAL origination is not offered there: the address
    // dialled has no name to send as SNI or to check the certificate against.
    const decision = upstreamTlsDecision(policy.tls, input.mtls, passthrough);
    const tls = passthrough && decision.tls?.mode !== 'ISTIO_MUTUAL' ? undefined : decision.tls;
    const socket = upstreamTlsSocket(tls, {
      host: service.hostname,
      port: port.number,
      subset,
      http2: isHttp2Port(port),
    });
    if (socket !== undefined && decision.auto && !passthrough)
      cluster.transport_socket_matches = autoMtlsSocketMatches(socket);
    else if (socket !== undefined) cluster.transport_socket = socket;
  }
  // Proxyless gRPC: certificate providers from its bootstrap, and only when a rule asks.
  if (flavor === 'grpc') {
    const socket = grpcUpstreamTlsSocket(policy.tls, input.mtls.identities);
    if (socket !== undefined) cluster.transport_socket = socket;
  }
  const locality = policy.loadBalancer?.localityLbSetting;
  if (flavor === 'envoy' && locality?.enabled !== false && (locality?.distribute ?? []).length > 0) {
    cluster.common_lb_config = {
      ...cluster.common_lb_config,
      locality_weighted_lb_config: {},
    };
  }
  return cluster;
}

/** The cluster for a sidecar's own workload port: straight to the app on localhost. */
export function buildInboundCluster(servicePort: number, targetPort: number, http2: boolean): Cluster {
  const name = inboundCluster(servicePort);
  const cluster: Cluster = {
    name,
    type: 'STATIC',
    connect_timeout: durationMs(DEFAULT_CONNECT_TIMEOUT_MS),
    lb_policy: 'ROUND_ROBIN',
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress('127.0.0.1', targetPort) } }] }],
    },
    circuit_breakers: defaultCircuitBreakers(),
  };
  if (http2) {
    cluster.typed_extension_protocol_options = {
      [FILTER.http2Options]: pack(TYPE.http2Options, {
        explicit_http_config: { http2_protocol_options: {} },
      }),
    };
  }
  return cluster;
}

/** Istio's cluster for traffic to destinations outside the registry: the address dialled. */
export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';
/** Istio's cluster that drops traffic (outboundTrafficPolicy REGISTRY_ONLY). */
export const BLACKHOLE_CLUSTER = 'BlackHoleCluster';

export function buildPassthroughCluster(): Cluster {
  return {
    name: PASSTHROUGH_CLUSTER,
    type: 'ORIGINAL_DST',
    lb_policy: 'CLUSTER_PROVIDED',
    connect_timeout: durationMs(DEFAULT_CONNECT_TIMEOUT_MS),
    circuit_breakers: defaultCircuitBreakers(),
  };
}

export function buildBlackHoleCluster(): Cluster {
  return {
    name: BLACKHOLE_CLUSTER,
    type: 'STATIC',
    connect_timeout: durationMs(DEFAULT_CONNECT_TIMEOUT_MS),
    load_assignment: { cluster_name: BLACKHOLE_CLUSTER, endpoints: [] },
  };
}

function applyLoadBalancer(cluster: Cluster, lb: LoadBalancerSettings | undefined, flavor: Flavor): void {
  const hash = lb?.consistentHash;
  if (hash !== undefined) {
    if (hash.maglev !== undefined && flavor === 'envoy') {
      cluster.lb_policy = 'MAGLEV';
      if (hash.maglev.tableSize !== undefined)
        cluster.maglev_lb_config = { table_size: { value: hash.maglev.tableSize } };
      return;
    }
    // Ring hash, also what gRPC gets for maglev (grpc-js-xds implements only RING_HASH).
    cluster.lb_policy = 'RING_HASH';
    const min = hash.ringHash?.minimumRingSize ?? hash.minimumRingSize ?? 1024;
    cluster.ring_hash_lb_config = { minimum_ring_size: { value: min } };
    return;
  }
  switch (lb?.simple) {
    case 'LEAST_CONN':
    case 'LEAST_REQUEST':
      cluster.lb_policy = flavor === 'grpc' ? 'ROUND_ROBIN' : 'LEAST_REQUEST';
      return;
    case 'RANDOM':
      cluster.lb_policy = flavor === 'grpc' ? 'ROUND_ROBIN' : 'RANDOM';
      return;
    default:
      cluster.lb_policy = 'ROUND_ROBIN';
  }
}

/** Envoy's largest threshold (math.MaxUint32): a limit that never trips. */
export const UNLIMITED_THRESHOLD = 4_294_967_295;

/**
 * Istio's circuit-breaker thresholds for a cluster no DestinationRule limits: every limit at the
 * maximum, so Envoy's own defaults (3 concurrent retries, 1024 connections, pending and active
 * requests) do not turn a backend restart into failed retries. Istio gives these to its
 * outbound service and subset clusters, inbound clusters and the PassthroughCluster, not to the
 * BlackHoleCluster (pilot/pkg/networking/core/cluster_traffic_policy.go,
 * getDefaultCircuitBreakerThresholds).
 */
type Threshold = NonNullable<CircuitBreakers['thresholds']>[number];

export function defaultCircuitBreakers(): CircuitBreakers & { thresholds: Threshold[] } {
  return {
    thresholds: [
      {
        priority: 'DEFAULT',
        max_connections: wrapU32(UNLIMITED_THRESHOLD),
        max_pending_requests: wrapU32(UNLIMITED_THRESHOLD),
        max_requests: wrapU32(UNLIMITED_THRESHOLD),
        max_retries: wrapU32(UNLIMITED_THRESHOLD),
        track_remaining: true,
      },
    ],
  };
}

/**
 * A DestinationRule's connectionPool over Istio's defaults: each limit it sets (above zero, as
 * Istio reads them: a zero is indistinguishable from unset) replaces that one limit only, the
 * others stay at the maximum. Proxyless gRPC implements only max_requests (gRFC A32) and, as in
 * Istio's gRPC generator, gets thresholds only when the rule sets http2MaxRequests.
 */
function circuitBreakers(
  pool: ConnectionPoolSettings | undefined,
  flavor: Flavor,
): CircuitBreakers | undefined {
  const tcp = pool?.tcp;
  const http = pool?.http;
  const set = (n: number | undefined): n is number => n !== undefined && n > 0;
  if (flavor === 'grpc') {
    if (!set(http?.http2MaxRequests)) return undefined;
    return { thresholds: [{ priority: 'DEFAULT', max_requests: wrapU32(http.http2MaxRequests) }] };
  }
  const out = defaultCircuitBreakers();
  const threshold = out.thresholds[0]!;
  if (set(tcp?.maxConnections)) threshold.max_connections = wrapU32(tcp.maxConnections);
  if (set(http?.http1MaxPendingRequests))
    threshold.max_pending_requests = wrapU32(http.http1MaxPendingRequests);
  if (set(http?.http2MaxRequests)) threshold.max_requests = wrapU32(http.http2MaxRequests);
  if (set(http?.maxRetries)) threshold.max_retries = wrapU32(http.maxRetries);
  return out;
}

function applyConnectionPool(
  cluster: Cluster,
  pool: ConnectionPoolSettings | undefined,
  port: ServicePort,
  path: string,
  flavor: Flavor,
): void {
  const tcp = pool?.tcp;
  const http = pool?.http;
  const breakers = circuitBreakers(pool, flavor);
  if (breakers !== undefined) cluster.circuit_breakers = breakers;
  if (tcp?.tcpKeepalive !== undefined) {
    const ka = tcp.tcpKeepalive;
    const keepalive: TcpKeepalive = {};
    if (ka.probes !== undefined) keepalive.keepalive_probes = wrapU32(ka.probes);
    if (ka.time !== undefined)
      keepalive.keepalive_time = wrapU32(
        Math.round(durationSeconds(ka.time, `${path}.connectionPool.tcp.tcpKeepalive.time`)),
      );
    if (ka.interval !== undefined) {
      keepalive.keepalive_interval = wrapU32(
        Math.round(durationSeconds(ka.interval, `${path}.connectionPool.tcp.tcpKeepalive.interval`)),
      );
    }
    cluster.upstream_connection_options = { tcp_keepalive: keepalive };
  }
  const common: NonNullable<HttpProtocolOptions['common_http_protocol_options']> = {};
  if (http?.idleTimeout !== undefined)
    common.idle_timeout = durationOf(http.idleTimeout, `${path}.connectionPool.http.idleTimeout`);
  if (http?.maxRequestsPerConnection !== undefined && http.maxRequestsPerConnection > 0) {
    common.max_requests_per_connection = wrapU32(http.maxRequestsPerConnection);
  }
  if (tcp?.maxConnectionDuration !== undefined) {
    common.max_connection_duration = durationOf(
      tcp.maxConnectionDuration,
      `${path}.connectionPool.tcp.maxConnectionDuration`,
    );
  }
  const http2 = isHttp2Port(port) || http?.h2UpgradePolicy === 'UPGRADE';
  if (!http2 && Object.keys(common).length === 0) return;
  if (!isHttpPort(port)) return;
  const options: HttpProtocolOptions = {};
  if (Object.keys(common).length > 0) options.common_http_protocol_options = common;
  if (http2) {
    const h2: Http2ProtocolOptions = {};
    // 0 means Envoy's default, as in Istio; Envoy NACKs an explicit 0 (validate: gte 1).
    if (http?.maxConcurrentStreams !== undefined && http.maxConcurrentStreams > 0)
      h2.max_concurrent_streams = wrapU32(http.maxConcurrentStreams);
    options.explicit_http_config = { http2_protocol_options: h2 };
  } else {
    options.explicit_http_config = { http_protocol_options: {} };
  }
  cluster.typed_extension_protocol_options = { [FILTER.http2Options]: pack(TYPE.http2Options, options) };
}

function durationSeconds(text: string, path: string): number {
  const d = durationOf(text, path);
  return Number(d.seconds) + d.nanos / 1e9;
}

/**
 * Istio's mapping: a consecutive-errors setting both sets the threshold and enables its
 * enforcement (100%), and an explicit 0 disables it (enforcing 0); the deprecated
 * consecutiveErrors counts gateway errors only. Success-rate ejection is left to Envoy except
 * for gRPC, whose client enables it by default unless told 0.
 *
 * Proxyless gRPC clients implement only success-rate and failure-percentage ejection (gRFC
 * A50), not consecutive-error counting, so for them a consecutive-errors setting of N becomes
 * failure-percentage ejection: a host is ejected when more than half of at least N calls in one
 * interval failed (minimum hosts 1, always enforced).
 */
function outlierDetection(od: OutlierDetection, path: string, flavor: Flavor): EnvoyOutlierDetection {
  const out: EnvoyOutlierDetection = {};
  if (od.consecutiveErrors !== undefined && od.consecutiveErrors > 0) {
    out.consecutive_gateway_failure = wrapU32(od.consecutiveErrors);
    out.enforcing_consecutive_gateway_failure = wrapU32(100);
    out.enforcing_consecutive_5xx = wrapU32(0);
  }
  if (od.consecutive5xxErrors !== undefined) {
    out.consecutive_5xx = wrapU32(od.consecutive5xxErrors);
    out.enforcing_consecutive_5xx = wrapU32(od.consecutive5xxErrors > 0 ? 100 : 0);
  }
  if (od.consecutiveGatewayErrors !== undefined) {
    out.consecutive_gateway_failure = wrapU32(od.consecutiveGatewayErrors);
    out.enforcing_consecutive_gateway_failure = wrapU32(od.consecutiveGatewayErrors > 0 ? 100 : 0);
  }
  if (od.consecutiveLocalOriginFailures !== undefined && od.consecutiveLocalOriginFailures > 0) {
    out.consecutive_local_origin_failure = wrapU32(od.consecutiveLocalOriginFailures);
    out.enforcing_consecutive_local_origin_failure = wrapU32(100);
  }
  if (od.splitExternalLocalOriginErrors === true) out.split_external_local_origin_errors = true;
  if (od.interval !== undefined) out.interval = durationOf(od.interval, `${path}.outlierDetection.interval`);
  if (od.baseEjectionTime !== undefined) {
    out.base_ejection_time = durationOf(od.baseEjectionTime, `${path}.outlierDetection.baseEjectionTime`);
  }
  if (od.maxEjectionPercent !== undefined) out.max_ejection_percent = wrapU32(od.maxEjectionPercent);
  if (flavor === 'grpc') {
    out.enforcing_success_rate = wrapU32(0);
    const consecutive = [od.consecutive5xxErrors, od.consecutiveGatewayErrors, od.consecutiveErrors].find(
      (n) => n !== undefined && n > 0,
    );
    if (consecutive !== undefined) {
      out.enforcing_failure_percentage = wrapU32(100);
      out.failure_percentage_threshold = wrapU32(50);
      out.failure_percentage_request_volume = wrapU32(consecutive);
      out.failure_percentage_minimum_hosts = wrapU32(1);
    }
  }
  return out;
}
