/**
 * Istio's documented defaults, checked one value at a time against what the translator emits when
 * the user sets nothing. Each row cites where the value comes from (Istio's reference docs, or
 * the Istio/Envoy source when the docs are silent), so a row changes only when Istio does, never
 * to match what the code happens to emit today.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HTTPRoute } from '../../api/networking/types.js';
import { TYPE } from '../../protocol/protos.js';
import { buildPushContext, generate } from './index.js';
import { config, http, proxy, registry, res, service, type Loose as Json } from './testkit.js';

const HOST = 'reviews.default.svc.cluster.local';
const MAX_U32 = 4_294_967_295;

/** The outbound cluster and the route to it, for a service with no DestinationRule. */
function generated(http_: HTTPRoute[] | undefined, extra: ReturnType<typeof res>[] = []) {
  const resources = [
    ...(http_ ? [res('VirtualService', 'default', 'vs', { hosts: ['reviews'], http: http_ })] : []),
    ...extra,
  ];
  const push = buildPushContext(config(resources), registry([service(HOST, [http(9080)])]));
  const p = proxy({ type: 'sidecar', ipAddresses: ['10.9.9.9'] });
  const cluster = generate(push, p, TYPE.cluster).get(`outbound|9080||${HOST}`) as Json;
  const routes = generate(push, p, TYPE.route).get('9080') as Json;
  const vhost = (routes.virtual_hosts as Json[]).find((v) => v.name === `${HOST}:9080`);
  assert.ok(cluster && vhost);
  return { cluster, route: (vhost.routes as Json[])[0] };
}

const noRule = generated(undefined);
const withVs = generated([{ route: [{ destination: { host: 'reviews' } }] }]);
const consistentHash = res('DestinationRule', 'default', 'sticky', {
  host: 'reviews',
  trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } } },
});
const hashedNoRule = generated(undefined, [consistentHash]);
const hashedWithVs = generated([{ route: [{ destination: { host: 'reviews' } }] }], [consistentHash]);
const withRetriesNoRetryOn = generated([
  { route: [{ destination: { host: 'reviews' } }], retries: { attempts: 4, perTryTimeout: '1s' } },
]);

interface Row {
  what: string;
  /** Where the expected value is documented. */
  source: string;
  actual: unknown;
  expected: unknown;
}

