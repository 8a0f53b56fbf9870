import { test } from 'node:test';
import assert from 'node:assert/strict';
import { windowDecision, windowStart } from './fixed-window.js';

test('fixed window: windows are aligned to the epoch', () => {
  const table: [number, number, number][] = [
    [0, 1000, 0],
    [999, 1000, 0],
    [1000, 1000, 1000],
    [61_500, 60_000, 60_000],
    [86_400_000 + 5, 86_400_000, 86_400_000],
  ];
  for (const [now, unit, start] of table) assert.equal(windowStart(now, unit), start, `${now} in ${unit}`);
});

test('fixed window: the count after this hit decides, reset is the end of the window', () => {
  const limit = { requestsPerUnit: 5, unitMs: 60_000 };
  const now = 120_000 + 15_000;
  const table: [number, boolean, number, boolean][] = [
    // countAfter, overLimit, remaining, nearLimit
    [1, false, 4, false],
    [4, false, 1, false],
    [5, false, 0, true],
    [6, true, 0, false],
  ];
  for (const [count, over, remaining, near] of table) {
    const d = windowDecision(limit, count, now);
    assert.deepEqual(
      [d.overLimit, d.remaining, d.nearLimit, d.resetMs],
      [over, remaining, near, 45_000],
      `count ${count}`,
    );
  }
});

test('fixed window: a limit of 0 refuses everything', () => {
  assert.equal(windowDecision({ requestsPerUnit: 0, unitMs: 1000 }, 1, 0).overLimit, true);
});
