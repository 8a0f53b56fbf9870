import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTrellisError } from '../../core/errors.js';
import { seededRandom } from '../../core/random.js';
import { compileLbSettings, createLoadBalancer, type LbSettings } from './load-balancer.js';
import { RingHashLoadBalancer } from './lb-ring-hash.js';
import { xxHash64 } from './xxhash64.js';

interface Host {
  address: string;
  weight: number;
  activeRequests?: number;
}

function hosts(weights: number[]): Host[] {
  return weights.map((weight, i) => ({ address: `10.0.0.${i + 1}:8080`, weight }));
}

function counts<H extends Host>(pick: () => H | undefined, n: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const h = pick();
    assert.ok(h);
    m.set(h.address, (m.get(h.address) ?? 0) + 1);
  }
  return m;
}

function assertShares(got: Map<string, number>, hs: Host[], want: number[], n: number, tol = 0.03): void {
  hs.forEach((h, i) => {
    const share = (got.get(h.address) ?? 0) / n;
    assert.ok(Math.abs(share - want[i]!) <= tol, `${h.address}: share ${share.toFixed(3)} want ${want[i]}`);
  });
}

test('compileLbSettings: defaults and validation with field paths', () => {
  assert.deepEqual(compileLbSettings({}), { policy: 'ROUND_ROBIN' });
  assert.deepEqual(compileLbSettings({ lb_policy: 'LEAST_REQUEST' }), {
    policy: 'LEAST_REQUEST',
    choiceCount: 2,
    activeRequestBias: 1,
  });
  assert.deepEqual(
    compileLbSettings({ lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: { value: 64 } } }),
    {
      policy: 'RING_HASH',
      minimumRingSize: 64,
      maximumRingSize: 8_388_608,
    },
  );
  assert.deepEqual(compileLbSettings({ lb_policy: 'MAGLEV' }), { policy: 'MAGLEV', tableSize: 65537 });
  const bad: [Parameters<typeof compileLbSettings>[0], string, string][] = [
    [{ lb_policy: 'CLUSTER_PROVIDED' }, 'TRELLIS_UNSUPPORTED', 'c.lb_policy'],
    [
      { lb_policy: 'MAGLEV', maglev_lb_config: { table_size: { value: 1000 } } },
      'TRELLIS_INVALID_CONFIG',
      'c.maglev_lb_config.table_size',
    ],
    [
      {
        lb_policy: 'RING_HASH',
        ring_hash_lb_config: { minimum_ring_size: { value: 10 }, maximum_ring_size: { value: 5 } },
      },
      'TRELLIS_INVALID_CONFIG',
      'c.ring_hash_lb_config.minimum_ring_size',
    ],
    [
      { lb_policy: 'RING_HASH', ring_hash_lb_config: { hash_function: 'MURMUR_HASH_2' } },
      'TRELLIS_UNSUPPORTED',
      'c.ring_hash_lb_config.hash_function',
    ],
    [{ load_balancing_policy: { policies: [] } }, 'TRELLIS_UNSUPPORTED', 'c.load_balancing_policy'],
  ];
  for (const [config, code, path] of bad) {
    assert.throws(
      () => compileLbSettings(config, 'c'),
      (e: unknown) => isTrellisError(e, code as 'TRELLIS_UNSUPPORTED') && e.path === path,
      JSON.stringify(config),
    );
  }
});

test('every policy returns undefined for an empty host set and the only host for one', () => {
  const policies: LbSettings[] = [
    { policy: 'ROUND_ROBIN' },
    { policy: 'RANDOM' },
    { policy: 'LEAST_REQUEST', choiceCount: 2, activeRequestBias: 1 },
    { policy: 'RING_HASH', minimumRingSize: 16, maximumRingSize: 1024 },
    { policy: 'MAGLEV', tableSize: 251 },
  ];
  for (const p of policies) {
    assert.equal(createLoadBalancer(p, [], seededRandom(1)).pick(), undefined, p.policy);
    const one = hosts([1]);
    assert.equal(createLoadBalancer(p, one, seededRandom(1)).pick({ hash: 42n }), one[0], p.policy);
  }
});

test('round robin with equal weights visits every host in turn', () => {
  const hs = hosts([1, 1, 1]);
  const lb = createLoadBalancer({ policy: 'ROUND_ROBIN' }, hs, seededRandom(3));
  const seq = Array.from({ length: 6 }, () => lb.pick()!.address);
  assert.deepEqual(seq.slice(3), seq.slice(0, 3));
  assert.equal(new Set(seq.slice(0, 3)).size, 3);
});

test('weighted round robin gives exact shares over a full cycle, interleaved', () => {
  const hs = hosts([1, 2, 5]);
  const lb = createLoadBalancer({ policy: 'ROUND_ROBIN' }, hs, seededRandom(7));
  const got = counts(() => lb.pick(), 800);
  assert.deepEqual([...hs.map((h) => got.get(h.address))], [100, 200, 500]);
  // Smoothness: the heavy host never gets more than 5 picks in a row... and never long gaps.
  const seq = Array.from({ length: 16 }, () => lb.pick()!.address);
  let run = 0;
  let maxRun = 0;
  for (let i = 0; i < seq.length; i++) {
    run = i > 0 && seq[i] === seq[i - 1] ? run + 1 : 1;
    maxRun = Math.max(maxRun, run);
  }
  assert.ok(maxRun <= 3, `max run ${maxRun}`);
});