const rows: Row[] = [
  {
    what: 'cluster connect_timeout',
    // MeshConfig.connectTimeout: "Default timeout is 10s."
    source: 'https://istio.io/latest/docs/reference/config/istio.mesh.v1alpha1/#MeshConfig',
    actual: noRule.cluster.connect_timeout,
    expected: { seconds: 10, nanos: 0 },
  },
  ...(['max_connections', 'max_pending_requests', 'max_requests', 'max_retries'] as const).map((field) => ({
    what: `circuit breaker ${field}`,
    // getDefaultCircuitBreakerThresholds: math.MaxUint32 for all four (Envoy's own defaults,
    // e.g. max_retries 3, trip during rolling updates), remaining tracked.
    source:
      'https://github.com/istio/istio/blob/master/pilot/pkg/networking/core/cluster_traffic_policy.go (getDefaultCircuitBreakerThresholds)',
    actual: noRule.cluster.circuit_breakers.thresholds[0][field],
    expected: { value: MAX_U32 },
  })),
  {
    what: 'circuit breaker track_remaining',
    source:
      'https://github.com/istio/istio/blob/master/pilot/pkg/networking/core/cluster_traffic_policy.go (TrackRemaining: !DisableTrackRemainingMetrics)',
    actual: noRule.cluster.circuit_breakers.thresholds[0].track_remaining,
    expected: true,
  },
  {
    what: 'no outlier detection without a DestinationRule',
    // DestinationRule.trafficPolicy.outlierDetection is opt-in.
    source: 'https://istio.io/latest/docs/reference/config/networking/destination-rule/#OutlierDetection',
    actual: noRule.cluster.outlier_detection,
    expected: undefined,
  },
  {
    what: 'upstream idle_timeout and max_requests_per_connection left to Envoy (1 h, unlimited)',
    // ConnectionPoolSettings.HTTPSettings.idleTimeout: "If not set, the default is 1 hour";
    // maxRequestsPerConnection: "Default 0, meaning unlimited". Envoy's defaults are the same,
    // so Istio sends nothing.
    source:
      'https://istio.io/latest/docs/reference/config/networking/destination-rule/#ConnectionPoolSettings-HTTPSettings',
    actual: noRule.cluster.typed_extension_protocol_options,
    expected: undefined,
  },
  {
    what: 'no TCP keepalive unless configured',
    // MeshConfig.tcpKeepalive / ConnectionPoolSettings.TCPSettings.tcpKeepalive: "If set then set
    // SO_KEEPALIVE on the socket"; unset means the OS default (off).
    source: 'https://istio.io/latest/docs/reference/config/istio.mesh.v1alpha1/#MeshConfig',
    actual: noRule.cluster.upstream_connection_options,
    expected: undefined,
  },
  {
    what: 'route timeout disabled',
    // HTTPRoute.timeout: "Timeout for HTTP requests, default is disabled." (Envoy's own default
    // is 15 s, so 0s is sent explicitly.)
    source: 'https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRoute',
    actual: withVs.route.route.timeout,
    expected: { seconds: 0, nanos: 0 },
  },
  ...(
    [
      ['the default route of a service without a VirtualService', noRule],
      ['a VirtualService route without retries', withVs],
    ] as const
  ).flatMap(([where, g]) => [
    {
      what: `default retries, ${where}: num_retries`,
      // HTTPRetry.attempts: default retry policy of 2 attempts (retry.DefaultPolicy).
      source:
        'https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRetry; https://github.com/istio/istio/blob/master/pilot/pkg/networking/core/route/retry/retry.go',
      actual: g.route.route.retry_policy?.num_retries,
      expected: { value: 2 },
    },
    {
      what: `default retries, ${where}: retry_on`,
      source: 'https://github.com/istio/istio/blob/master/pilot/pkg/networking/core/route/retry/retry.go',
      actual: g.route.route.retry_policy?.retry_on,
      expected: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
    },
    {
      what: `default retries, ${where}: retriable_status_codes`,
      // RetriableStatusCodes [503] unless EXCLUDE_503_FROM_DEFAULT_RETRIES; without it,
      // "retriable-status-codes" in retry_on names no code at all.
      source: 'https://github.com/istio/istio/blob/master/pilot/pkg/networking/core/route/retry/retry.go',
      actual: g.route.route.retry_policy?.retriable_status_codes,
      expected: [503],
    },
    {
      what: `default retries, ${where}: previous_hosts predicate`,
      source: 'https://github.com/istio/istio/blob/master/pilot/pkg/networking/core/route/retry/retry.go',
      actual: (g.route.route.retry_policy?.retry_host_predicate as Json[] | undefined)?.map((p: Json) =>
        String(p.name),
      ),
      expected: ['envoy.retry_host_predicates.previous_hosts'],
    },
    {
      what: `default retries, ${where}: host_selection_retry_max_attempts`,
      source: 'https://github.com/istio/istio/blob/master/pilot/pkg/networking/core/route/retry/retry.go',
      actual: g.route.route.retry_policy?.host_selection_retry_max_attempts,
      expected: 5,
    },
  ]),
  ...(
    [
      ['the default route', hashedNoRule],
      ['a VirtualService route', hashedWithVs],
    ] as const
  ).map(([where, g]) => ({
    what: `consistent hashing, ${where}: hash policy and no previous_hosts predicate`,
    // DefaultConsistentHashPolicy: "When Consistent Hashing is enabled, we don't want to use
    // other hosts during retries."
    source: 'https://github.com/istio/istio/blob/master/pilot/pkg/networking/core/route/retry/retry.go',
    actual: {
      hashed: Array.isArray(g.route.route.hash_policy) && (g.route.route.hash_policy as Json[]).length > 0,
      predicate: g.route.route.retry_policy?.retry_host_predicate,
    },
    expected: { hashed: true, predicate: undefined },
  })),
  {
    what: 'retries with attempts but no retryOn keep the default conditions and 503',
    // ConvertPolicy starts from DefaultPolicy and replaces retry_on/codes only when retryOn is set.
    source:
      'https://github.com/istio/istio/blob/master/pilot/pkg/networking/core/route/retry/retry.go (ConvertPolicy)',
    actual: {
      num_retries: withRetriesNoRetryOn.route.route.retry_policy?.num_retries,
      retry_on: withRetriesNoRetryOn.route.route.retry_policy?.retry_on,
      retriable_status_codes: withRetriesNoRetryOn.route.route.retry_policy?.retriable_status_codes,
    },
    expected: {
      num_retries: { value: 4 },
      retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
      retriable_status_codes: [503],
    },
  },
];

for (const row of rows) {
  test(`Istio default: ${row.what}`, () => {
    assert.deepEqual(row.actual, row.expected, `expected per ${row.source}`);
  });
}
