// Cluster lb_policy and its config as Envoy validates them (config.cluster.v3.Cluster): the
// enum by number, the bounds of each balancer's settings, and the one balancer a cluster keeps
// per host set so round robin really rotates.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTrellisError } from '../../core/errors.js';
import { seededRandom } from '../../core/random.js';
import { ClusterLoadBalancer, priorityOptionsFrom } from './cluster-load-balancer.js';
import { compileLbSettings, type ClusterLbConfig } from './load-balancer.js';
import type { LocalityHosts, PriorityHost } from './locality.js';

const bad = (c: ClusterLbConfig) =>
  assert.throws(() => compileLbSettings(c), isTrellisError, JSON.stringify(c));

test('lb_policy given as its enum number maps to the Envoy policy of that number', () => {
  const policy = (n: number) => compileLbSettings({ lb_policy: n }).policy;
  assert.equal(policy(0), 'ROUND_ROBIN');
  assert.equal(policy(1), 'LEAST_REQUEST');
  assert.equal(policy(3), 'RING_HASH');
  assert.equal(policy(4), 'RANDOM');
  assert.equal(policy(5), 'MAGLEV');
  // 2 is unused in v3; 6 (CLUSTER_PROVIDED) has no balancer of ours.
  bad({ lb_policy: 2 });
  bad({ lb_policy: 6 });
  bad({ lb_policy: 'CLUSTER_PROVIDED' });
  assert.deepEqual(compileLbSettings({ lb_policy: 'RANDOM' }), { policy: 'RANDOM' });
  assert.deepEqual(compileLbSettings({ lb_policy: null }), { policy: 'ROUND_ROBIN' });
});

test('a null typed load_balancing_policy is absent; a set one is refused', () => {
  assert.deepEqual(compileLbSettings({ load_balancing_policy: null }), { policy: 'ROUND_ROBIN' });
  bad({ load_balancing_policy: {} });
});

test('least request: choice_count at least 2, active_request_bias not negative (0 allowed)', () => {
  bad({ lb_policy: 'LEAST_REQUEST', least_request_lb_config: { choice_count: { value: 1 } } });
  bad({
    lb_policy: 'LEAST_REQUEST',
    least_request_lb_config: { active_request_bias: { default_value: -0.5 } },
  });
  assert.deepEqual(
    compileLbSettings({
      lb_policy: 'LEAST_REQUEST',
      least_request_lb_config: { choice_count: { value: 2 }, active_request_bias: { default_value: 0 } },
    }),
    { policy: 'LEAST_REQUEST', choiceCount: 2, activeRequestBias: 0 },
  );
});

test('ring hash: XX_HASH only, 1 <= minimum <= maximum <= 8M', () => {
  const ring = (c: ClusterLbConfig['ring_hash_lb_config']) =>
    compileLbSettings({ lb_policy: 'RING_HASH', ring_hash_lb_config: c });
  assert.deepEqual(
    ring({ hash_function: 0, minimum_ring_size: { value: 1 }, maximum_ring_size: { value: 1 } }),
    {
      policy: 'RING_HASH',
      minimumRingSize: 1,
      maximumRingSize: 1,
    },
  );
  assert.equal(ring({ maximum_ring_size: { value: 8_388_608 } }).policy, 'RING_HASH');
  bad({ lb_policy: 'RING_HASH', ring_hash_lb_config: { hash_function: 'MURMUR_HASH_2' } });
  bad({ lb_policy: 'RING_HASH', ring_hash_lb_config: { hash_function: 1 } });
  bad({ lb_policy: 'RING_HASH', ring_hash_lb_config: { maximum_ring_size: { value: 8_388_609 } } });
  bad({ lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: { value: 0 } } });
  bad({
    lb_policy: 'RING_HASH',
    ring_hash_lb_config: { minimum_ring_size: { value: 9 }, maximum_ring_size: { value: 8 } },
  });
});

test('maglev: the table size is a prime no greater than 5000011', () => {
  const size = (n: number) =>
    compileLbSettings({ lb_policy: 'MAGLEV', maglev_lb_config: { table_size: { value: n } } });
  assert.deepEqual(size(5_000_011), { policy: 'MAGLEV', tableSize: 5_000_011 });
  assert.deepEqual(size(2), { policy: 'MAGLEV', tableSize: 2 });
  assert.deepEqual(size(3), { policy: 'MAGLEV', tableSize: 3 });
  assert.deepEqual(size(49_999), { policy: 'MAGLEV', tableSize: 49_999 });
  for (const n of [0, 1, 4, 9, 25, 65_536, 5_000_012, 5_000_077]) {
    assert.throws(() => size(n), isTrellisError, String(n));
  }
});

test('panic threshold 0..100 and an overprovisioning factor above 0', () => {
  const panic = (n: number) =>
    priorityOptionsFrom({ common_lb_config: { healthy_panic_threshold: { value: n } } }, undefined);
  assert.equal(panic(100).panicThresholdPercent, 100);
  assert.equal(panic(0).panicThresholdPercent, 0);
  assert.throws(() => panic(-1), isTrellisError);
  const factor = (n: number) =>
    priorityOptionsFrom({}, { policy: { overprovisioning_factor: { value: n } } });
  assert.equal(factor(1).overprovisioningFactor, 1);
  assert.throws(() => factor(0), isTrellisError);
  assert.equal(priorityOptionsFrom({}, { policy: null }).overprovisioningFactor, 140);
  assert.equal(
    priorityOptionsFrom({ common_lb_config: { locality_weighted_lb_config: null } }, undefined)
      .localityWeighted,
    false,
  );
});

test('a cluster keeps its balancer between picks, so round robin visits every host in turn', () => {
  const level: LocalityHosts<PriorityHost> = {
    locality: 'z',
    weight: 1,
    hosts: ['a', 'b', 'c'].map((n) => ({ address: `${n}:80`, weight: 1, health: 'healthy' as const })),
  };
  const lb = new ClusterLoadBalancer({ policy: 'ROUND_ROBIN' }, [[level]], {}, seededRandom(7));
  const counts = new Map<string, number>();
  for (let i = 0; i < 30; i++) {
    const h = lb.pick()!;
    counts.set(h.address, (counts.get(h.address) ?? 0) + 1);
  }
  assert.deepEqual([...counts.values()], [10, 10, 10]);
});
