import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../core/clock.js';
import { takeFromBucket, type BucketLimit } from './token-bucket.js';
import type { TokenBucketState } from '../../core/token-bucket.js';

/** Drives one bucket through a FakeClock, keeping its state like a backend would. */
function bucket(limit: BucketLimit) {
  const clock = new FakeClock(1000);
  let state: TokenBucketState | undefined;
  return {
    clock,
    take(hits = 1) {
      const r = takeFromBucket(limit, state, clock.now(), hits);
      state = r.state;
      return r.decision;
    },
  };
}

test('token bucket: a full bucket allows requests_per_unit requests, then refuses', () => {
  const b = bucket({ requestsPerUnit: 3, unitMs: 1000, burst: 3 });
  assert.deepEqual(
    [b.take(), b.take(), b.take(), b.take()].map((d) => [d.overLimit, d.remaining]),
    [
      [false, 2],
      [false, 1],
      [false, 0],
      [true, 0],
    ],
  );
});

test('token bucket: refills continuously at requests_per_unit per unit', () => {
  const b = bucket({ requestsPerUnit: 10, unitMs: 1000, burst: 10 });
  for (let i = 0; i < 10; i++) assert.equal(b.take().overLimit, false);
  const denied = b.take();
  assert.equal(denied.overLimit, true);
  assert.equal(denied.resetMs, 100, 'one token drips in every 100 ms');
  b.clock.advance(99);
  assert.equal(b.take().overLimit, true);
  b.clock.advance(1);
  assert.equal(b.take().overLimit, false);
  assert.equal(b.take().overLimit, true);
  b.clock.advance(250);
  assert.deepEqual([b.take().overLimit, b.take().overLimit, b.take().overLimit], [false, false, true]);
});

test('token bucket: burst sets the capacity, the refill rate stays requests_per_unit', () => {
  const b = bucket({ requestsPerUnit: 1, unitMs: 60_000, burst: 5 });
  for (let i = 0; i < 5; i++) assert.equal(b.take().overLimit, false);
  assert.equal(b.take().overLimit, true);
  b.clock.advance(60_000);
  assert.equal(b.take().overLimit, false);
  assert.equal(b.take().overLimit, true);
});

test('token bucket: hits_addend takes several tokens; a refused take takes none', () => {
  const b = bucket({ requestsPerUnit: 10, unitMs: 1000, burst: 10 });
  assert.equal(b.take(7).remaining, 3);
  const refused = b.take(5);
  assert.equal(refused.overLimit, true);
  assert.equal(refused.remaining, 3);
  assert.equal(refused.resetMs, 200, 'two more tokens are needed');
  assert.equal(b.take(3).overLimit, false);
});

test('token bucket: reset is the time until the bucket is full again while allowed', () => {
  const b = bucket({ requestsPerUnit: 4, unitMs: 1000, burst: 4 });
  assert.equal(b.take().resetMs, 250);
  assert.equal(b.take().resetMs, 500);
});

test('token bucket: near_limit once more than 80% of the capacity is used', () => {
  const b = bucket({ requestsPerUnit: 10, unitMs: 1000, burst: 10 });
  const near = Array.from({ length: 10 }, () => b.take().nearLimit);
  assert.deepEqual(near, [false, false, false, false, false, false, false, false, true, true]);
});

test('token bucket: a limit of 0 refuses everything', () => {
  const b = bucket({ requestsPerUnit: 0, unitMs: 1000, burst: 0 });
  const d = b.take();
  assert.equal(d.overLimit, true);
  assert.equal(d.resetMs, 1000);
});

test('token bucket: a shrunk bucket never holds more than its new capacity', () => {
  const clock = new FakeClock(0);
  const r = takeFromBucket(
    { requestsPerUnit: 2, unitMs: 1000, burst: 2 },
    { tokens: 100, updatedAt: 0 },
    clock.now(),
    1,
  );
  assert.equal(r.decision.remaining, 1);
});
