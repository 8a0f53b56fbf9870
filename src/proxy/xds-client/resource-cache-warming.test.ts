/**
 * Make before break on the proxy (Envoy's cluster warming): a route that names a new cluster is
 * not in service until that cluster's endpoints arrived, or the warming timeout passed; an
 * update of a cluster already in service does not warm again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TYPE, packAny } from '../../protocol/protos.js';
import type { ForwardAction, ProxyConfigSnapshot } from '../model/config.js';
import { edsCluster, endpoints, routeConfig, tcpListener, virtualHost } from '../testing/resources.js';
import { WARMING_TIMEOUT_MS, XdsResourceCache } from './resource-cache.js';

const V1 = 'outbound|9080|v1|reviews.default.svc.cluster.local';
const V2 = 'outbound|9080|v2|reviews.default.svc.cluster.local';

function response(type: string, version: string, resources: object[]) {
  return {
    type_url: type,
    version_info: version,
    nonce: version,
    resources: resources.map((r) => packAny(type, r)),
  };
}

function weighted(targets: [string, number][]): object {
  return routeConfig('9080', [
    virtualHost(
      'reviews',
      ['reviews:9080'],
      [
        {
          match: { prefix: '/' },
          route: {
            weighted_clusters: {
              clusters: targets.map(([name, weight]) => ({ name, weight: { value: weight } })),
            },
          },
        },
      ],
    ),
  ]);
}

/** The clusters the route in service sends to. */
function inService(s: ProxyConfigSnapshot): string[] {
  const action = s.routes.get('9080')?.virtualHosts[0]?.routes[0]?.action as ForwardAction | undefined;
  return (action?.targets ?? []).map((t) => t.cluster);
}

function started(now: { t: number }) {
  const cache = new XdsResourceCache(() => now.t);
  cache.handleResponse(response(TYPE.cluster, '1', [edsCluster(V1)]));
  cache.setSubscription('EDS', cache.wantedEndpointNames());
  cache.handleResponse(response(TYPE.endpoint, '1', [endpoints(V1, [{ port: 1 }])]));
  cache.setSubscription('RDS', ['9080']);
  cache.handleResponse(response(TYPE.route, '1', [weighted([[V1, 100]])]));
  assert.deepEqual(inService(cache.snapshot()), [V1]);
  return cache;
}

test('a route to a warming cluster is accepted but not in service until its endpoints arrive', () => {
  const now = { t: 1000 };
  const cache = started(now);
  // CDS adds v2, RDS splits traffic to it, all before v2's endpoints (the SotW gap).
  assert.equal(
    cache.handleResponse(response(TYPE.cluster, '2', [edsCluster(V1), edsCluster(V2)])).kind,
    'ack',
  );
  assert.deepEqual([...cache.warmingClusters()], [V2]);
  cache.setSubscription('EDS', cache.wantedEndpointNames());
  const rds = cache.handleResponse(
    response(TYPE.route, '2', [
      weighted([
        [V1, 50],
        [V2, 50],
      ]),
    ]),
  );
  assert.equal(rds.kind, 'ack', 'the update is ACKed');
  assert.deepEqual(inService(cache.snapshot()), [V1], 'the old route stays in service while v2 warms');
  assert.equal(cache.snapshot().versions.RDS, '2');

  cache.handleResponse(
    response(TYPE.endpoint, '2', [endpoints(V1, [{ port: 1 }]), endpoints(V2, [{ port: 2 }])]),
  );
  assert.deepEqual([...cache.warmingClusters()], []);
  assert.deepEqual(inService(cache.snapshot()), [V1, V2], 'v2 is warm: the split is in service');

  // A later update of v2 (already warm) does not hold routes back.
  cache.handleResponse(
    response(TYPE.cluster, '3', [edsCluster(V1), edsCluster(V2, { connect_timeout: { seconds: 2 } })]),
  );
  cache.handleResponse(response(TYPE.route, '3', [weighted([[V2, 100]])]));
  assert.deepEqual(inService(cache.snapshot()), [V2]);
});

test('a cluster whose endpoints never come stops holding routes back after the warming timeout', () => {
  const now = { t: 1000 };
  const cache = started(now);
  cache.handleResponse(response(TYPE.cluster, '2', [edsCluster(V1), edsCluster(V2)]));
  cache.setSubscription('EDS', cache.wantedEndpointNames());
  cache.handleResponse(
    response(TYPE.route, '2', [
      weighted([
        [V1, 50],
        [V2, 50],
      ]),
    ]),
  );
  assert.deepEqual(inService(cache.snapshot()), [V1]);
  assert.equal(cache.warmingDeadline(), 1000 + WARMING_TIMEOUT_MS);

  now.t += WARMING_TIMEOUT_MS - 1;
  assert.equal(cache.refresh(), false);
  assert.deepEqual(inService(cache.snapshot()), [V1]);
  now.t += 1;
  assert.equal(cache.refresh(), true);
  assert.deepEqual(inService(cache.snapshot()), [V1, V2]);
  assert.equal(cache.warmingDeadline(), undefined);
});

test('a TCP listener update to a warming cluster keeps the listener in service until it is warm', () => {
  const now = { t: 1000 };
  const cache = new XdsResourceCache(() => now.t);
  const target = (s: ProxyConfigSnapshot) => {
    const f = s.listeners.get('0.0.0.0_3306')?.filterChains[0]?.filter;
    return f?.kind === 'tcp' ? f.targets.map((t) => t.cluster) : [];
  };
  cache.handleResponse(response(TYPE.cluster, '1', [edsCluster(V1)]));
  cache.setSubscription('EDS', cache.wantedEndpointNames());
  cache.handleResponse(response(TYPE.endpoint, '1', [endpoints(V1, [{ port: 1 }])]));
  cache.handleResponse(response(TYPE.listener, '1', [tcpListener(3306, V1)]));
  assert.deepEqual(target(cache.snapshot()), [V1]);

  cache.handleResponse(response(TYPE.cluster, '2', [edsCluster(V1), edsCluster(V2)]));
  cache.setSubscription('EDS', cache.wantedEndpointNames());
  assert.equal(cache.handleResponse(response(TYPE.listener, '2', [tcpListener(3306, V2)])).kind, 'ack');
  assert.deepEqual(target(cache.snapshot()), [V1], 'the listener in service stays while v2 warms');

  cache.handleResponse(
    response(TYPE.endpoint, '2', [endpoints(V1, [{ port: 1 }]), endpoints(V2, [{ port: 2 }])]),
  );
  assert.deepEqual(target(cache.snapshot()), [V2], 'v2 is warm: the new listener is in service');
});
