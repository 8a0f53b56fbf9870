import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTrellisError } from '../../core/errors.js';
import { seededRandom } from '../../core/random.js';
import { compileFault, fractionHits, type HttpFaultConfig } from './fault.js';

const always = () => 0;
const never = () => 0.999999;

test('fixed delay and http abort at 100% and 0%', () => {
  const full: HttpFaultConfig = {
    delay: { fixed_delay: { seconds: 2 }, percentage: { numerator: 100 } },
    abort: { http_status: 503, percentage: { numerator: 100, denominator: 'HUNDRED' } },
  };
  assert.deepEqual(compileFault(full).decide({ headers: {}, random: never }), {
    delayMs: 2000,
    abort: { httpStatus: 503 },
  });
  const none: HttpFaultConfig = { delay: { fixed_delay: { seconds: 2 } }, abort: { grpc_status: 14 } };
  // An absent percentage is the proto default 0%.
  assert.deepEqual(compileFault(none).decide({ headers: {}, random: always }), {});
  const grpc = compileFault({
    abort: { grpc_status: 14, percentage: { numerator: 1, denominator: 'MILLION' } },
  });
  assert.deepEqual(grpc.decide({ headers: {}, random: always }), { abort: { grpcStatus: 14 } });
});

test('percentages hit at the configured rate', () => {
  const f = compileFault({
    abort: { http_status: 500, percentage: { numerator: 2500, denominator: 'TEN_THOUSAND' } },
  });
  const rnd = seededRandom(12);
  let hits = 0;
  const n = 20_000;
  for (let i = 0; i < n; i++) if (f.decide({ headers: {}, random: rnd }).abort) hits++;
  assert.ok(Math.abs(hits / n - 0.25) < 0.02, `abort share ${hits / n}`);
});

test('conditions: headers, upstream_cluster, downstream_nodes, max_active_faults', () => {
  const f = compileFault({
    abort: { http_status: 418, percentage: { numerator: 100 } },
    headers: [{ name: 'x-canary', exact_match: 'yes' }],
    upstream_cluster: 'outbound|80||reviews',
    downstream_nodes: ['productpage'],
    max_active_faults: { value: 2 },
  });
  const input = {
    headers: { 'x-canary': 'yes', 'x-envoy-downstream-service-node': 'productpage' },
    random: always,
    upstreamCluster: 'outbound|80||reviews',
    activeFaults: 1,
  };
  assert.deepEqual(f.decide(input).abort, { httpStatus: 418 });
  assert.deepEqual(f.decide({ ...input, headers: { ...input.headers, 'x-canary': 'no' } }), {});
  assert.deepEqual(f.decide({ ...input, upstreamCluster: 'other' }), {});
  assert.deepEqual(f.decide({ ...input, headers: { 'x-canary': 'yes' } }), {});
  assert.deepEqual(f.decide({ ...input, activeFaults: 2 }), {});
  assert.equal(f.maxActiveFaults, 2);
});

test('header-controlled faults read the request, and percentage headers only lower the rate', () => {
  const f = compileFault({
    delay: { header_delay: {}, percentage: { numerator: 50 } },
    abort: { header_abort: {}, percentage: { numerator: 100 } },
  });
  const headers = { 'x-envoy-fault-delay-request': '150', 'x-envoy-fault-abort-request': '429' };
  assert.deepEqual(f.decide({ headers, random: always }), { delayMs: 150, abort: { httpStatus: 429 } });
  assert.deepEqual(f.decide({ headers, random: () => 0.6 }), { abort: { httpStatus: 429 } });
  assert.deepEqual(
    f.decide({ headers: { ...headers, 'x-envoy-fault-abort-request-percentage': '0' }, random: always }),
    { delayMs: 150 },
  );
  // A percentage header above the configured value does not raise it.
  assert.deepEqual(
    f.decide({
      headers: { 'x-envoy-fault-delay-request': '10', 'x-envoy-fault-delay-request-percentage': '100' },
      random: () => 0.6,
    }),
    {},
  );
  assert.deepEqual(f.decide({ headers: { 'x-envoy-fault-abort-grpc-request': '14' }, random: always }), {
    abort: { grpcStatus: 14 },
  });
  assert.deepEqual(f.decide({ headers: {}, random: always }), {});
});

test('bad fault configs are refused with a path', () => {
  const bad: [HttpFaultConfig, string, string][] = [
    [{ abort: { http_status: 700 } }, 'TRELLIS_INVALID_CONFIG', 'f.abort.http_status'],
    [{ abort: {} }, 'TRELLIS_INVALID_CONFIG', 'f.abort'],
    [{ delay: { percentage: { numerator: 1 } } }, 'TRELLIS_INVALID_CONFIG', 'f.delay'],
    [
      {
        delay: {
          fixed_delay: { seconds: 1 },
          percentage: { numerator: 1, denominator: 'BILLION' as 'MILLION' },
        },
      },
      'TRELLIS_INVALID_CONFIG',
      'f.delay.percentage.denominator',
    ],
    [
      { response_rate_limit: { fixed_limit: { limit_kbps: 1 } } },
      'TRELLIS_UNSUPPORTED',
      'f.response_rate_limit',
    ],
  ];
  for (const [config, code, path] of bad) {
    assert.throws(
      () => compileFault(config, 'f'),
      (e: unknown) => isTrellisError(e) && e.code === code && e.path === path,
      path,
    );
  }
});

test('fractionHits table', () => {
  const cases: [Parameters<typeof fractionHits>[0], number, boolean][] = [
    [undefined, 0, false],
    [{ numerator: 0 }, 0, false],
    [{ numerator: 100 }, 0.9999, true],
    [{ numerator: 150 }, 0.9999, true],
    [{ numerator: 1, denominator: 'HUNDRED' }, 0.0099, true],
    [{ numerator: 1, denominator: 'HUNDRED' }, 0.01, false],
    [{ numerator: 1, denominator: 'MILLION' }, 0.0000009, true],
    [{ numerator: 1, denominator: 'MILLION' }, 0.000001, false],
    [{ numerator: 5000, denominator: 1 }, 0.4999, true],
  ];
  for (const [fp, r, want] of cases)
    assert.equal(
      fractionHits(fp, () => r),
      want,
      `${JSON.stringify(fp)} @ ${r}`,
    );
});
