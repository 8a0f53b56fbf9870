import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DestinationRuleSpec } from '../../api/networking/types.js';
import { TYPE, unpackAny } from '../../protocol/protos.js';
import { buildPushContext, generate } from './index.js';
import {
  checkEncodes,
  config,
  endpoint,
  grpc,
  grpcClientErrors,
  http,
  proxy,
  registry,
  res,
  service,
  type Loose,
} from './testkit.js';

const HOST = 'reviews.default.svc.cluster.local';

/** Istio's getDefaultCircuitBreakerThresholds: math.MaxUint32 everywhere, remaining tracked. */
const MAX_THRESHOLDS = {
  priority: 'DEFAULT',
  max_connections: { value: 4294967295 },
  max_pending_requests: { value: 4294967295 },
  max_requests: { value: 4294967295 },
  max_retries: { value: 4294967295 },
  track_remaining: true,
};

function clustersFor(
  rule: DestinationRuleSpec | undefined,
  type: 'sidecar' | 'grpc' = 'sidecar',
  ports = [http(9080)],
) {
  const cfg = config(rule ? [res('DestinationRule', 'default', 'reviews', rule)] : []);
  const push = buildPushContext(cfg, registry([service(HOST, ports)]));
  const out = generate(push, proxy({ type, ipAddresses: ['10.9.9.9'] }), TYPE.cluster);
  checkEncodes(TYPE.cluster, out);
  if (type === 'grpc') assert.deepEqual(grpcClientErrors(TYPE.cluster, out), []);
  return out;
}

function cluster(
  rule: DestinationRuleSpec | undefined,
  name = `outbound|9080||${HOST}`,
): Record<string, unknown> {
  const c = clustersFor(rule).get(name);
  assert.ok(c, `cluster ${name}`);
  return c as Record<string, unknown>;
}

/** Trellis's default retry budget on outbound clusters (Envoy's defaults; retry-budget.ts). */
const DEFAULT_BUDGET = {
  retry_budget: { budget_percent: { value: 20 }, min_retry_concurrency: { value: 3 } },
};

test('a service port without a DestinationRule is an EDS cluster with Istio defaults and the Trellis retry budget', () => {
  const { transport_socket_matches: matches, ...rest } = cluster(undefined) as Loose;
  // Auto mTLS (mesh default): mTLS to sidecar endpoints, plaintext to the rest (security/ tests).
  assert.deepEqual(
    (matches as Loose[]).map((m: Loose) => String(m.name)),
    ['tlsMode-istio', 'tlsMode-disabled'],
  );
  assert.deepEqual(rest, {
    name: `outbound|9080||${HOST}`,
    type: 'EDS',
    eds_cluster_config: {
      eds_config: { ads: {}, resource_api_version: 'V3' },
      service_name: `outbound|9080||${HOST}`,
    },
    lb_policy: 'ROUND_ROBIN',
    connect_timeout: { seconds: 10, nanos: 0 },
    circuit_breakers: { thresholds: [{ ...MAX_THRESHOLDS, ...DEFAULT_BUDGET }] },
  });
});

test('Istio circuit-breaker defaults (every limit at the maximum) on service, inbound and passthrough clusters, not the black hole', () => {
  const cfg = config([
    res('Sidecar', 'default', 'ingress', {
      workloadSelector: { labels: { app: 'reviews' } },
      ingress: [
        { port: { number: 9080, name: 'http', protocol: 'HTTP' }, defaultEndpoint: '127.0.0.1:8080' },
      ],
    }),
  ]);
  const push = buildPushContext(cfg, registry([service(HOST, [http(9080)])]));
  const out = generate(
    push,
    proxy({ type: 'sidecar', ipAddresses: ['10.9.9.9'], labels: { app: 'reviews' } }),
    TYPE.cluster,
  );
  const breakers = (name: string) => (out.get(name) as Record<string, unknown> | undefined)?.circuit_breakers;
  assert.deepEqual(breakers('PassthroughCluster'), { thresholds: [MAX_THRESHOLDS] });
  assert.equal(breakers('BlackHoleCluster'), undefined);
  const inbound = [...out.keys()].find((n) => n.startsWith('inbound|'));
  assert.ok(inbound, `an inbound cluster among ${[...out.keys()].join(', ')}`);
  assert.deepEqual(breakers(inbound), { thresholds: [MAX_THRESHOLDS] });
});