test('random ignores weights; least request favours idle hosts', () => {
  const n = 20_000;
  const hs = hosts([1, 9]);
  assertShares(
    counts(() => createLoadBalancer({ policy: 'RANDOM' }, hs, rnd).pick(), n),
    hs,
    [0.5, 0.5],
    n,
  );
  const busy = [
    { address: 'a:1', weight: 1, activeRequests: 10 },
    { address: 'b:1', weight: 1, activeRequests: 0 },
    { address: 'c:1', weight: 1, activeRequests: 0 },
  ];
  const lr = createLoadBalancer(
    { policy: 'LEAST_REQUEST', choiceCount: 2, activeRequestBias: 1 },
    busy,
    seededRandom(5),
  );
  const got = counts(() => lr.pick(), n);
  // The busy host wins only when both choices land on it: 1/9 of picks.
  assert.ok(Math.abs((got.get('a:1') ?? 0) / n - 1 / 9) < 0.02);
});
const rnd = seededRandom(11);

test('weighted least request scales weights by active requests', () => {
  const hs = [
    { address: 'a:1', weight: 2, activeRequests: 0 },
    { address: 'b:1', weight: 1, activeRequests: 0 },
  ];
  const lb = createLoadBalancer(
    { policy: 'LEAST_REQUEST', choiceCount: 2, activeRequestBias: 1 },
    hs,
    seededRandom(2),
  );
  const n = 20_000;
  assertShares(
    counts(() => lb.pick(), n),
    hs,
    [2 / 3, 1 / 3],
    n,
  );
  hs[0]!.activeRequests = 3; // effective weights 2/4 and 1/1
  assertShares(
    counts(() => lb.pick(), n),
    hs,
    [1 / 3, 2 / 3],
    n,
  );
});

test('ring hash: same key same host, weights respected, removal moves only that host keys', () => {
  const hs = hosts([1, 1, 2, 1]);
  const ring = new RingHashLoadBalancer(hs, seededRandom(1), 1024, 8_388_608);
  assert.ok(ring.ringSize >= 1024 && ring.ringSize <= 1100, `ring size ${ring.ringSize}`);
  const keys = Array.from({ length: 4000 }, (_, i) => xxHash64(`user-${i}`));
  const before = keys.map((k) => ring.pick({ hash: k })!);
  assert.deepEqual(
    keys.map((k) => ring.pick({ hash: k })!),
    before,
  );
  const share = before.filter((h) => h === hs[2]).length / keys.length;
  assert.ok(Math.abs(share - 0.4) < 0.07, `weight-2 host share ${share}`);
  // Envoy sizes each host's share of the ring from the normalized weights, so when a host goes
  // the others gain a few entries: its keys all move, and only a small part of the rest does.
  const smaller = new RingHashLoadBalancer([hs[0]!, hs[2]!, hs[3]!], seededRandom(1), 1024, 8_388_608);
  let movedOthers = 0;
  let others = 0;
  keys.forEach((k, i) => {
    const now = smaller.pick({ hash: k });
    assert.notEqual(now, hs[1]);
    if (before[i] === hs[1]) return;
    others++;
    if (now !== before[i]) movedOthers++;
  });
  assert.ok(movedOthers / others < 0.2, `moved ${movedOthers} of ${others}`);
  // Same membership, same ring: a key maps to the same host in every proxy.
  const again = new RingHashLoadBalancer(hs, seededRandom(99), 1024, 8_388_608);
  assert.deepEqual(
    keys.map((k) => again.pick({ hash: k })),
    before,
  );
});

test('ring hash and maglev: excluded hosts are skipped, unless all are excluded', () => {
  for (const p of [
    { policy: 'RING_HASH', minimumRingSize: 64, maximumRingSize: 1024 },
    { policy: 'MAGLEV', tableSize: 251 },
  ] as LbSettings[]) {
    const hs = hosts([1, 1, 1]);
    const lb = createLoadBalancer(p, hs, seededRandom(1));
    for (let i = 0; i < 50; i++) {
      const hash = xxHash64(`k${i}`);
      const first = lb.pick({ hash })!;
      const second = lb.pick({ hash, exclude: new Set([first]) })!;
      assert.notEqual(second, first, p.policy);
      assert.equal(lb.pick({ hash, exclude: new Set(hs) }), first, p.policy);
    }
  }
});

test('maglev: table shares follow weights and removal disturbs few keys', () => {
  const hs = hosts([1, 1, 1, 3]);
  const lb = createLoadBalancer({ policy: 'MAGLEV', tableSize: 65537 }, hs, seededRandom(1));
  const keys = Array.from({ length: 6000 }, (_, i) => xxHash64(`session-${i}`));
  const before = keys.map((k) => lb.pick({ hash: k })!);
  assertShares(
    new Map(hs.map((h) => [h.address, before.filter((b) => b === h).length])),
    hs,
    [1 / 6, 1 / 6, 1 / 6, 1 / 2],
    keys.length,
  );
  const after = createLoadBalancer(
    { policy: 'MAGLEV', tableSize: 65537 },
    [hs[0]!, hs[2]!, hs[3]!],
    seededRandom(1),
  );
  const moved = keys.filter((k, i) => before[i] !== hs[1] && after.pick({ hash: k }) !== before[i]).length;
  assert.ok(moved / keys.length < 0.05, `moved ${moved}`);
});

test('round robin and random honour exclude', () => {
  const hs = hosts([1, 1, 1]);
  for (const p of [{ policy: 'ROUND_ROBIN' }, { policy: 'RANDOM' }] as LbSettings[]) {
    const lb = createLoadBalancer(p, hs, seededRandom(9));
    for (let i = 0; i < 30; i++) assert.notEqual(lb.pick({ exclude: new Set([hs[0]!]) }), hs[0]);
  }
});
