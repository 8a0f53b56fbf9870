// A DestinationRule's trafficPolicy on an outbound Envoy Cluster, field by field, as Istio
// applies it (pilot/pkg/networking/core/cluster_traffic_policy.go): discovery type by
// resolution, balancer by flavor, connection pool limits and options, outlier detection, panic
// threshold and locality weighting. Built with buildOutboundCluster directly.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TrafficPolicy } from '../../api/networking/types.js';
import { unpackAny, type AnyMessage } from '../../protocol/protos.js';
import type { Service, ServicePort } from '../../registry/types.js';
import { buildOutboundCluster, type Flavor } from './cluster.js';
import { http, service, type Loose as Json } from './testkit.js';

const HOST = 'reviews.default.svc.cluster.local';
const HTTP_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

function build(
  policy: TrafficPolicy = {},
  opts: { flavor?: Flavor; port?: ServicePort; svc?: Partial<Service> } = {},
): Json {
  const port = opts.port ?? http(9080);
  return buildOutboundCluster({
    service: service(HOST, [port], opts.svc),
    port,
    subset: '',
    policy,
    flavor: opts.flavor ?? 'envoy',
    // Auto mTLS off: these cases are about the traffic policy alone.
    mtls: {
      autoMtls: false,
      meshExternal: false,
      serviceMode: undefined,
      identities: [],
      allEndpointsMeshed: false,
    },
  });
}

function httpOptions(c: Json): Json {
  const any = (c.typed_extension_protocol_options as Record<string, AnyMessage> | undefined)?.[HTTP_OPTIONS];
  return any === undefined ? undefined : unpackAny(any);
}

const tcpPort: ServicePort = { name: 'tcp', number: 3306, protocol: 'TCP' };
const h2Port: ServicePort = { name: 'h2', number: 9090, protocol: 'HTTP2' };

test('HTTP2 ports, and HTTP ports with h2UpgradePolicy UPGRADE, speak HTTP/2 upstream', () => {
  assert.ok('http2_protocol_options' in httpOptions(build({}, { port: h2Port }))!.explicit_http_config);
  const upgraded = build({
    connectionPool: { http: { h2UpgradePolicy: 'UPGRADE', maxConcurrentStreams: 100 } },
  });
  const h2 = httpOptions(upgraded)!;
  assert.deepEqual(h2.explicit_http_config.http2_protocol_options.max_concurrent_streams, { value: 100 });
  // No common options were set, so none are sent.
  assert.equal(h2.common_http_protocol_options, undefined);
  assert.equal(httpOptions(build({ connectionPool: { http: { h2UpgradePolicy: 'DEFAULT' } } })), undefined);
});

test('TCP ports get no HTTP protocol options, whatever the HTTP pool settings', () => {
  const c = build(
    { connectionPool: { http: { idleTimeout: '30s', h2UpgradePolicy: 'UPGRADE' } } },
    { port: tcpPort },
  );
  assert.equal(c.typed_extension_protocol_options, undefined);
});

test('HTTP pool: max connection duration and idle timeout are common options; a zero requests-per-connection is unset', () => {
  const c = build({
    connectionPool: { tcp: { maxConnectionDuration: '1h' }, http: { maxRequestsPerConnection: 0 } },
  });
  const common = httpOptions(c)!.common_http_protocol_options;
  assert.deepEqual(common.max_connection_duration, { seconds: 3600 });
  assert.equal(common.max_requests_per_connection, undefined);
  assert.equal(httpOptions(build({ connectionPool: { http: { maxRequestsPerConnection: 0 } } })), undefined);
});

test('TCP keepalive: probes, and time and interval in whole seconds', () => {
  const c = build({
    connectionPool: { tcp: { tcpKeepalive: { probes: 3, time: '7200s', interval: '1500ms' } } },
  });
  assert.deepEqual(c.upstream_connection_options, {
    tcp_keepalive: {
      keepalive_probes: { value: 3 },
      keepalive_time: { value: 7200 },
      keepalive_interval: { value: 2 },
    },
  });
  const probesOnly = build({ connectionPool: { tcp: { tcpKeepalive: { probes: 9 } } } });
  assert.deepEqual(probesOnly.upstream_connection_options, {
    tcp_keepalive: { keepalive_probes: { value: 9 } },
  });
  const timeOnly = build({ connectionPool: { tcp: { tcpKeepalive: { time: '60s' } } } });
  assert.deepEqual(timeOnly.upstream_connection_options, {
    tcp_keepalive: { keepalive_time: { value: 60 } },
  });
  assert.equal(build().upstream_connection_options, undefined);
});

