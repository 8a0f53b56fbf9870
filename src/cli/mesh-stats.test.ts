import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  diffSamples,
  edgeStats,
  parsePrometheus,
  quantile,
  renderStats,
  workloadStats,
} from './mesh-stats.js';

const labels = (reporter: string, src: string, dst: string, code: number) =>
  `reporter="${reporter}",source_workload="${src}",source_workload_namespace="default",destination_workload="${dst}",destination_workload_namespace="default",destination_service_name="${dst === 'unknown' ? 'reviews' : dst}",destination_service_namespace="default",response_code="${code}"`;

function scrape(series: [string, number, number[]][]): string {
  // [labels, requests, cumulative counts for le=10,100,+Inf]
  const out = ['# TYPE istio_requests_total counter'];
  for (const [l, n] of series) out.push(`istio_requests_total{${l}} ${n}`);
  out.push('# TYPE istio_request_duration_milliseconds histogram');
  for (const [l, , b] of series) {
    ['10', '100', '+Inf'].forEach((le, i) =>
      out.push(`istio_request_duration_milliseconds_bucket{${l},le="${le}"} ${b[i] ?? 0}`),
    );
    out.push(
      `istio_request_duration_milliseconds_sum{${l}} 0`,
      `istio_request_duration_milliseconds_count{${l}} ${b[2] ?? 0}`,
    );
  }
  return out.join('\n') + '\n';
}

test('parsePrometheus: names, labels with escapes, +Inf, comments and junk skipped', () => {
  const s = parsePrometheus(
    '# HELP x\nfoo{a="1",b="q\\"x\\\\y"} 3\nbar 2.5\nbaz{le="+Inf"} +Inf\nnot a line\n\n',
  );
  assert.deepEqual(s, [
    { name: 'foo', labels: { a: '1', b: 'q"x\\y' }, value: 3 },
    { name: 'bar', labels: {}, value: 2.5 },
  ]);
});

test('diffSamples: after - before per series; a new series counts whole; a reset counts its new value', () => {
  const before = parsePrometheus('a{x="1"} 10\nb 5\n');
  const after = parsePrometheus('a{x="1"} 25\nb 2\nc 7\n');
  assert.deepEqual(
    diffSamples(before, after).map((s) => [s.name, s.value]),
    [
      ['a', 15],
      ['b', 2],
      ['c', 7],
    ],
  );
});

test('quantile: linear within the bucket, the last finite bound beyond it, undefined when empty', () => {
  const b = new Map([
    [10, 50],
    [100, 90],
    [Infinity, 100],
  ]);
  assert.equal(quantile(0.5, b), 10);
  assert.equal(quantile(0.25, b), 5);
  assert.equal(quantile(0.7, b), 10 + (90 * 20) / 40);
  assert.equal(quantile(0.95, b), 100); // in +Inf: the last finite bound
  assert.equal(
    quantile(
      0.5,
      new Map([
        [10, 0],
        [Infinity, 0],
      ]),
    ),
    undefined,
  );
  assert.equal(quantile(0.5, new Map()), undefined);
});

test('workloadStats: inbound (destination-reported) numbers first; clients as the fallback; idle meshed rows', () => {
  const before = parsePrometheus(
    scrape([
      [labels('destination', 'productpage-v1', 'reviews-v1', 200), 100, [100, 100, 100]],
      [labels('source', 'productpage-v1', 'reviews-v1', 200), 100, [90, 100, 100]],
    ]),
  );
  const after = parsePrometheus(
    scrape([
      [labels('destination', 'productpage-v1', 'reviews-v1', 200), 130, [120, 130, 130]],
      [labels('destination', 'productpage-v1', 'reviews-v1', 503), 10, [10, 10, 10]],
      [labels('source', 'productpage-v1', 'reviews-v1', 200), 131, [90, 131, 131]],
      // ratings has no proxy of its own: its clients' view, including a request with no response (code 0).
      [labels('source', 'productpage-v1', 'ratings-v1', 200), 3, [3, 3, 3]],
      [labels('source', 'productpage-v1', 'ratings-v1', 0), 1, [0, 0, 1]],
      // An unknown workload falls back to the service name.
      [labels('source', 'productpage-v1', 'unknown', 200), 2, [2, 2, 2]],
    ]),
  );
  const rows = workloadStats(diffSamples(before, after), 10, [
    'productpage-v1.default',
    'reviews-v1.default',
    'details-v1.default',
  ]);
  assert.deepEqual(
    rows.map((r) => [r.name, r.meshed, r.requests, r.rps, r.successRate]),
    [
      ['details-v1.default', true, 0, 0, undefined],
      ['productpage-v1.default', true, 0, 0, undefined],
      ['ratings-v1.default', false, 4, 0.4, 0.75],
      ['reviews-v1.default', true, 40, 4, 0.75],
      ['reviews.default', false, 2, 0.2, 1],
    ],
  );
  const reviews = rows.find((r) => r.name === 'reviews-v1.default')!;
  // 40 requests: 30 in le=10 (20 ok + 10 errors), 10 in le=100.
  assert.equal(reviews.p50, (10 * 20) / 30);
  assert.equal(reviews.p99, 10 + (90 * (39.6 - 30)) / 10);
  assert.deepEqual(renderStats(rows, false)[0], ['details-v1.default', 'yes', '-', '0.0rps', '-', '-', '-']);
  assert.deepEqual(renderStats([reviews], false)[0], [
    'reviews-v1.default',
    'yes',
    '75.00%',
    '4.0rps',
    '6.7ms',
    '82ms',
    '96ms',
  ]);
});

test('edgeStats: what each source saw per destination; idle edges left out', () => {
  const after = parsePrometheus(
    scrape([
      [labels('source', 'productpage-v1', 'reviews-v1', 200), 9, [9, 9, 9]],
      [labels('source', 'productpage-v1', 'reviews-v1', 500), 1, [1, 1, 1]],
      [labels('source', 'reviews-v1', 'ratings-v1', 200), 0, [0, 0, 0]],
      [labels('destination', 'productpage-v1', 'reviews-v1', 200), 50, [50, 50, 50]],
    ]),
  );
  const rows = edgeStats(after, 5);
  assert.deepEqual(
    rows.map((r) => [r.source, r.destination, r.requests, r.rps, r.successRate]),
    [['productpage-v1.default', 'reviews-v1.default', 10, 2, 0.9]],
  );
  assert.deepEqual(renderStats(rows, true)[0]?.slice(0, 4), [
    'productpage-v1.default',
    'reviews-v1.default',
    '90.00%',
    '2.0rps',
  ]);
});
