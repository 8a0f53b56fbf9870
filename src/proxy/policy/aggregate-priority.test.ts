import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../../core/random.js';
import { AggregatePriority } from './aggregate-priority.js';
import type { HostHealth, LocalityHosts, PriorityHost } from './locality.js';

let seq = 0;
/** One priority level of `total` hosts, the first `healthy` of them healthy. */
function level(healthy: number, total: number, degraded = 0): LocalityHosts<PriorityHost>[] {
  const hosts: PriorityHost[] = [];
  for (let i = 0; i < total; i++) {
    const health: HostHealth = i < healthy ? 'healthy' : i < healthy + degraded ? 'degraded' : 'unhealthy';
    hosts.push({ address: `10.1.${seq}.${i}:80`, weight: 1, health });
  }
  seq++;
  return [{ locality: '', weight: 1, hosts }];
}

test("aggregate load over [canary, stable] follows Envoy's priority load (overprovisioning 1.4)", () => {
  // [canary healthy of total, stable healthy of total] -> load per member
  const rows: [[number, number], [number, number], number[]][] = [
    [
      [2, 2],
      [2, 2],
      [100, 0],
    ],
    [
      [1, 2],
      [2, 2],
      [70, 30],
    ],
    [
      [0, 2],
      [2, 2],
      [0, 100],
    ],
    [
      [0, 0],
      [2, 2],
      [0, 100],
    ], // deregistered: no hosts at all
    [
      [3, 4],
      [2, 2],
      [100, 0],
    ], // 75% * 1.4 >= 100
    [
      [0, 2],
      [1, 2],
      [0, 100],
    ], // canary down, stable half: stable takes it all
  ];
  for (const [c, s, load] of rows) {
    const canary = c[1] === 0 ? [] : [level(c[0], c[1])];
    const p = new AggregatePriority([canary, [level(s[0], s[1])]]);
    assert.deepEqual(p.load, load, JSON.stringify([c, s]));
  }
});

test('degraded hosts carry load only when no member has enough healthy ones (Envoy)', () => {
  assert.deepEqual(new AggregatePriority([[level(0, 2, 2)], [level(0, 2)]]).load, [100, 0]);
  assert.deepEqual(new AggregatePriority([[level(0, 2, 2)], [level(2, 2)]]).load, [0, 100]);
});

test('choose returns the member index; several levels per member map back to their member', () => {
  const rnd = seededRandom(5);
  // Member 0 has two priority levels, both without healthy hosts; member 1 is healthy.
  const p = new AggregatePriority([[level(0, 1), level(0, 1)], [level(1, 1)]]);
  for (let i = 0; i < 50; i++) assert.equal(p.choose(rnd), 1);
  // Healthy first member: always it, whatever the hash.
  const q = new AggregatePriority([[level(1, 1)], [level(1, 1)]]);
  for (let h = 0n; h < 100n; h++) assert.equal(q.choose(rnd, h), 0);
  // No member has a host: nothing to choose.
  assert.equal(new AggregatePriority([[], []]).choose(rnd), undefined);
  assert.equal(new AggregatePriority([]).choose(rnd), undefined);
});

test('shares follow the load when a member is partly healthy', () => {
  const rnd = seededRandom(9);
  const p = new AggregatePriority([[level(1, 2)], [level(2, 2)]]);
  let first = 0;
  for (let i = 0; i < 10_000; i++) if (p.choose(rnd) === 0) first++;
  assert.ok(Math.abs(first / 10_000 - 0.7) < 0.02, `${first}`);
});
