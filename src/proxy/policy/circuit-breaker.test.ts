import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTrellisError } from '../../core/errors.js';
import { TYPE, decodeMessage, encodeMessage } from '../../protocol/protos.js';
import {
  CircuitBreakers,
  compileCircuitBreakers,
  retryBudgetLimit,
  type CircuitBreakersConfig,
} from './circuit-breaker.js';

test('defaults are Envoy defaults for both priorities', () => {
  const s = compileCircuitBreakers(undefined);
  assert.deepEqual(s.DEFAULT, { connections: 1024, pending_requests: 1024, requests: 1024, retries: 3 });
  assert.deepEqual(s.HIGH, s.DEFAULT);
});

test('tryAcquire hands out up to the limit, counts overflows, and releases once', () => {
  const cb = new CircuitBreakers(
    compileCircuitBreakers({
      thresholds: [{ max_requests: { value: 2 }, max_pending_requests: { value: 1 } }],
    }),
  );
  const b = cb.forPriority('DEFAULT');
  const r1 = b.tryAcquire('requests');
  const r2 = b.tryAcquire('requests');
  assert.ok(r1 && r2);
  assert.equal(b.tryAcquire('requests'), undefined);
  assert.equal(cb.stats.upstream_rq_pending_overflow, 1);
  assert.equal(b.gauges().rq_open, 1);
  r1();
  r1(); // a second release must not free a slot it does not hold
  assert.equal(b.active('requests'), 1);
  assert.equal(b.remaining('requests'), 1);
  assert.ok(b.tryAcquire('requests'));
  assert.ok(b.tryAcquire('pending_requests'));
  assert.equal(b.tryAcquire('pending_requests'), undefined);
  assert.equal(cb.stats.upstream_rq_pending_overflow, 2);
  // The HIGH priority has its own counters.
  assert.ok(cb.forPriority('HIGH').tryAcquire('requests'));
});

test('retries default to 3 concurrent; overflow is counted', () => {
  const cb = new CircuitBreakers(compileCircuitBreakers({}));
  const b = cb.forPriority();
  const held = [b.tryAcquire('retries'), b.tryAcquire('retries'), b.tryAcquire('retries')];
  assert.ok(held.every(Boolean));
  assert.equal(b.tryAcquire('retries'), undefined);
  assert.equal(cb.stats.upstream_rq_retry_overflow, 1);
  assert.equal(cb.stats.upstream_cx_overflow, 0);
});

test('retry budget scales with active requests, with a floor', () => {
  const cb = new CircuitBreakers(
    compileCircuitBreakers({
      thresholds: [{ retry_budget: { budget_percent: { value: 25 }, min_retry_concurrency: { value: 2 } } }],
    }),
  );
  const b = cb.forPriority();
  assert.equal(b.limit('retries'), 2);
  for (let i = 0; i < 20; i++) b.tryAcquire('requests');
  assert.equal(b.limit('retries'), 5);
});

test('bad thresholds are rejected with a path', () => {
  assert.throws(
    () => compileCircuitBreakers({ thresholds: [{}, { priority: 'DEFAULT' }] }, 'cluster.circuit_breakers'),
    (e: unknown) =>
      isTrellisError(e, 'TRELLIS_INVALID_CONFIG') &&
      e.path === 'cluster.circuit_breakers.thresholds[1].priority',
  );
});

test("Istio's maximum thresholds (4294967295, as decoded from the wire) never trip and report sane gauges", () => {
  const MAX = 4_294_967_295;
  const wire = decodeMessage<{ circuit_breakers: CircuitBreakersConfig }>(
    TYPE.cluster,
    encodeMessage(TYPE.cluster, {
      name: 'c',
      circuit_breakers: {
        thresholds: [
          {
            max_connections: { value: MAX },
            max_pending_requests: { value: MAX },
            max_requests: { value: MAX },
            max_retries: { value: MAX },
            track_remaining: true,
          },
        ],
      },
    }),
  );
  const settings = compileCircuitBreakers(wire.circuit_breakers);
  assert.deepEqual(settings.DEFAULT, {
    connections: MAX,
    pending_requests: MAX,
    requests: MAX,
    retries: MAX,
  });
  const cb = new CircuitBreakers(settings);
  const b = cb.forPriority();
  const held: (() => void)[] = [];
  for (let i = 0; i < 5000; i++) {
    for (const kind of ['connections', 'pending_requests', 'requests', 'retries'] as const) {
      const release = b.tryAcquire(kind);
      assert.ok(release, `${kind} #${i + 1}`);
      held.push(release);
    }
  }
  assert.equal(cb.stats.upstream_rq_retry_overflow, 0);
  assert.equal(cb.stats.upstream_rq_pending_overflow, 0);
  assert.equal(cb.stats.upstream_cx_overflow, 0);
  const g = b.gauges();
  assert.equal(g.rq_retry_open, 0);
  assert.equal(g.remaining_retries, MAX - 5000);
  assert.ok(
    Object.values(g).every((v) => Number.isSafeInteger(v) && v >= 0),
    JSON.stringify(g),
  );
  for (const release of held) release();
  assert.equal(b.remaining('retries'), MAX);
});

test('retry budget limit', () => {
  assert.equal(retryBudgetLimit({ budgetPercent: 20, minRetryConcurrency: 3 }, 0), 3);
  assert.equal(retryBudgetLimit({ budgetPercent: 20, minRetryConcurrency: 3 }, 100), 20);
});