test('a DestinationRule that sets only http1MaxPendingRequests keeps every other limit at the maximum', () => {
  const c = cluster({
    host: HOST,
    trafficPolicy: { connectionPool: { http: { http1MaxPendingRequests: 7 } } },
  });
  assert.deepEqual(c.circuit_breakers, {
    thresholds: [{ ...MAX_THRESHOLDS, max_pending_requests: { value: 7 }, ...DEFAULT_BUDGET }],
  });
});

test('a proxyless gRPC cluster gets only max_requests, and only when http2MaxRequests is set (gRFC A32)', () => {
  const grpcCluster = (rule: DestinationRuleSpec | undefined) =>
    clustersFor(rule, 'grpc', [grpc(9080)]).get(`outbound|9080||${HOST}`) as Record<string, unknown>;
  assert.equal(grpcCluster(undefined).circuit_breakers, undefined);
  assert.deepEqual(
    grpcCluster({
      host: HOST,
      trafficPolicy: {
        connectionPool: { tcp: { maxConnections: 3 }, http: { http2MaxRequests: 9, maxRetries: 2 } },
      },
    }).circuit_breakers,
    { thresholds: [{ priority: 'DEFAULT', max_requests: { value: 9 } }] },
  );
});

const TABLE: { name: string; rule: DestinationRuleSpec; expect: Record<string, unknown> }[] = [
  {
    name: 'LEAST_REQUEST',
    rule: { host: HOST, trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } } },
    expect: { lb_policy: 'LEAST_REQUEST' },
  },
  {
    name: 'LEAST_CONN maps to LEAST_REQUEST',
    rule: { host: HOST, trafficPolicy: { loadBalancer: { simple: 'LEAST_CONN' } } },
    expect: { lb_policy: 'LEAST_REQUEST' },
  },
  {
    name: 'RANDOM',
    rule: { host: HOST, trafficPolicy: { loadBalancer: { simple: 'RANDOM' } } },
    expect: { lb_policy: 'RANDOM' },
  },
  {
    name: 'PASSTHROUGH is an original-destination cluster',
    rule: { host: HOST, trafficPolicy: { loadBalancer: { simple: 'PASSTHROUGH' } } },
    expect: { type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', eds_cluster_config: undefined },
  },
  {
    name: 'consistentHash defaults to a 1024 ring',
    rule: { host: HOST, trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } } } },
    expect: { lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: { value: 1024 } } },
  },
  {
    name: 'ringHash minimumRingSize',
    rule: {
      host: HOST,
      trafficPolicy: {
        loadBalancer: { consistentHash: { useSourceIp: true, ringHash: { minimumRingSize: 64 } } },
      },
    },
    expect: { lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: { value: 64 } } },
  },
  {
    name: 'maglev',
    rule: {
      host: HOST,
      trafficPolicy: {
        loadBalancer: { consistentHash: { useSourceIp: true, maglev: { tableSize: 65537 } } },
      },
    },
    expect: { lb_policy: 'MAGLEV', maglev_lb_config: { table_size: { value: 65537 } } },
  },
  {
    name: 'connect timeout and circuit breakers',
    rule: {
      host: HOST,
      trafficPolicy: {
        connectionPool: {
          tcp: { connectTimeout: '1.5s', maxConnections: 10 },
          http: { http1MaxPendingRequests: 5, http2MaxRequests: 50, maxRetries: 3 },
        },
      },
    },
    expect: {
      connect_timeout: { seconds: 1, nanos: 500_000_000 },
      circuit_breakers: {
        thresholds: [
          {
            priority: 'DEFAULT',
            max_connections: { value: 10 },
            max_pending_requests: { value: 5 },
            max_requests: { value: 50 },
            max_retries: { value: 3 },
            track_remaining: true,
          },
        ],
      },
    },
  },
  {
    name: 'consecutive5xxErrors enables enforcement; gateway errors of 0 disable it',
    rule: {
      host: HOST,
      trafficPolicy: {
        outlierDetection: {
          consecutive5xxErrors: 7,
          consecutiveGatewayErrors: 0,
          consecutiveLocalOriginFailures: 2,
          splitExternalLocalOriginErrors: true,
          interval: '10s',
          baseEjectionTime: '30s',
          maxEjectionPercent: 50,
        },
      },
    },
    expect: {
      outlier_detection: {
        consecutive_5xx: { value: 7 },
        enforcing_consecutive_5xx: { value: 100 },
        consecutive_gateway_failure: { value: 0 },
        enforcing_consecutive_gateway_failure: { value: 0 },
        consecutive_local_origin_failure: { value: 2 },
        enforcing_consecutive_local_origin_failure: { value: 100 },
        split_external_local_origin_errors: true,
        interval: { seconds: 10, nanos: 0 },
        base_ejection_time: { seconds: 30, nanos: 0 },
        max_ejection_percent: { value: 50 },
      },
    },
  },
  {
    name: 'consecutive5xxErrors: 0 disables 5xx ejection',
    rule: { host: HOST, trafficPolicy: { outlierDetection: { consecutive5xxErrors: 0 } } },
    expect: { outlier_detection: { consecutive_5xx: { value: 0 }, enforcing_consecutive_5xx: { value: 0 } } },
  },
  {
    name: 'locality distribute turns on locality-weighted balancing',
    rule: {
      host: HOST,
      trafficPolicy: {
        loadBalancer: {
          simple: 'ROUND_ROBIN',
          localityLbSetting: { distribute: [{ from: 'r1/*', to: { 'r1/*': 80, 'r2/*': 20 } }] },
        },
      },
    },
    expect: { common_lb_config: { locality_weighted_lb_config: {} } },
  },
];

