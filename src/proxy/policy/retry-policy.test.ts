import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTrellisError } from '../../core/errors.js';
import { seededRandom } from '../../core/random.js';
import { compileRetryPolicy, type AttemptOutcome, type ResetReason } from './retry-policy.js';

// Shorthands for the outcomes of one attempt.
const res = (status: number, headers: Record<string, string> = {}, grpcStatus?: number): AttemptOutcome => ({
  kind: 'response',
  status,
  headers,
  grpcStatus,
});
const reset = (reason: ResetReason, requestStarted = reason !== 'connect-failure'): AttemptOutcome => ({
  kind: 'reset',
  reason,
  requestStarted,
});

// Envoy's router filter, x-envoy-retry-on and x-envoy-retry-grpc-on:
// https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/router_filter
test('retry_on conditions table', () => {
  const cases: [string, AttemptOutcome, boolean][] = [
    ['5xx', res(500), true],
    ['5xx', res(599), true],
    ['5xx', res(499), false],
    ['5xx', res(404), false],
    ['5xx', reset('remote-reset'), true],
    ['5xx', reset('connect-failure'), true],
    ['5xx', reset('refused-stream'), true],
    ['5xx', reset('per-try-timeout'), true],
    ['gateway-error', res(502), true],
    ['gateway-error', res(503), true],
    ['gateway-error', res(504), true],
    ['gateway-error', res(500), false],
    ['gateway-error', res(501), false],
    ['gateway-error', reset('per-try-timeout'), true],
    ['gateway-error', reset('remote-reset'), true],
    ['reset', reset('remote-reset'), true],
    ['reset', reset('connect-failure'), true],
    ['reset', reset('per-try-timeout'), true],
    ['reset', res(503), false],
    ['connect-failure', reset('connect-failure'), true],
    ['connect-failure', reset('remote-reset'), false],
    ['connect-failure', reset('per-try-timeout'), false],
    ['connect-failure', res(503), false],
    ['refused-stream', reset('refused-stream'), true],
    ['refused-stream', reset('remote-reset'), false],
    ['refused-stream', reset('connect-failure'), false],
    ['reset-before-request', reset('connect-failure'), true],
    ['reset-before-request', reset('remote-reset', false), true],
    ['reset-before-request', reset('remote-reset', true), false],
    ['reset-before-request', reset('per-try-timeout', true), false],
    ['reset-before-request', res(503), false],
    ['retriable-4xx', res(409), true],
    ['retriable-4xx', res(429), false],
    ['retriable-4xx', res(408), false],
    ['retriable-status-codes', res(429), true],
    ['retriable-status-codes', res(500), false],
    ['retriable-status-codes', reset('remote-reset'), false],
    ['envoy-ratelimited', res(429, { 'x-envoy-ratelimited': 'true' }), true],
    ['envoy-ratelimited', res(200, { 'x-envoy-ratelimited': 'true' }), true],
    ['envoy-ratelimited', res(429), false],
    // x-envoy-ratelimited decides alone: a 503 carrying it is not a 5xx retry.
    ['5xx', res(503, { 'x-envoy-ratelimited': 'true' }), false],
    ['5xx,envoy-ratelimited', res(503, { 'x-envoy-ratelimited': 'true' }), true],
    // An upstream that says it is overloaded is never retried.
    ['5xx', res(503, { 'x-envoy-overloaded': 'true' }), false],
    ['envoy-ratelimited', res(429, { 'x-envoy-overloaded': 'true', 'x-envoy-ratelimited': 'true' }), false],
    ['retriable-headers', res(200, { 'x-retry': 'yes' }), true],
    ['retriable-headers', res(200, { 'x-retry': 'no' }), false],
    ['retriable-headers', res(200), false],
    ['unavailable', res(200, {}, 14), true],
    ['unavailable', res(200, {}, 13), false],
    ['cancelled', res(200, {}, 1), true],
    ['deadline-exceeded', res(200, {}, 4), true],
    ['resource-exhausted', res(200, {}, 8), true],
    ['internal', res(200, {}, 13), true],
    ['internal', res(200, {}, 14), false],
    ['unavailable', reset('remote-reset'), false],
    ['unavailable', res(503), false],
    ['', res(503), false],
    ['', reset('remote-reset'), false],
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
  assert.equal(one.shouldRetry(res(503), 0), true);
  assert.equal(one.shouldRetry(res(503), 1), false);
  const three = compileRetryPolicy({ retry_on: '5xx', num_retries: { value: 3 } });
  assert.deepEqual(
    [0, 1, 2, 3].map((n) => three.shouldRetry(res(503), n)),
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
    [{ retry_on: 'http3-post-connect-failure' }, 'TRELLIS_UNSUPPORTED', 'route.retry_policy.retry_on'],
    [
      { per_try_idle_timeout: { seconds: 1 } },
      'TRELLIS_UNSUPPORTED',
      'route.retry_policy.per_try_idle_timeout',
    ],
    [
      { rate_limited_retry_back_off: { reset_headers: [] } },
      'TRELLIS_UNSUPPORTED',
      'route.retry_policy.rate_limited_retry_back_off',
    ],
    [
      { retry_options_predicates: [{ name: 'x' }] },
      'TRELLIS_UNSUPPORTED',
      'route.retry_policy.retry_options_predicates',
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

test('retry_on and the matchers read as Envoy reads them', () => {
  const spaced = compileRetryPolicy({ retry_on: ' 5xx , reset ' });
  assert.deepEqual([...spaced.retryOn], ['5xx', 'reset']);
  // A status outside 5xx is not a 5xx, whatever its first digit.
  assert.equal(compileRetryPolicy({ retry_on: '5xx' }).shouldRetry(res(600), 0), false);
  // Any one of several retriable_headers is enough.
  const headers = compileRetryPolicy({
    retry_on: 'retriable-headers',
    retriable_headers: [
      { name: 'x-a', string_match: { exact: '1' } },
      { name: 'x-b', string_match: { exact: '1' } },
    ],
  });
  assert.equal(headers.shouldRetry(res(200, { 'x-b': '1' }), 0), true);
  // retriable-headers with no headers configured retries nothing.
  assert.equal(
    compileRetryPolicy({ retry_on: 'retriable-headers' }).shouldRetry(res(200, { 'x-b': '1' }), 0),
    false,
  );
  // Any one of several retriable_request_headers lets the request be retried.
  const request = compileRetryPolicy({
    retry_on: '5xx',
    retriable_request_headers: [
      { name: ':method', string_match: { exact: 'GET' } },
      { name: ':method', string_match: { exact: 'HEAD' } },
    ],
  });
  assert.equal(request.requestAllowsRetry({ ':method': 'HEAD' }), true);
  // The previous-hosts predicate named by its typed_config alone.
  const typed = compileRetryPolicy({
    retry_host_predicate: [
      {
        typed_config: {
          type_url:
            'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate',
        },
      },
    ],
  });
  assert.equal(typed.excludePreviousHosts, true);
  // Fields that are present but empty are not settings (proto3 decodes them so).
  assert.doesNotThrow(() =>
    compileRetryPolicy({
      retry_on: '5xx',
      retry_priority: null,
      retry_options_predicates: [],
      per_try_idle_timeout: undefined,
    }),
  );
  // max_interval may equal base_interval.
  assert.equal(
    compileRetryPolicy({
      retry_back_off: { base_interval: { nanos: 100_000_000 }, max_interval: { nanos: 100_000_000 } },
    }).maxIntervalMs,
    100,
  );
});

test('bad matchers and intervals name their field', () => {
  const bad: [Parameters<typeof compileRetryPolicy>[0], string][] = [
    [{ retry_back_off: { base_interval: {} } }, 'r.retry_back_off.base_interval'],
    [{ retriable_headers: [{ name: 'x', safe_regex_match: { regex: '(' } }] }, 'r.retriable_headers[0]'],
    [
      { retriable_request_headers: [{ name: 'x', safe_regex_match: { regex: '(' } }] },
      'r.retriable_request_headers[0]',
    ],
  ];
  for (const [config, path] of bad) {
    assert.throws(
      () => compileRetryPolicy(config, 'r'),
      (e: unknown) => isTrellisError(e) && (e.path ?? '').startsWith(path),
      JSON.stringify(config),
    );
  }
});
