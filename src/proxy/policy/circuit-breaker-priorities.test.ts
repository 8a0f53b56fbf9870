// Envoy circuit breakers beyond the DEFAULT priority: HIGH thresholds (by name or enum
// number), what the admin gauges are called, the connection overflow counter, and the retry
// budget's base (config.cluster.v3.CircuitBreakers: the budget is a share of active plus
// pending requests).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTrellisError } from '../../core/errors.js';
import { CircuitBreakers, compileCircuitBreakers } from './circuit-breaker.js';

test('HIGH thresholds, by name or by enum number, apply to HIGH only', () => {
  for (const priority of ['HIGH', 1] as const) {
    const s = compileCircuitBreakers({ thresholds: [{ priority, max_requests: { value: 7 } }] });
    assert.equal(s.HIGH.requests, 7, String(priority));
    assert.equal(s.DEFAULT.requests, 1024, String(priority));
  }
  for (const priority of ['DEFAULT', 0] as const) {
    const s = compileCircuitBreakers({ thresholds: [{ priority, max_requests: { value: 9 } }] });
    assert.equal(s.DEFAULT.requests, 9, String(priority));
    assert.equal(s.HIGH.requests, 1024, String(priority));
  }
  const both = compileCircuitBreakers({
    thresholds: [
      { priority: 'HIGH', max_retries: { value: 1 } },
      { priority: 'DEFAULT', max_retries: { value: 2 } },
    ],
  });
  assert.equal(both.HIGH.retries, 1);
  assert.equal(both.DEFAULT.retries, 2);
});

test('an unknown priority and a priority given twice are rejected', () => {
  assert.throws(() => compileCircuitBreakers({ thresholds: [{ priority: 2 }] }), isTrellisError);
  assert.throws(
    () => compileCircuitBreakers({ thresholds: [{ priority: 'HIGH' }, { priority: 1 }] }),
    isTrellisError,
  );
});

test('gauges use Envoy names for every resource', () => {
  const cb = new CircuitBreakers(
    compileCircuitBreakers({
      thresholds: [
        {
          max_connections: { value: 1 },
          max_pending_requests: { value: 2 },
          max_requests: { value: 3 },
          max_retries: { value: 4 },
        },
      ],
    }),
  );
  const b = cb.forPriority();
  b.tryAcquire('connections');
  b.tryAcquire('pending_requests');
  b.tryAcquire('requests');
  assert.deepEqual(b.gauges(), {
    cx_open: 1,
    remaining_cx: 0,
    rq_pending_open: 0,
    remaining_pending: 1,
    rq_open: 0,
    remaining_rq: 2,
    rq_retry_open: 0,
    remaining_retries: 4,
  });
});

test('a connection past the limit counts upstream_cx_overflow', () => {
  const cb = new CircuitBreakers(compileCircuitBreakers({ thresholds: [{ max_connections: { value: 1 } }] }));
  const b = cb.forPriority('DEFAULT');
  assert.ok(b.tryAcquire('connections'));
  assert.equal(b.tryAcquire('connections'), undefined);
  assert.deepEqual(cb.stats, {
    upstream_cx_overflow: 1,
    upstream_rq_pending_overflow: 0,
    upstream_rq_retry_overflow: 0,
  });
});

test('a retry budget is a share of active and pending requests together', () => {
  const cb = new CircuitBreakers(
    compileCircuitBreakers({
      thresholds: [{ retry_budget: { budget_percent: { value: 50 }, min_retry_concurrency: { value: 1 } } }],
    }),
  );
  const b = cb.forPriority();
  for (let i = 0; i < 4; i++) b.tryAcquire('requests');
  for (let i = 0; i < 2; i++) b.tryAcquire('pending_requests');
  // 50% of (4 active + 2 pending) = 3 concurrent retries.
  assert.equal(b.limit('retries'), 3);
  assert.equal(b.remaining('retries'), 3);
});