test('connection pool limits of zero read as unset: that limit stays at the maximum', () => {
  const c = build({
    connectionPool: {
      tcp: { maxConnections: 0 },
      http: { http1MaxPendingRequests: 0, http2MaxRequests: 7, maxRetries: 0 },
    },
  });
  const t = c.circuit_breakers.thresholds[0];
  assert.deepEqual(t.max_connections, { value: 4_294_967_295 });
  assert.deepEqual(t.max_pending_requests, { value: 4_294_967_295 });
  assert.deepEqual(t.max_requests, { value: 7 });
  assert.deepEqual(t.max_retries, { value: 4_294_967_295 });
});

test('resolution NONE (Envoy flavor) forwards to the original destination, with no TLS', () => {
  const c = build({ tls: { mode: 'SIMPLE' } }, { svc: { resolution: 'NONE' } });
  assert.equal(c.type, 'ORIGINAL_DST');
  assert.equal(c.lb_policy, 'CLUSTER_PROVIDED');
  assert.equal(c.transport_socket, undefined);
  // Proxyless gRPC has no original-destination clusters: it gets EDS.
  assert.equal(build({}, { flavor: 'grpc', svc: { resolution: 'NONE' } }).type, 'EDS');
  assert.equal(build({}, { flavor: 'grpc', svc: { resolution: 'DNS' } }).type, 'EDS');
});

test('a DNS service without resolved names still carries a load assignment for its cluster', () => {
  const c = build({}, { svc: { resolution: 'DNS' } });
  assert.equal(c.type, 'STRICT_DNS');
  assert.deepEqual(c.load_assignment, { cluster_name: `outbound|9080||${HOST}`, endpoints: [] });
  assert.equal(build({}, { svc: { resolution: 'DNS_ROUND_ROBIN' } }).type, 'LOGICAL_DNS');
});

test('upstream TLS is an Envoy-flavor socket; proxyless gRPC gets none', () => {
  const tls: TrafficPolicy = { tls: { mode: 'SIMPLE' } };
  assert.ok(build(tls).transport_socket);
  assert.equal(build(tls, { flavor: 'grpc' }).transport_socket, undefined);
});

test('balancers proxyless gRPC lacks become round robin; maglev without a size keeps Envoy default', () => {
  for (const simple of ['LEAST_CONN', 'LEAST_REQUEST', 'RANDOM'] as const) {
    assert.equal(build({ loadBalancer: { simple } }, { flavor: 'grpc' }).lb_policy, 'ROUND_ROBIN', simple);
  }
  assert.equal(build({ loadBalancer: { simple: 'LEAST_CONN' } }).lb_policy, 'LEAST_REQUEST');
  const maglev = build({ loadBalancer: { consistentHash: { httpHeaderName: 'x', maglev: {} } } });
  assert.equal(maglev.lb_policy, 'MAGLEV');
  assert.equal(maglev.maglev_lb_config, undefined);
});

test('minHealthPercent is the panic threshold (0 turns panic mode off); not for proxyless gRPC', () => {
  const panic = (n: number | undefined, flavor: Flavor = 'envoy'): Json =>
    build({ outlierDetection: { minHealthPercent: n } }, { flavor }).common_lb_config
      ?.healthy_panic_threshold;
  assert.deepEqual(panic(30), { value: 30 });
  assert.deepEqual(panic(0), { value: 0 });
  assert.equal(panic(undefined), undefined);
  assert.equal(panic(30, 'grpc'), undefined);
});

test('locality distribute turns on locality-weighted balancing unless disabled; not for gRPC', () => {
  const distribute = [{ from: 'us/a/*', to: { 'us/a/*': 80, 'us/b/*': 20 } }];
  const weighted = (enabled: boolean | undefined, flavor: Flavor = 'envoy'): Json =>
    build(
      { loadBalancer: { localityLbSetting: { distribute, ...(enabled === undefined ? {} : { enabled }) } } },
      { flavor },
    ).common_lb_config?.locality_weighted_lb_config;
  assert.deepEqual(weighted(undefined), {});
  assert.deepEqual(weighted(true), {});
  assert.equal(weighted(false), undefined);
  assert.equal(weighted(undefined, 'grpc'), undefined);
  assert.equal(build({ loadBalancer: { localityLbSetting: { failover: [] } } }).common_lb_config, undefined);
});