for (const row of TABLE) {
  test(`DestinationRule -> cluster: ${row.name}`, () => {
    const c = cluster(row.rule);
    for (const [k, v] of Object.entries(row.expect)) assert.deepEqual(c[k], v, k);
  });
}

test('HTTP options go in typed_extension_protocol_options; gRPC ports get HTTP/2', () => {
  const c = cluster({
    host: HOST,
    trafficPolicy: { connectionPool: { http: { idleTimeout: '1m', maxRequestsPerConnection: 1 } } },
  });
  const any = (c.typed_extension_protocol_options as Record<string, { type_url: string; value: Uint8Array }>)[
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions'
  ]!;
  assert.deepEqual(unpackAny(any), {
    common_http_protocol_options: {
      idle_timeout: { seconds: 60 },
      max_requests_per_connection: { value: 1 },
    },
    explicit_http_config: { http_protocol_options: {}, protocol_config: 'http_protocol_options' },
    upstream_protocol_options: 'explicit_http_config',
  });
  const h2 = clustersFor(undefined, 'sidecar', [grpc(50051)]).get(`outbound|50051||${HOST}`) as Record<
    string,
    unknown
  >;
  const opts = unpackAny(
    (h2.typed_extension_protocol_options as Record<string, { type_url: string; value: Uint8Array }>)[
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions'
    ]!,
  );
  assert.deepEqual(opts.explicit_http_config, {
    http2_protocol_options: {},
    protocol_config: 'http2_protocol_options',
  });
});

test('subsets get their own clusters; subset policy overrides the rule, port-level overrides top-level', () => {
  const rule: DestinationRuleSpec = {
    host: 'reviews',
    trafficPolicy: {
      loadBalancer: { simple: 'RANDOM' },
      portLevelSettings: [{ port: { number: 9080 }, connectionPool: { tcp: { connectTimeout: '2s' } } }],
    },
    subsets: [
      { name: 'v1', labels: { version: 'v1' } },
      { name: 'v2', labels: { version: 'v2' }, trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } } },
    ],
  };
  const all = clustersFor(rule);
  const base = all.get(`outbound|9080||${HOST}`) as Record<string, unknown>;
  const v1 = all.get(`outbound|9080|v1|${HOST}`) as Record<string, unknown>;
  const v2 = all.get(`outbound|9080|v2|${HOST}`) as Record<string, unknown>;
  assert.equal(base.lb_policy, 'RANDOM');
  assert.deepEqual(base.connect_timeout, { seconds: 2, nanos: 0 });
  assert.equal(v1.lb_policy, 'RANDOM');
  assert.equal(v2.lb_policy, 'LEAST_REQUEST');
  assert.deepEqual(v2.connect_timeout, { seconds: 2, nanos: 0 });
  assert.deepEqual(
    (v2.eds_cluster_config as Record<string, unknown>).service_name,
    `outbound|9080|v2|${HOST}`,
  );
});

test('proxyless gRPC gets only policies its client accepts', () => {
  const rule: DestinationRuleSpec = {
    host: HOST,
    trafficPolicy: {
      loadBalancer: { simple: 'LEAST_REQUEST' },
      outlierDetection: { consecutive5xxErrors: 3 },
    },
    subsets: [
      {
        name: 'hash',
        trafficPolicy: { loadBalancer: { consistentHash: { maglev: {}, httpHeaderName: 'x' } } },
      },
    ],
  };
  const all = clustersFor(rule, 'grpc', [grpc(50051)]);
  const base = all.get(`outbound|50051||${HOST}`) as Record<string, unknown>;
  assert.equal(base.lb_policy, 'ROUND_ROBIN');
  assert.deepEqual((base.outlier_detection as Record<string, unknown>).enforcing_success_rate, { value: 0 });
  assert.equal((all.get(`outbound|50051|hash|${HOST}`) as Record<string, unknown>).lb_policy, 'RING_HASH');
  assert.equal(
    [...all.keys()].some((n) => n.startsWith('inbound')),
    false,
  );
});

