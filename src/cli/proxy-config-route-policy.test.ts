import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  durationMs,
  formatDuration,
  percentOf,
  routeDestination,
  routePolicy,
} from './proxy-config-route-policy.js';

const ISTIO_RETRY = {
  retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
  numRetries: { value: 2 },
};

test('durationMs reads both dump shapes; formatDuration picks the unit', () => {
  for (const [input, ms] of [
    ['2.5s', 2500],
    ['0s', 0],
    ['10s', 10_000],
    [{ seconds: 2, nanos: 500_000_000 }, 2500],
    [{ seconds: '7' }, 7000],
    [{ nanos: 250_000_000 }, 250],
    [{}, 0],
    [undefined, undefined],
    ['soon', undefined],
  ] as const)
    assert.equal(durationMs(input), ms, JSON.stringify(input));
  assert.deepEqual([250, 1000, 2500, 60_000, 90_000].map(formatDuration), [
    '250ms',
    '1s',
    '2.5s',
    '1m',
    '90s',
  ]);
});

test('percentOf: a FractionalPercent in any denominator; absent is 100%', () => {
  assert.equal(percentOf(undefined), 100);
  assert.equal(percentOf({ numerator: 50 }), 50);
  assert.equal(percentOf({ numerator: 50, denominator: 'HUNDRED' }), 50);
  assert.equal(percentOf({ numerator: 105_000, denominator: 'MILLION' }), 10.5);
  assert.equal(percentOf({ numerator: 1, denominator: 'TEN_THOUSAND' }), 0.01);
  assert.equal(percentOf({ numerator: 3, denominator: 2 }), 0.0003); // enum by number
});

const cases: { name: string; route: Record<string, unknown>; destination: string; policy: string }[] = [
  {
    name: "one cluster with Istio's default retries",
    route: {
      route: {
        cluster: 'outbound|9080||reviews.default.svc.cluster.local',
        timeout: {},
        retryPolicy: ISTIO_RETRY,
      },
    },
    destination: 'reviews:9080',
    policy: 'retries 2',
  },
  {
    name: 'a subset, a timeout, retries with per-try timeout and retry_on',
    route: {
      route: {
        cluster: 'outbound|9080|v2|reviews.default.svc.cluster.local',
        timeout: '2.5s',
        retryPolicy: { retryOn: '5xx', numRetries: 3, perTryTimeout: { seconds: 1 } },
      },
    },
    destination: 'reviews:9080|v2',
    policy: 'timeout 2.5s; retries 3 x 1s on 5xx',
  },
  {
    name: 'weighted subsets of one host show only the subsets, with shares',
    route: {
      route: {
        weightedClusters: {
          clusters: [
            { name: 'outbound|9080|v1|reviews.default.svc.cluster.local', weight: { value: 75 } },
            { name: 'outbound|9080|v3|reviews.default.svc.cluster.local', weight: 25 },
          ],
        },
      },
    },
    destination: 'v1 75%, v3 25%',
    policy: '-',
  },
  {
    name: 'weighted clusters of two hosts keep their hosts; weights that do not add to 100',
    route: {
      route: {
        weightedClusters: {
          clusters: [
            { name: 'outbound|9080||reviews.default.svc.cluster.local', weight: 1 },
            { name: 'outbound|9080||ratings.default.svc.cluster.local', weight: 2 },
          ],
        },
      },
    },
    destination: 'reviews:9080 33.3%, ratings:9080 66.7%',
    policy: '-',
  },
  {
    name: 'retries turned off',
    route: { route: { cluster: 'inbound|9080||', retryPolicy: { numRetries: 0 } } },
    destination: 'inbound|9080||',
    policy: 'no retries',
  },
  {
    name: 'delay and abort faults with their percentages',
    route: {
      route: { cluster: 'outbound|9080||ratings.default.svc.cluster.local' },
      typedPerFilterConfig: {
        'envoy.filters.http.fault': {
          delay: { fixedDelay: { seconds: 7 }, percentage: { numerator: 500_000, denominator: 'MILLION' } },
          abort: { httpStatus: 503, percentage: { numerator: 100 } },
        },
      },
    },
    destination: 'ratings:9080',
    policy: 'delay 7s 50%; abort 503 100%',
  },
  {
    name: 'a gRPC abort and a mirror',
    route: {
      route: {
        cluster: 'outbound|50051||api.default.svc.cluster.local',
        requestMirrorPolicies: undefined,
        mirrorPolicies: [{ cluster: 'outbound|50051|v2|api.default.svc.cluster.local' }],
      },
      typed_per_filter_config: { 'envoy.filters.http.fault': { abort: { grpcStatus: 14 } } },
    },
    destination: 'api:50051',
    policy: 'abort grpc 14 100%; mirror outbound|50051|v2|api.default.svc.cluster.local',
  },
  {
    name: 'a direct response',
    route: { directResponse: { status: 418 } },
    destination: 'direct 418',
    policy: '-',
  },
  {
    name: 'a redirect',
    route: { redirect: { schemeRedirect: 'https', hostRedirect: 'example.com', pathRedirect: '/new' } },
    destination: 'redirect https://example.com/new',
    policy: '-',
  },
  {
    name: 'an https redirect to the same URL',
    route: { redirect: { httpsRedirect: true } },
    destination: 'redirect https://',
    policy: '-',
  },
  { name: 'nothing known', route: {}, destination: '-', policy: '-' },
];

for (const c of cases) {
  test(`route cells: ${c.name}`, () => {
    assert.equal(routeDestination(c.route), c.destination);
    assert.equal(routePolicy(c.route), c.policy);
  });
}
