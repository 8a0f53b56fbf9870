import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTrellisError } from '../../core/errors.js';
import { seededRandom } from '../../core/random.js';
import { compileWeightedClusters, runtimeFractionHits } from './weighted.js';

test('weighted pick shares follow weights', () => {
  const w = compileWeightedClusters({
    clusters: [
      { name: 'v1', weight: { value: 70 } },
      { name: 'v2', weight: { value: 20 } },
      { name: 'v3', weight: { value: 10 } },
      { name: 'dark', weight: { value: 0 } },
    ],
  });
  assert.equal(w.totalWeight, 100);
  const rnd = seededRandom(21);
  const n = 20_000;
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const name = w.pick(rnd).name;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  assert.ok(Math.abs(counts.get('v1')! / n - 0.7) < 0.02);
  assert.ok(Math.abs(counts.get('v2')! / n - 0.2) < 0.02);
  assert.ok(Math.abs(counts.get('v3')! / n - 0.1) < 0.02);
  assert.equal(counts.get('dark'), undefined);
});

test('boundaries of the draw, and header_name as the draw', () => {
  const w = compileWeightedClusters({
    clusters: [
      { name: 'a', weight: 1 },
      { name: 'b', weight: 3 },
    ],
    header_name: 'x-pick',
  });
  assert.equal(w.pick(() => 0.2499).name, 'a');
  assert.equal(w.pick(() => 0.25).name, 'b');
  assert.equal(w.pick(() => 0.9999).name, 'b');
  assert.equal(w.pick(() => 0.9, { 'x-pick': '4' }).name, 'a');
  assert.equal(w.pick(() => 0, { 'x-pick': '6' }).name, 'b');
});

test('invalid weighted clusters name the field', () => {
  const bad: [Parameters<typeof compileWeightedClusters>[0], string][] = [
    [{ clusters: [] }, 'route.weighted_clusters.clusters'],
    [{ clusters: [{ name: 'a', weight: 0 }] }, 'route.weighted_clusters.clusters'],
    [{ clusters: [{ weight: 1 }] }, 'route.weighted_clusters.clusters[0]'],
    [
      { clusters: [{ name: 'a', weight: 1 }], total_weight: { value: 100 } },
      'route.weighted_clusters.total_weight',
    ],
  ];
  for (const [config, path] of bad) {
    assert.throws(
      () => compileWeightedClusters(config, 'route.weighted_clusters'),
      (e: unknown) => isTrellisError(e, 'TRELLIS_INVALID_CONFIG') && e.path === path,
      path,
    );
  }
});

test('runtime fraction uses its default value; absent falls back', () => {
  assert.equal(
    runtimeFractionHits({ default_value: { numerator: 30 }, runtime_key: 'k' }, () => 0.29, false),
    true,
  );
  assert.equal(
    runtimeFractionHits({ default_value: { numerator: 30 } }, () => 0.3, true),
    false,
  );
  assert.equal(
    runtimeFractionHits(undefined, () => 0.5, true),
    true,
  );
  assert.equal(
    runtimeFractionHits({}, () => 0.5, false),
    false,
  );
});