test('DNS-resolved services are STRICT_DNS / LOGICAL_DNS clusters with their endpoints inline', () => {
  const ext = 'api.example.com';
  const push = buildPushContext(
    config([]),
    registry(
      [
        service(ext, [http(443, 'https')], { namespace: 'default', resolution: 'DNS' }),
        service('one.example.com', [http(80)], { resolution: 'DNS_ROUND_ROBIN' }),
      ],
      [endpoint(ext, 'a.example.com'), endpoint(ext, 'b.example.com', { ports: { https: 8443 } })],
    ),
  );
  const all = generate(push, proxy(), TYPE.cluster);
  checkEncodes(TYPE.cluster, all);
  const c = all.get(`outbound|443||${ext}`) as Loose;
  assert.equal(c.type, 'STRICT_DNS');
  assert.equal(c.eds_cluster_config, undefined);
  assert.deepEqual(
    c.load_assignment.endpoints[0].lb_endpoints.map(
      (e: Loose) =>
        `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value}`,
    ),
    ['a.example.com:443', 'b.example.com:8443'],
  );
  assert.equal((all.get('outbound|80||one.example.com') as Loose).type, 'LOGICAL_DNS');
  // Their endpoints travel in CDS, so EDS has nothing for them.
  assert.equal(generate(push, proxy(), TYPE.endpoint).size, 0);
});

test('DestinationRule tls becomes the upstream TLS transport socket', () => {
  const istio = cluster({ host: HOST, trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } });
  const socket = istio.transport_socket as Loose;
  assert.equal(socket.name, 'envoy.transport_sockets.tls');
  const ctx: Loose = unpackAny(socket.typed_config);
  assert.equal(ctx.sni, `outbound_.9080_._.${HOST}`);
  assert.equal(ctx.common_tls_context.tls_certificate_sds_secret_configs[0].name, 'default');
  assert.equal(
    ctx.common_tls_context.combined_validation_context.validation_context_sds_secret_config.name,
    'ROOTCA',
  );

  const simple = cluster({
    host: HOST,
    trafficPolicy: {
      tls: { mode: 'SIMPLE', caCertificates: '/etc/ca.pem', subjectAltNames: ['spiffe://x'], sni: 'api' },
    },
  });
  const sctx: Loose = unpackAny((simple.transport_socket as Loose).typed_config);
  assert.equal(sctx.sni, 'api');
  assert.deepEqual(sctx.common_tls_context.validation_context, {
    trusted_ca: { filename: '/etc/ca.pem', specifier: 'filename' },
    match_subject_alt_names: [{ exact: 'spiffe://x', match_pattern: 'exact' }],
  });
  const mutual = cluster({
    host: HOST,
    trafficPolicy: { tls: { mode: 'MUTUAL', credentialName: 'client' } },
  });
  const mctx: Loose = unpackAny((mutual.transport_socket as Loose).typed_config);
  assert.equal(mctx.common_tls_context.tls_certificate_sds_secret_configs[0].name, 'client');
  assert.equal(
    mctx.common_tls_context.combined_validation_context.validation_context_sds_secret_config.name,
    'client-cacert',
  );
  assert.equal(
    cluster({ host: HOST, trafficPolicy: { tls: { mode: 'DISABLE' } } }).transport_socket,
    undefined,
  );
});

test('maxConcurrentStreams 0 leaves Envoy its default (an explicit 0 is NACKed); a positive value is sent', () => {
  const h2Options = (streams: number): unknown => {
    const rule = {
      host: HOST,
      trafficPolicy: { connectionPool: { http: { maxConcurrentStreams: streams } } },
    };
    // checkEncodes (inside clustersFor) holds the cluster to Envoy's validate rules.
    const c = clustersFor(rule, 'sidecar', [grpc(50051)]).get(`outbound|50051||${HOST}`) as Loose;
    return unpackAny<Loose>(
      c.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'],
    ).explicit_http_config.http2_protocol_options;
  };
  assert.deepEqual(h2Options(0), {});
  assert.deepEqual(h2Options(100), { max_concurrent_streams: { value: 100 } });
});
