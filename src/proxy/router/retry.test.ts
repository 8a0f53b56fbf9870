import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../core/clock.js';
import { compileRetryPolicy, type AttemptOutcome, type RetryPolicyConfig } from '../policy/retry-policy.js';
import { RequestStop } from './request-stop.js';
import { RetryState, type RetryDecision } from './retry.js';

const S503: AttemptOutcome = { kind: 'response', status: 503, headers: {} };

function state(
  config: RetryPolicyConfig | undefined,
  opts: { slots?: number; replayable?: boolean; headers?: Record<string, string> } = {},
) {
  let free = opts.slots ?? 10;
  const breaker = {
    held: 0,
    tryAcquire: () => {
      if (free === 0) return undefined;
      free--;
      breaker.held++;
      return () => {
        free++;
        breaker.held--;
      };
    },
  };
  const clock = new FakeClock();
  const retry = new RetryState(config ? compileRetryPolicy(config) : undefined, {
    requestHeaders: opts.headers ?? { ':method': 'GET' },
    replayable: () => opts.replayable ?? true,
    breaker,
    clock,
    random: () => 0.5,
  });
  return { retry, breaker, clock };
}

test('what this layer adds to the policy: replay, request headers, the retries breaker', () => {
  const cases: [string, ReturnType<typeof state>, AttemptOutcome | undefined, RetryDecision][] = [
    ['no policy', state(undefined), S503, 'no'],
    ['policy says yes', state({ retry_on: '5xx' }), S503, 'retry'],
    ['policy says no', state({ retry_on: 'connect-failure' }), S503, 'no'],
    ['no retries allowed', state({ retry_on: '5xx', num_retries: { value: 0 } }), S503, 'limit-exceeded'],
    ['a stopped attempt', state({ retry_on: '5xx' }), undefined, 'no'],
    ['body no longer replayable', state({ retry_on: '5xx' }, { replayable: false }), S503, 'no'],
    ['retries breaker full', state({ retry_on: '5xx' }, { slots: 0 }), S503, 'overflow'],
    [
      'request matches retriable_request_headers',
      state({
        retry_on: '5xx',
        retriable_request_headers: [{ name: ':method', string_match: { exact: 'GET' } }],
      }),
      S503,
      'retry',
    ],
    [
      'request matches no retriable_request_headers',
      state(
        { retry_on: '5xx', retriable_request_headers: [{ name: ':method', string_match: { exact: 'GET' } }] },
        { headers: { ':method': 'POST' } },
      ),
      S503,
      'no',
    ],
  ];
  for (const [name, { retry }, outcome, want] of cases) {
    assert.equal(retry.decide(outcome), want, name);
  }
});

test('a retry holds a breaker slot until its attempt is answered; num_retries bounds the count', () => {
  const { retry, breaker } = state({ retry_on: '5xx', num_retries: { value: 2 } });
  assert.equal(retry.decide(S503), 'retry');
  assert.equal(breaker.held, 1);
  retry.answered();
  assert.equal(breaker.held, 0);
  retry.answered();
  assert.equal(breaker.held, 0, 'answered twice releases once');
  assert.equal(retry.decide(S503), 'retry');
  retry.answered();
  assert.equal(retry.retries, 2);
  assert.equal(retry.decide(S503), 'limit-exceeded');
  assert.equal(breaker.held, 0);
});

test('back-off waits the policy delay for this retry number', async () => {
  const { retry, clock } = state({
    retry_on: '5xx',
    num_retries: { value: 3 },
    retry_back_off: { base_interval: { nanos: 100_000_000 } },
  });
  const stop = new RequestStop(clock, 0, { downstream: { aborted: false, onAbort: () => undefined } });
  // First retry: uniform in [0, 100) with random 0.5 -> 50 ms; second: [0, 200) -> 100 ms.
  for (const expected of [50, 100]) {
    assert.equal(retry.decide(S503), 'retry');
    let done = false;
    const w = retry.backOff(stop).then(() => (done = true));
    clock.advance(expected - 1);
    await Promise.resolve();
    assert.equal(done, false, `still waiting before ${expected} ms`);
    clock.advance(1);
    await w;
    retry.answered();
  }
});