test('outlier detection: unset error counts are left to Envoy; explicit 0 disables that ejection', () => {
  const od = (o: TrafficPolicy['outlierDetection'], flavor: Flavor = 'envoy'): Json =>
    build({ outlierDetection: o }, { flavor }).outlier_detection;
  const only = od({ interval: '5s', baseEjectionTime: '1m', maxEjectionPercent: 50 });
  assert.deepEqual(only, {
    interval: { seconds: 5, nanos: 0 },
    base_ejection_time: { seconds: 60, nanos: 0 },
    max_ejection_percent: { value: 50 },
  });
  const off = od({ consecutive5xxErrors: 0, consecutiveGatewayErrors: 0 });
  assert.deepEqual(off.enforcing_consecutive_5xx, { value: 0 });
  assert.deepEqual(off.enforcing_consecutive_gateway_failure, { value: 0 });
  const on = od({ consecutive5xxErrors: 3, consecutiveGatewayErrors: 2 });
  assert.deepEqual(on.enforcing_consecutive_5xx, { value: 100 });
  assert.deepEqual(on.enforcing_consecutive_gateway_failure, { value: 100 });
});

test('deprecated consecutiveErrors counts gateway errors only; 0 sets nothing', () => {
  const od = (n: number): Json => build({ outlierDetection: { consecutiveErrors: n } }).outlier_detection;
  assert.deepEqual(od(4), {
    consecutive_gateway_failure: { value: 4 },
    enforcing_consecutive_gateway_failure: { value: 100 },
    enforcing_consecutive_5xx: { value: 0 },
  });
  assert.deepEqual(od(0), {});
});

test('consecutive local-origin failures are enforced when above zero', () => {
  const od = (n: number): Json =>
    build({ outlierDetection: { consecutiveLocalOriginFailures: n, splitExternalLocalOriginErrors: true } })
      .outlier_detection;
  assert.deepEqual(od(3).consecutive_local_origin_failure, { value: 3 });
  assert.deepEqual(od(3).enforcing_consecutive_local_origin_failure, { value: 100 });
  assert.equal(od(3).split_external_local_origin_errors, true);
  assert.equal(od(0).consecutive_local_origin_failure, undefined);
});

test('proxyless gRPC: consecutive errors become failure-percentage ejection (gRFC A50), success rate is off', () => {
  const od = (o: TrafficPolicy['outlierDetection']): Json =>
    build({ outlierDetection: o }, { flavor: 'grpc' }).outlier_detection;
  for (const o of [{ consecutive5xxErrors: 6 }, { consecutiveGatewayErrors: 6 }, { consecutiveErrors: 6 }]) {
    const out = od(o);
    assert.deepEqual(out.enforcing_success_rate, { value: 0 });
    assert.deepEqual(out.enforcing_failure_percentage, { value: 100 }, JSON.stringify(o));
    assert.deepEqual(out.failure_percentage_threshold, { value: 50 });
    assert.deepEqual(out.failure_percentage_request_volume, { value: 6 });
    assert.deepEqual(out.failure_percentage_minimum_hosts, { value: 1 });
  }
  // The first setting above zero wins: 5xx, then gateway, then the deprecated field.
  assert.deepEqual(
    od({ consecutive5xxErrors: 0, consecutiveGatewayErrors: 4 }).failure_percentage_request_volume,
    {
      value: 4,
    },
  );
  const none = od({ consecutive5xxErrors: 0, interval: '1s' });
  assert.equal(none.enforcing_failure_percentage, undefined);
  assert.equal(none.failure_percentage_request_volume, undefined);
  // Envoy flavor never gets failure-percentage settings from Istio's fields.
  const envoy = build({ outlierDetection: { consecutive5xxErrors: 6 } }).outlier_detection;
  assert.equal(envoy.enforcing_failure_percentage, undefined);
  assert.equal(envoy.enforcing_success_rate, undefined);
});
