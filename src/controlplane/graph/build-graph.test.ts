import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildGraph, type Rate } from './build-graph.js';

const PP = {
  source_workload: 'productpage-v1',
  source_workload_namespace: 'bookinfo',
  source_canonical_service: 'productpage',
  source_canonical_revision: 'v1',
};
const REVIEWS_V2 = {
  destination_workload: 'reviews-v2',
  destination_workload_namespace: 'bookinfo',
  destination_canonical_service: 'reviews',
  destination_canonical_revision: 'v2',
  destination_service: 'reviews.bookinfo.svc.cluster.local',
  destination_service_namespace: 'bookinfo',
};
const REVIEWS_V1 = {
  ...REVIEWS_V2,
  destination_workload: 'reviews-v1',
  destination_canonical_revision: 'v1',
};
const NO_SOURCE = {
  source_workload: 'unknown',
  source_workload_namespace: 'unknown',
  source_canonical_service: 'unknown',
};

function req(perSecond: number, labels: Record<string, string>): Rate {
  return {
    name: 'istio_requests_total',
    perSecond,
    labels: { request_protocol: 'http', response_code: '200', response_flags: '-', ...labels },
  };
}

test('source reports make edges; destination reports add only traffic from outside the mesh (no double counting)', () => {
  const g = buildGraph('workload', [
    req(10, { reporter: 'source', ...PP, ...REVIEWS_V2 }),
    // The same requests seen by the destination: they must not count twice...
    req(10, { reporter: 'destination', ...PP, ...REVIEWS_V2, connection_security_policy: 'mutual_tls' }),
    // ...while requests no sidecar sent are the unknown node's.
    req(3, { reporter: 'destination', ...NO_SOURCE, ...REVIEWS_V2, connection_security_policy: 'none' }),
  ]);
  assert.deepEqual(
    g.edges.map((e) => [e.id, e.requestsPerSecond, e.mtls]),
    [
      ['unknown->workload:bookinfo/reviews-v2', 3, 'none'],
      ['workload:bookinfo/productpage-v1->workload:bookinfo/reviews-v2', 10, 'mutual_tls'],
    ],
  );
  assert.deepEqual(
    g.nodes.map((n) => [n.id, n.kind, n.unknown ?? false]),
    [
      ['unknown', 'unknown', true],
      ['workload:bookinfo/productpage-v1', 'workload', false],
      ['workload:bookinfo/reviews-v2', 'workload', false],
    ],
  );
});

test('graph types name nodes as Kiali does; a destination without a workload is a service node', () => {
  const rates = [
    req(4, { reporter: 'source', ...PP, ...REVIEWS_V1 }),
    req(6, { reporter: 'source', ...PP, ...REVIEWS_V2 }),
    req(1, {
      reporter: 'source',
      ...PP,
      destination_workload: 'unknown',
      destination_service: 'httpbin.org',
      destination_service_namespace: 'unknown',
    }),
  ];
  const ids = (type: Parameters<typeof buildGraph>[0]) =>
    buildGraph(type, rates).edges.map((e) => `${e.id} ${e.requestsPerSecond}`);
  assert.deepEqual(ids('workload'), [
    'workload:bookinfo/productpage-v1->service:httpbin.org 1',
    'workload:bookinfo/productpage-v1->workload:bookinfo/reviews-v1 4',
    'workload:bookinfo/productpage-v1->workload:bookinfo/reviews-v2 6',
  ]);
  assert.deepEqual(ids('versionedApp'), [
    'app:bookinfo/productpage/v1->app:bookinfo/reviews/v1 4',
    'app:bookinfo/productpage/v1->app:bookinfo/reviews/v2 6',
    'app:bookinfo/productpage/v1->service:httpbin.org 1',
  ]);
  assert.deepEqual(ids('app'), [
    'app:bookinfo/productpage->app:bookinfo/reviews 10',
    'app:bookinfo/productpage->service:httpbin.org 1',
  ]);
  assert.deepEqual(ids('service'), [
    'app:bookinfo/productpage->service:httpbin.org 1',
    'app:bookinfo/productpage->service:reviews.bookinfo.svc.cluster.local 10',
  ]);
});

test('error ratio counts 5xx and response flags; response codes per second; percentiles from buckets', () => {
  const bucket = (le: string, perSecond: number): Rate => ({
    name: 'istio_request_duration_milliseconds_bucket',
    perSecond,
    labels: {
      reporter: 'source',
      ...PP,
      ...REVIEWS_V2,
      request_protocol: 'http',
      response_code: '200',
      response_flags: '-',
      le,
    },
  });
  const g = buildGraph('workload', [
    req(6, { reporter: 'source', ...PP, ...REVIEWS_V2 }),
    req(2, { reporter: 'source', ...PP, ...REVIEWS_V2, response_code: '503', response_flags: 'UF' }),
    req(1, { reporter: 'source', ...PP, ...REVIEWS_V2, response_code: '404', response_flags: 'NR' }),
    req(1, { reporter: 'source', ...PP, ...REVIEWS_V2, response_code: '500' }),
    bucket('10', 5),
    bucket('100', 10),
    bucket('+Inf', 10),
  ]);
  const e = g.edges[0]!;
  assert.equal(e.requestsPerSecond, 10);
  assert.equal(e.errorRatio, 0.4);
  assert.deepEqual(e.responseCodes, { '200': 6, '503': 2, '404': 1, '500': 1 });
  assert.equal(e.p50Ms, 10);
  assert.equal(e.p99Ms, 98.2);
  assert.equal(e.mtls, 'unknown');
});

test('TCP edges carry bytes per second in both directions; mTLS mixed when the destination saw both', () => {
  const tcp = { reporter: 'source', ...PP, ...REVIEWS_V2, request_protocol: 'tcp' };
  const g = buildGraph('app', [
    { name: 'istio_tcp_sent_bytes_total', perSecond: 100, labels: tcp },
    { name: 'istio_tcp_received_bytes_total', perSecond: 50, labels: tcp },
    {
      name: 'istio_tcp_sent_bytes_total',
      perSecond: 1,
      labels: { ...tcp, reporter: 'destination', connection_security_policy: 'mutual_tls' },
    },
    {
      name: 'istio_tcp_sent_bytes_total',
      perSecond: 1,
      labels: { ...tcp, reporter: 'destination', connection_security_policy: 'none' },
    },
  ]);
  assert.deepEqual(
    g.edges.map((e) => [e.id, e.protocol, e.bytesPerSecond, e.requestsPerSecond, e.mtls]),
    [['app:bookinfo/productpage->app:bookinfo/reviews', 'tcp', 150, 0, 'mixed']],
  );
});

test('a namespace keeps the edges touching it; idle series make no edge', () => {
  const other = {
    ...PP,
    source_workload: 'client',
    source_workload_namespace: 'other',
    source_canonical_service: 'client',
  };
  const g = buildGraph(
    'workload',
    [
      req(1, { reporter: 'source', ...PP, ...REVIEWS_V2 }),
      req(1, {
        reporter: 'source',
        ...other,
        ...REVIEWS_V2,
        destination_workload_namespace: 'other',
        destination_workload: 'x',
      }),
      req(0, { reporter: 'source', ...PP, ...REVIEWS_V1 }),
    ],
    'bookinfo',
  );
  assert.deepEqual(
    g.edges.map((e) => e.id),
    ['workload:bookinfo/productpage-v1->workload:bookinfo/reviews-v2'],
  );
  assert.deepEqual(
    g.nodes.map((n) => n.id),
    ['workload:bookinfo/productpage-v1', 'workload:bookinfo/reviews-v2'],
  );
});
