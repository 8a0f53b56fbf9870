import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, backoffDelay } from './backoff.js';
import { seededRandom } from './random.js';

test('backoff ceiling doubles and is capped', () => {
  const top = () => 0.999999;
  const policy = { baseMs: 25, maxMs: 250 };
  assert.deepEqual(
    [0, 1, 2, 3, 4, 10].map((a) => backoffDelay(policy, a, top)),
    [24, 49, 99, 199, 249, 249],
  );
  assert.equal(
    backoffDelay(policy, 3, () => 0),
    0,
  );
});

test('Backoff sequence never returns zero and restarts after reset', () => {
  const b = new Backoff({ baseMs: 100, maxMs: 1000 }, seededRandom(7));
  const seq = Array.from({ length: 8 }, () => b.next());
  assert.ok(
    seq.every((d) => d >= 50 && d < 1000),
    String(seq),
  );
  b.reset();
  assert.ok(b.next() < 100);
});

test('Backoff never exceeds its cap however many attempts failed, even with a base above it', () => {
  for (const policy of [
    { baseMs: 250, maxMs: 2500 },
    { baseMs: 4000, maxMs: 1000 },
  ]) {
    const b = new Backoff(policy, () => 0.999999);
    const seq = Array.from({ length: 200 }, () => b.next());
    assert.ok(
      seq.every((d) => d > 0 && d <= policy.maxMs),
      `${JSON.stringify(policy)}: ${Math.max(...seq)}`,
    );
  }
});
