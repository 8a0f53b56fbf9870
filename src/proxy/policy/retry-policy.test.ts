import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTrellisError } from '../../core/errors.js';
import { seededRandom } from '../../core/random.js';
import { compileRetryPolicy, retryBudgetLimit, type AttemptOutcome } from './retry-policy.js';

test('retry_on conditions table', () => {
  const cases: [string, AttemptOutcome, boolean][] = [
    ['5xx', { status: 500 }, true],
    ['5xx', { status: 404 }, false],
    ['5xx', { reset: true }, true],
    ['5xx', { connectFailure: true }, true],
    ['5xx', { perTryTimeout: true }, true],
    ['gateway-error', { status: 502 }, true],
    ['gateway-error', { status: 500 }, false],
    ['gateway-error', { perTryTimeout: true }, true],
    ['connect-failure', { connectFailure: true }, true],
    ['connect-failure', { reset: true }, false],
    ['connect-failure', { status: 503 }, false],
    ['reset', { reset: true }, true],
    ['refused-stream', { refusedStream: true }, true],
    ['refused-stream', { reset: true }, false],
    ['retriable-4xx', { status: 409 }, true],
    ['retriable-4xx', { status: 429 }, false],
    ['retriable-status-codes', { status: 429 }, true],
    ['retriable-status-codes', { status: 500 }, false],
    ['envoy-ratelimited', { status: 429, headers: { 'x-envoy-ratelimited': 'true' } }, true],
    ['envoy-ratelimited', { status: 429 }, false],
    ['retriable-headers', { status: 200, headers: { 'x-retry': 'yes' } }, true],
    ['retriable-headers', { status: 200, headers: {} }, false],
    ['unavailable,cancelled', { status: 200, grpcStatus: 14 }, true],
    ['unavailable,cancelled', { status: 200, grpcStatus: 1 }, true],
    ['unavailable', { status: 200, grpcStatus: 13 }, false],
    ['internal,resource-exhausted,deadline-exceeded', { grpcStatus: 4 }, true],
    ['5xx', { status: 503, headers: { 'x-envoy-overloaded': 'true' } }, false],
    ['', { status: 503 }, false],
  ];
  for (const [retryOn, outcome, want] of cases) {
    const p = compileRetryPolicy({
      retry_on: retryOn,
      retriable_status_codes: [429],
      retriable_headers: [{ name: 'x-retry', exact_match: 'yes' }],
    });
    assert.equal(p.shouldRetry(outcome, 0), want, `${retryOn} ${JSON.stringify(outcome)}`);
  }
});

test('num_retries bounds the attempts (default 1)', () => {
  const one = compileRetryPolicy({ retry_on: '5xx' });
  assert.equal(one.numRetries, 1);
  assert.equal(one.shouldRetry({ status: 503 }, 0), true);
  assert.equal(one.shouldRetry({ status: 503 }, 1), false);
  const three = compileRetryPolicy({ retry_on: '5xx', num_retries: { value: 3 } });
  assert.deepEqual(
    [0, 1, 2, 3].map((n) => three.shouldRetry({ status: 503 }, n)),
    [true, true, true, false],
  );
});

test('back-off: defaults 25ms base, 250ms max, jittered and doubling', () => {
  const p = compileRetryPolicy({ retry_on: '5xx' });
  assert.equal(p.baseIntervalMs, 25);
  assert.equal(p.maxIntervalMs, 250);
  const max = (n: number) => {
    const rnd = seededRandom(n);
    let m = 0;
    for (let i = 0; i < 2000; i++) m = Math.max(m, p.backoffMs(n, rnd));
    return m;
  };
  // Ceilings are 25, 50, 100, 200, then capped at 250.
  assert.deepEqual(
    [1, 2, 3, 4, 6].map((n) => Math.ceil(max(n) / 25) * 25),
    [25, 50, 100, 200, 250],
  );
  const custom = compileRetryPolicy({ retry_back_off: { base_interval: { nanos: 100_000_000 } } });
  assert.equal(custom.maxIntervalMs, 1000);
  assert.equal(
    custom.backoffMs(1, () => 0.5),
    50,
  );
});

test('host predicate, timeouts and request header gating', () => {
  const p = compileRetryPolicy({
    retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
    per_try_timeout: { seconds: 2 },
    retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts' }],
    host_selection_retry_max_attempts: 5,
    retriable_request_headers: [{ name: ':method', exact_match: 'GET' }],
  });
  assert.equal(p.excludePreviousHosts, true);
  assert.equal(p.hostSelectionMaxAttempts, 5);
  assert.equal(p.perTryTimeoutMs, 2000);
  assert.equal(p.requestAllowsRetry({ ':method': 'GET' }), true);
  assert.equal(p.requestAllowsRetry({ ':method': 'POST' }), false);
  const plain = compileRetryPolicy({});
  assert.equal(plain.excludePreviousHosts, false);
  assert.equal(plain.perTryTimeoutMs, undefined);
  assert.equal(plain.requestAllowsRetry({}), true);
});

test('unsupported retry features are refused with a path', () => {
  const bad: [Parameters<typeof compileRetryPolicy>[0], string, string][] = [
    [{ retry_on: '5xx,sometimes' }, 'TRELLIS_UNSUPPORTED', 'route.retry_policy.retry_on'],
    [
      { retry_host_predicate: [{ name: 'envoy.retry_host_predicates.omit_canary_hosts' }] },
      'TRELLIS_UNSUPPORTED',
      'route.retry_policy.retry_host_predicate[0]',
    ],
    [
      { retry_priority: { name: 'envoy.retry_priorities.previous_priorities' } },
      'TRELLIS_UNSUPPORTED',
      'route.retry_policy.retry_priority',
    ],
    [
      { retry_back_off: { base_interval: { seconds: 1 }, max_interval: { nanos: 1000 } } },
      'TRELLIS_INVALID_CONFIG',
      'route.retry_policy.retry_back_off.max_interval',
    ],
  ];
  for (const [config, code, path] of bad) {
    assert.throws(
      () => compileRetryPolicy(config, 'route.retry_policy'),
      (e: unknown) => isTrellisError(e) && e.code === code && e.path === path,
      JSON.stringify(config),
    );
  }
});

test('retry budget limit', () => {
  assert.equal(retryBudgetLimit({ budgetPercent: 20, minRetryConcurrency: 3 }, 0), 3);
  assert.equal(retryBudgetLimit({ budgetPercent: 20, minRetryConcurrency: 3 }, 100), 20);
});
