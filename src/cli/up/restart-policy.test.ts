import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_RESTART_LIMITS, RestartPolicy, type RestartLimits } from './restart-policy.js';

const limits: RestartLimits = {
  backoff: { baseMs: 1000, maxMs: 8000 },
  stableMs: 10_000,
  maxRestarts: 3,
  windowMs: 60_000,
};
// random() = 0.999...: each delay at its ceiling, so growth is visible.
const top = () => 0.9999;

test('backoff grows while runs fail quickly, and is capped', () => {
  const p = new RestartPolicy({ ...limits, maxRestarts: 100 }, top);
  const delays: number[] = [];
  let now = 0;
  for (let i = 0; i < 6; i++) {
    const d = p.afterExit(now, now + 100);
    assert.ok(d.restart);
    delays.push(d.delayMs);
    now += 100 + d.delayMs;
  }
  assert.deepEqual(delays, [999, 1999, 3999, 7999, 7999, 7999]);
});

test('a run that lasted stableMs resets the backoff', () => {
  const p = new RestartPolicy({ ...limits, maxRestarts: 100 }, top);
  p.afterExit(0, 100);
  p.afterExit(2000, 2100);
  const d = p.afterExit(10_000, 20_000);
  assert.deepEqual(d, { restart: true, delayMs: 999 });
});

test('more than maxRestarts exits within the window gives up; exits older than the window are forgotten', () => {
  const table: { exits: number[]; gaveUpAt: number | undefined }[] = [
    // Four exits within a minute: the fourth gives up.
    { exits: [0, 1000, 2000, 3000], gaveUpAt: 3 },
    // Spread over more than a minute: never more than three in any window.
    { exits: [0, 25_000, 50_000, 75_000, 100_000, 125_000], gaveUpAt: undefined },
    // Exactly windowMs apart: the first has left the window.
    { exits: [0, 1, 2, 60_000], gaveUpAt: undefined },
    { exits: [0, 1, 2, 59_999], gaveUpAt: 3 },
  ];
  for (const { exits, gaveUpAt } of table) {
    const p = new RestartPolicy(limits, top);
    const decisions = exits.map((t) => p.afterExit(t - 1, t));
    const first = decisions.findIndex((d) => !d.restart);
    assert.equal(first === -1 ? undefined : first, gaveUpAt, JSON.stringify(exits));
    if (gaveUpAt !== undefined)
      assert.deepEqual(decisions[gaveUpAt], { restart: false, exits: 4, windowMs: 60_000 });
  }
});

test('reset() forgets failures: a fixed app gets its full allowance and the shortest delay', () => {
  const p = new RestartPolicy(limits, top);
  for (let i = 0; i < 3; i++) p.afterExit(i, i + 1);
  p.reset();
  assert.deepEqual(p.afterExit(10, 11), { restart: true, delayMs: 999 });
});

test('the defaults are the ones `trellis up --help` promises: 5 restarts within 60 s, 0.5 s doubling to 30 s', () => {
  assert.deepEqual(DEFAULT_RESTART_LIMITS, {
    backoff: { baseMs: 500, maxMs: 30_000 },
    stableMs: 10_000,
    maxRestarts: 5,
    windowMs: 60_000,
  });
});
