import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../../core/random.js';
import { pickWeighted, pickWeightedByKey, totalWeight } from './weighted.js';

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

// ---- the sticky pick (pickWeightedByKey) ----

interface Dest {
  cluster: string;
  weight: number;
}
const byCluster = (d: Dest): string => d.cluster;
const USERS = Array.from({ length: 20_000 }, (_, i) => `user-${i}`);

function assign(dests: readonly Dest[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const u of USERS) out.set(u, pickWeightedByKey(dests, u, byCluster)!.cluster);
  return out;
}

test('sticky pick: the same key always lands on the same destination, shares follow the weights', () => {
  const dests = [
    { cluster: 'v1', weight: 70 },
    { cluster: 'v2', weight: 20 },
    { cluster: 'v3', weight: 10 },
    { cluster: 'dark', weight: 0 },
  ];
  const a = assign(dests);
  assert.deepEqual(assign([...dests].reverse()), a, 'the order of destinations does not matter');
  const counts = new Map<string, number>();
  for (const c of a.values()) counts.set(c, (counts.get(c) ?? 0) + 1);
  assert.ok(Math.abs(counts.get('v1')! / USERS.length - 0.7) < 0.015, `v1 ${counts.get('v1')}`);
  assert.ok(Math.abs(counts.get('v2')! / USERS.length - 0.2) < 0.015, `v2 ${counts.get('v2')}`);
  assert.ok(Math.abs(counts.get('v3')! / USERS.length - 0.1) < 0.015, `v3 ${counts.get('v3')}`);
  assert.equal(counts.get('dark'), undefined, 'weight 0 is never picked');
  assert.equal(pickWeightedByKey([], 'u', byCluster), undefined);
  assert.equal(pickWeightedByKey([{ cluster: 'x', weight: 0 }], 'u', byCluster), undefined);
});

test('sticky canary steps 10 -> 20 -> 50 -> 100: users only move to the canary, never back', () => {
  let previous: Map<string, string> | undefined;
  for (const canary of [0, 10, 20, 50, 80, 100]) {
    const now = assign([
      { cluster: 'stable', weight: 100 - canary },
      { cluster: 'canary', weight: canary },
    ]);
    const onCanary = [...now.values()].filter((c) => c === 'canary').length / USERS.length;
    assert.ok(Math.abs(onCanary - canary / 100) < 0.015, `${canary}%: ${onCanary}`);
    for (const [u, c] of previous ?? []) {
      if (c === 'canary') assert.equal(now.get(u), 'canary', `${u} moved back at ${canary}%`);
    }
    previous = now;
  }
});

test('sticky pick property: with any number of destinations, a key moves from x to y only if y gained on x', () => {
  const rnd = seededRandom(7);
  const names = ['a', 'b', 'c', 'd', 'e'];
  for (let round = 0; round < 40; round++) {
    const n = 2 + Math.floor(rnd() * 4);
    const before = names.slice(0, n).map((cluster) => ({ cluster, weight: Math.floor(rnd() * 100) }));
    if (before.every((d) => d.weight === 0)) before[0]!.weight = 1;
    // One step: some weights move up, some down, some stay (the total need not stay 100).
    const after = before.map((d) => ({
      cluster: d.cluster,
      weight: rnd() < 0.4 ? d.weight : Math.floor(rnd() * 100),
    }));
    if (after.every((d) => d.weight === 0)) after[0]!.weight = 1;
    const w0 = new Map(before.map((d) => [d.cluster, d.weight]));
    const w1 = new Map(after.map((d) => [d.cluster, d.weight]));
    for (const u of USERS.slice(0, 4000)) {
      const x = pickWeightedByKey(before, u, byCluster)!.cluster;
      const y = pickWeightedByKey(after, u, byCluster)!.cluster;
      if (x === y) continue;
      // y's weight relative to x's grew: w1y/w1x > w0y/w0x (cross-multiplied; x at 0 counts as a loss).
      const gained = w1.get(y)! * w0.get(x)! > w0.get(y)! * w1.get(x)!;
      assert.ok(
        gained,
        `round ${round}: ${u} moved ${x} -> ${y} (${JSON.stringify(before)} -> ${JSON.stringify(after)})`,
      );
    }
  }
});
