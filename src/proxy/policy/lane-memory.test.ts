import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../core/clock.js';
import { LaneMemory } from './lane-memory.js';

function counting(): { counts: Record<string, number>; count: (n: string) => void } {
  const counts: Record<string, number> = {};
  return { counts, count: (n) => void (counts[n] = (counts[n] ?? 0) + 1) };
}

test('remembers a lane under every key and recalls it by any of them', () => {
  const memory = new LaneMemory(new FakeClock(), { maxEntries: 10, ttlMs: 1000 });
  memory.remember(['w3c:1', 'rid:a'], 'box-x');
  assert.equal(memory.recall(['rid:a']), 'box-x');
  assert.equal(memory.recall(['w3c:2', 'w3c:1']), 'box-x');
  assert.equal(memory.recall(['w3c:2']), undefined);
  assert.equal(memory.recall([]), undefined);
});

test('an entry expires ttl after it was remembered, and is counted', () => {
  const clock = new FakeClock();
  const { counts, count } = counting();
  const memory = new LaneMemory(clock, { maxEntries: 10, ttlMs: 1000 });
  memory.remember(['rid:a'], 'box-x', count);
  clock.advance(999);
  assert.equal(memory.recall(['rid:a'], count), 'box-x');
  clock.advance(1);
  assert.equal(memory.recall(['rid:a'], count), undefined);
  assert.equal(memory.size, 0);
  assert.deepEqual(counts, { remembered: 1, carried: 1, expired: 1 });
});

test('a full table drops the least recently used entry and counts it', () => {
  const clock = new FakeClock();
  const { counts, count } = counting();
  const memory = new LaneMemory(clock, { maxEntries: 2, ttlMs: 1000 });
  memory.remember(['a'], 'l1', count);
  memory.remember(['b'], 'l2', count);
  assert.equal(memory.recall(['a']), 'l1'); // a is now the most recent
  memory.remember(['c'], 'l3', count);
  assert.equal(memory.size, 2);
  assert.equal(memory.recall(['b']), undefined);
  assert.equal(memory.recall(['a']), 'l1');
  assert.equal(memory.recall(['c']), 'l3');
  assert.equal(counts.evicted, 1);
  // An expired entry pushed out is counted as expired, not as a live one lost.
  clock.advance(1000);
  memory.remember(['d'], 'l4', count);
  assert.equal(counts.expired, 1);
  assert.equal(counts.evicted, 1);
});

test('never grows past its bound, however many keys arrive', () => {
  const memory = new LaneMemory(new FakeClock(), { maxEntries: 100, ttlMs: 60_000 });
  for (let i = 0; i < 10_000; i++) memory.remember([`w3c:${i}`, `rid:${i}`], 'box-x');
  assert.equal(memory.size, 100);
  assert.equal(memory.recall(['rid:9999']), 'box-x');
  assert.equal(memory.recall(['rid:0']), undefined);
});

test('forget: an inbound request in no lane takes its keys out of any lane', () => {
  const { counts, count } = counting();
  const memory = new LaneMemory(new FakeClock(), { maxEntries: 10, ttlMs: 1000 });
  memory.remember(['w3c:1', 'rid:a'], 'box-x');
  memory.forget(['w3c:1'], count);
  memory.forget(['w3c:9'], count);
  assert.equal(memory.recall(['w3c:1']), undefined);
  assert.equal(memory.recall(['rid:a']), 'box-x');
  assert.deepEqual(counts, { forgotten: 1 });
});

test('a re-remembered key takes the new lane and a fresh time', () => {
  const clock = new FakeClock();
  const memory = new LaneMemory(clock, { maxEntries: 10, ttlMs: 1000 });
  memory.remember(['a'], 'l1');
  clock.advance(900);
  memory.remember(['a'], 'l2');
  clock.advance(900);
  assert.equal(memory.recall(['a']), 'l2');
});

test('the default limits, and a table of one', () => {
  const clock = new FakeClock();
  const memory = new LaneMemory(clock);
  memory.remember(['a'], 'l1');
  clock.advance(59_999);
  assert.equal(memory.recall(['a']), 'l1');
  const one = new LaneMemory(clock, { maxEntries: 1, ttlMs: 10 });
  one.remember(['a'], 'l1');
  one.remember(['b'], 'l2');
  assert.equal(one.size, 1);
  assert.equal(one.recall(['b']), 'l2');
});

test('a request without trace context remembers nothing, and counts nothing', () => {
  const { counts, count } = counting();
  const memory = new LaneMemory(new FakeClock());
  memory.remember([], 'box-x', count);
  assert.deepEqual(counts, {});
  assert.equal(memory.size, 0);
});

test('limits must be positive', () => {
  assert.throws(
    () => new LaneMemory(new FakeClock(), { maxEntries: -1, ttlMs: 1 }),
    /limits must be positive/,
  );
  assert.throws(() => new LaneMemory(new FakeClock(), { maxEntries: 0, ttlMs: 1 }), RangeError);
  assert.throws(() => new LaneMemory(new FakeClock(), { maxEntries: 1, ttlMs: 0 }), RangeError);
  assert.throws(() => new LaneMemory(new FakeClock(), { maxEntries: Number.NaN, ttlMs: 1 }), RangeError);
});
