import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from './clock.js';
import { TokenBucket, newBucketState, take } from './token-bucket.js';

test('step refill: capacity, then one fill per interval', () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket({ capacity: 3, tokensPerFill: 2, fillIntervalMs: 1000 }, clock);
  assert.deepEqual(
    [1, 2, 3, 4].map(() => bucket.take().allowed),
    [true, true, true, false],
  );
  clock.advance(999);
  const denied = bucket.take();
  assert.equal(denied.allowed, false);
  assert.equal(denied.resetMs, 1);
  clock.advance(1);
  assert.equal(bucket.take().remaining, 1);
  assert.equal(bucket.take().allowed, true);
  assert.equal(bucket.take().allowed, false);
  clock.advance(10_000);
  assert.equal(bucket.take().remaining, 2, 'refill is capped at capacity');
});

test('continuous refill accrues fractions and reports time to the next token', () => {
  const spec = { capacity: 10, tokensPerFill: 10, fillIntervalMs: 1000, continuous: true };
  let state = newBucketState(spec, 0);
  for (let i = 0; i < 10; i++) state = take(spec, state, 0).state;
  const r = take(spec, state, 50);
  assert.equal(r.allowed, false);
  assert.equal(r.resetMs, 50);
  assert.equal(take(spec, r.state, 100).allowed, true);
});
