import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrematureResetTracker } from './premature-reset.js';

/** Feeds `events` ([lifetimeMs, responded]) and returns the 1-based index that closes, or 0. */
function closesAt(events: [number, boolean][], limit = 10): number {
  const t = new PrematureResetTracker(limit);
  for (let i = 0; i < events.length; i++) if (t.streamClosed(...events[i]!)) return i + 1;
  return 0;
}

const reset: [number, boolean] = [5, false];
const good: [number, boolean] = [5, true];
const slowReset: [number, boolean] = [1500, false];

test('a connection of only early resets closes once they reach half the limit', () => {
  assert.equal(closesAt(Array(20).fill(reset)), 5);
});

test('good streams keep a connection open, however many', () => {
  assert.equal(closesAt(Array(1000).fill(good)), 0);
});

test('a reset after the minimum lifetime is not premature (a client giving up on a slow call)', () => {
  assert.equal(closesAt(Array(100).fill(slowReset)), 0);
  // At exactly the minimum lifetime it still counts; just past it, it does not.
  assert.equal(closesAt([[1000, false], ...Array(4).fill(reset)]), 5);
  assert.equal(closesAt([[1001, false], ...Array(5).fill(reset)]), 6);
});

test('past the limit, the connection closes when half or more of all its streams were premature', () => {
  // 10 good, then resets: 10 closed with 0 premature; at 20 closed, 10 premature = half.
  const events: [number, boolean][] = [...Array(10).fill(good), ...Array(20).fill(reset)];
  assert.equal(closesAt(events), 20);
  // Mostly good traffic with some cancellations never closes.
  const mixed: [number, boolean][] = [];
  for (let i = 0; i < 300; i++) mixed.push(i % 3 === 0 ? reset : good);
  assert.equal(closesAt(mixed), 0);
});
