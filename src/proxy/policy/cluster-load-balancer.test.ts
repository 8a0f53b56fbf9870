import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTrellisError } from '../../core/errors.js';
import { seededRandom } from '../../core/random.js';
import { ClusterLoadBalancer, priorityOptionsFrom } from './cluster-load-balancer.js';
import type { HostHealth, LocalityHosts, PriorityHost } from './locality.js';
import { xxHash64 } from './xxhash64.js';

function hosts(prefix: string, healths: HostHealth[]): LocalityHosts<PriorityHost> {
  return {
    locality: prefix,
    weight: 1,
    hosts: healths.map((health, i) => ({ address: `${prefix}-${i}:80`, weight: 1, health })),
  };
}

test('options come from common_lb_config and the assignment policy', () => {
  assert.deepEqual(priorityOptionsFrom({}, undefined), {
    panicThresholdPercent: 50,
    overprovisioningFactor: 140,
    localityWeighted: false,
  });
  assert.deepEqual(
    priorityOptionsFrom(
      { common_lb_config: { healthy_panic_threshold: { value: 0 }, locality_weighted_lb_config: {} } },
      { policy: { overprovisioning_factor: { value: 100 } } },
    ),
    { panicThresholdPercent: 0, overprovisioningFactor: 100, localityWeighted: true },
  );
  assert.throws(
    () =>
      priorityOptionsFrom({ common_lb_config: { healthy_panic_threshold: { value: 120 } } }, undefined, 'c'),
    (e: unknown) => isTrellisError(e) && e.path === 'c.common_lb_config.healthy_panic_threshold',
  );
});

test('picks only healthy hosts of the preferred priority, failing over when it is down', () => {
  const p0 = hosts('p0', ['healthy', 'unhealthy', 'healthy', 'healthy']);
  const p1 = hosts('p1', ['healthy', 'healthy']);
  const lb = new ClusterLoadBalancer({ policy: 'ROUND_ROBIN' }, [[p0], [p1]], {}, seededRandom(3));
  for (let i = 0; i < 200; i++) {
    const h = lb.pick()!;
    assert.ok(h.health === 'healthy' && h.address.startsWith('p0'), h.address);
  }
  const down = new ClusterLoadBalancer(
    { policy: 'LEAST_REQUEST', choiceCount: 2, activeRequestBias: 1 },
    [[hosts('p0', ['unhealthy', 'unhealthy'])], [p1]],
    {},
    seededRandom(3),
  );
  for (let i = 0; i < 50; i++) assert.ok(down.pick()!.address.startsWith('p1'));
});

test('ring hash through the cluster balancer keeps keys sticky; no hosts gives undefined', () => {
  const lb = new ClusterLoadBalancer(
    { policy: 'RING_HASH', minimumRingSize: 256, maximumRingSize: 4096 },
    [[hosts('a', ['healthy', 'healthy', 'healthy'])]],
    {},
    seededRandom(1),
  );
  for (let i = 0; i < 20; i++) {
    const hash = xxHash64(`user-${i}`);
    assert.equal(lb.pick({ hash }), lb.pick({ hash }));
  }
  assert.equal(new ClusterLoadBalancer({ policy: 'RANDOM' }, [], {}, seededRandom(1)).pick(), undefined);
  const noPanic = new ClusterLoadBalancer(
    { policy: 'RANDOM' },
    [[hosts('a', ['unhealthy'])]],
    { panicThresholdPercent: 0 },
    seededRandom(1),
  );
  assert.equal(noPanic.pick(), undefined);
});
