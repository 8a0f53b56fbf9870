import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from './clock.js';

test('FakeClock fires timers in order, including ones scheduled while advancing', () => {
  const clock = new FakeClock(1000);
  const fired: string[] = [];
  clock.setTimeout(() => fired.push(`b@${clock.now()}`), 20);
  clock.setTimeout(() => {
    fired.push(`a@${clock.now()}`);
    clock.setTimeout(() => fired.push(`c@${clock.now()}`), 5);
  }, 10);
  const cancelled = clock.setTimeout(() => fired.push('never'), 15);
  cancelled.cancel();
  clock.advance(12);
  assert.deepEqual(fired, ['a@1010']);
  clock.advance(100);
  assert.deepEqual(fired, ['a@1010', 'c@1015', 'b@1020']);
  assert.equal(clock.now(), 1112);
  assert.equal(clock.pendingTimers(), 0);
});
