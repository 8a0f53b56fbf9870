import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renewAt } from './renew.js';
import { seededRandom } from '../core/random.js';

test('renewAt: half the lifetime, up to a tenth of it earlier with jitter', () => {
  const H = 3_600_000;
  const rows: Array<[string, number, number, number, number]> = [
    // name, notBefore, notAfter, random(), expected
    ['no jitter drawn', 0, 24 * H, 0, 12 * H],
    ['full jitter', 0, 24 * H, 1, Math.floor(24 * H * 0.4)],
    ['half jitter', 0, 24 * H, 0.5, Math.floor(24 * H * 0.45)],
    ['offset notBefore', 1000, 1000 + 10_000, 0, 6000],
    ['seconds-long test certificate', 5000, 7000, 0.25, 5000 + Math.floor(2000 * 0.475)],
    ['empty lifetime', 500, 500, 0.7, 500],
    ['notAfter before notBefore', 500, 100, 0.7, 500],
  ];
  for (const [name, nb, na, r, want] of rows)
    assert.equal(
      renewAt(nb, na, () => r),
      want,
      name,
    );
});

test('renewAt: ratio and jitter are configurable; jitter never exceeds the ratio', () => {
  assert.equal(
    renewAt(0, 1000, () => 0, { ratio: 0.8, jitter: 0 }),
    800,
  );
  assert.equal(
    renewAt(0, 1000, () => 1, { ratio: 0.8, jitter: 0.2 }),
    600,
  );
  assert.equal(
    renewAt(0, 1000, () => 1, { ratio: 0.1, jitter: 0.5 }),
    0,
  );
});

test('renewAt: a fleet spreads between 40% and 50% of the lifetime', () => {
  const rnd = seededRandom(12);
  const at = Array.from({ length: 1000 }, () => renewAt(0, 100_000, rnd));
  assert.ok(at.every((t) => t >= 40_000 && t <= 50_000));
  assert.ok(new Set(at).size > 900, 'renewal times are spread out');
});
