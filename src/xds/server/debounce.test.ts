import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../core/clock.js';
import { Debouncer, debounceDecision } from './debounce.js';

test('debounce decision: quiet period or max delay, whichever first', () => {
  const o = { quietMs: 100, maxMs: 1000 };
  const table: [number, number, number, ReturnType<typeof debounceDecision>][] = [
    [0, 0, 0, { flush: false, waitMs: 100 }],
    [0, 0, 99, { flush: false, waitMs: 1 }],
    [0, 0, 100, { flush: true }],
    [0, 50, 120, { flush: false, waitMs: 30 }],
    [0, 950, 960, { flush: false, waitMs: 40 }],
    [0, 990, 1000, { flush: true }],
  ];
  for (const [first, last, now, want] of table)
    assert.deepEqual(debounceDecision(first, last, now, o), want, `${first},${last},${now}`);
});

test('Debouncer merges a burst and flushes after it settles, or at the max delay', () => {
  const clock = new FakeClock();
  const flushed: number[][] = [];
  const d = new Debouncer<number>({ quietMs: 100, maxMs: 1000 }, clock, (e) => flushed.push(e));
  d.push(1);
  clock.advance(50);
  d.push(2);
  clock.advance(99);
  assert.deepEqual(flushed, []);
  clock.advance(1);
  assert.deepEqual(flushed, [[1, 2]]);
  // A steady stream every 50 ms never goes quiet: the max delay forces a push.
  for (let i = 0; i < 30; i++) {
    d.push(i);
    clock.advance(50);
  }
  assert.equal(flushed.length, 2);
  assert.equal((flushed as number[][])[1]?.length, 20, 'the events of the first second of the stream');
});

test('quietMs 0 pushes every event at once', () => {
  const clock = new FakeClock();
  const flushed: string[][] = [];
  const d = new Debouncer<string>({ quietMs: 0, maxMs: 0 }, clock, (e) => flushed.push(e));
  d.push('a');
  d.push('b');
  assert.deepEqual(flushed, [['a'], ['b']]);
});
