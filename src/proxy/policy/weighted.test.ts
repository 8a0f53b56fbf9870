import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../../core/random.js';
import { pickWeighted, totalWeight } from './weighted.js';

const targets = [
  { name: 'v1', weight: 70 },
  { name: 'v2', weight: 20 },
  { name: 'v3', weight: 10 },
  { name: 'dark', weight: 0 },
];

test('weighted pick shares follow weights; weight 0 is never picked', () => {
  const total = totalWeight(targets);
  assert.equal(total, 100);
  const rnd = seededRandom(21);
  const n = 20_000;
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const name = pickWeighted(targets, total, rnd)!.name;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  assert.ok(Math.abs(counts.get('v1')! / n - 0.7) < 0.02);
  assert.ok(Math.abs(counts.get('v2')! / n - 0.2) < 0.02);
  assert.ok(Math.abs(counts.get('v3')! / n - 0.1) < 0.02);
  assert.equal(counts.get('dark'), undefined);
});

test('the draw walks cumulative weights: boundaries table', () => {
  const ab = [
    { name: 'a', weight: 1 },
    { name: 'zero', weight: 0 },
    { name: 'b', weight: 3 },
  ];
  const cases: [number, string][] = [
    [0, 'a'],
    [0.2499, 'a'],
    [0.25, 'b'],
    [0.9999, 'b'],
  ];
  for (const [draw, want] of cases) {
    assert.equal(pickWeighted(ab, totalWeight(ab), () => draw)?.name, want, `draw ${draw}`);
  }
  assert.equal(
    pickWeighted([], 0, () => 0),
    undefined,
  );
  assert.equal(pickWeighted([{ name: 'only', weight: 0 }], 0, () => 0.5)?.name, 'only');
});
