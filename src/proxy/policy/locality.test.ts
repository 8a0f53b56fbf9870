import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../../core/random.js';
import { PrioritySet, type HostHealth, type LocalityHosts, type PriorityHost } from './locality.js';

let seq = 0;
function level(
  healthy: number,
  total: number,
  locality = 'zone-a',
  weight = 1,
  degraded = 0,
): LocalityHosts<PriorityHost> {
  const hosts: PriorityHost[] = [];
  for (let i = 0; i < total; i++) {
    const health: HostHealth = i < healthy ? 'healthy' : i < healthy + degraded ? 'degraded' : 'unhealthy';
    hosts.push({ address: `10.0.${seq}.${i}:80`, weight: 1, health });
  }
  seq++;
  return { locality, weight, hosts };
}

test('priority load follows Envoy examples (overprovisioning 1.4)', () => {
  // [P0 healthy of 10, P1 healthy of 10] -> [load P0, load P1, panic P0, panic P1]
  const cases: [number, number, number[], boolean[]][] = [
    [10, 10, [100, 0], [false, false]],
    [8, 10, [100, 0], [false, false]],
    [7, 10, [98, 2], [false, false]],
    [5, 10, [70, 30], [false, false]],
    [0, 10, [0, 100], [false, false]],
    // Both levels low: normalized total 70, 35/70 each; both under the 50% panic threshold.
    [2, 2, [50, 50], [true, true]],
  ];
  for (const [h0, h1, load, panic] of cases) {
    const ps = new PrioritySet([[level(h0, 10)], [level(h1, 10)]]);
    assert.deepEqual(ps.healthyLoad, load, `${h0}/${h1}`);
    assert.deepEqual(ps.panic, panic, `${h0}/${h1}`);
  }
});

test('one level in panic among healthy others is not in panic; total panic follows host counts', () => {
  const partial = new PrioritySet([[level(1, 10)], [level(6, 10)]]);
  // P0: 14, P1: 84 -> normalized 98 < 100, so panic is considered per level.
  assert.deepEqual(partial.healthyLoad, [15, 85]);
  assert.deepEqual(partial.panic, [true, false]);
  const total = new PrioritySet([[level(0, 4)], [level(0, 12)]]);
  assert.deepEqual(total.healthyLoad, [25, 75]);
  assert.deepEqual(total.panic, [true, true]);
  const choice = total.choose(seededRandom(1), 10n);
  assert.equal(choice?.kind, 'panic');
  assert.equal(choice?.hosts.length, 4);
});

test('degraded hosts take load only after healthy ones', () => {
  const ps = new PrioritySet([[level(5, 10, 'a', 1, 5)]]);
  assert.deepEqual(ps.healthyLoad, [70]);
  assert.deepEqual(ps.degradedLoad, [30]);
  assert.equal(ps.choose(seededRandom(1), 69)?.kind, 'healthy');
  assert.equal(ps.choose(seededRandom(1), 70)?.kind, 'degraded');
});

test('choose spreads traffic by priority load', () => {
  const ps = new PrioritySet([[level(5, 10)], [level(10, 10)]]);
  const rnd = seededRandom(4);
  let p1 = 0;
  const n = 10_000;
  for (let i = 0; i < n; i++) if (ps.choose(rnd)!.priority === 1) p1++;
  assert.ok(Math.abs(p1 / n - 0.3) < 0.03, `p1 share ${p1 / n}`);
});

test('locality weighted choice uses weight times availability', () => {
  const ps = new PrioritySet([[level(4, 4, 'a', 1), level(4, 4, 'b', 3), level(0, 4, 'c', 5)]], {
    localityWeighted: true,
  });
  const rnd = seededRandom(8);
  const counts = new Map<string, number>();
  const n = 8000;
  for (let i = 0; i < n; i++) {
    const c = ps.choose(rnd)!;
    counts.set(c.locality!, (counts.get(c.locality!) ?? 0) + 1);
  }
  assert.equal(counts.get('c'), undefined);
  assert.ok(Math.abs((counts.get('b') ?? 0) / n - 0.75) < 0.03);
  const ids = new Set(ps.candidates().map((c) => c.id));
  assert.ok(ids.has('p0/healthy/0') && ids.has('p0/healthy/1') && !ids.has('p0/healthy/2'));
});

test('no hosts, or panic disabled with nothing healthy, gives no host set', () => {
  assert.equal(new PrioritySet([]).choose(seededRandom(1)), undefined);
  assert.equal(
    new PrioritySet([[level(0, 3)]], { panicThresholdPercent: 0 }).choose(seededRandom(1)),
    undefined,
  );
  const panicking = new PrioritySet([[level(0, 3)]]);
  assert.equal(panicking.choose(seededRandom(1))?.hosts.length, 3);
});
