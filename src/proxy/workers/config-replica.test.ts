import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TYPE, packAny } from '../../protocol/protos.js';
import { mergeClusterStatsText, mergeClustersText } from '../admin/merge-text.js';
import type { ProxyConfigSnapshot } from '../model/config.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  routeTo,
  virtualHost,
} from '../testing/resources.js';
import { XdsResourceCache } from '../xds-client/resource-cache.js';
import { ConfigReplica, changedTypes, toWire } from './config-replica.js';
import type { WireType } from './ipc.js';

function response(type: string, version: string, resources: object[]) {
  return {
    type_url: type,
    version_info: version,
    nonce: version,
    resources: resources.map((r) => packAny(type, r)),
  };
}

/** What the data path reads, without the per-process parts (timestamps, compiled objects). */
function shape(s: ProxyConfigSnapshot) {
  const names = (m: ReadonlyMap<string, unknown>) => [...m.keys()].sort();
  return {
    clusters: names(s.clusters),
    endpoints: names(s.endpoints),
    listeners: names(s.listeners),
    routes: names(s.routes),
    versions: s.versions,
    received: [...s.received].sort(),
    bytes: Object.fromEntries(
      Object.entries(s.raw).map(([t, m]) => [
        t,
        [...m.values()].map((r) => Buffer.from(r.resource.value).toString('base64')).sort(),
      ]),
    ),
  };
}

/** The primary's cache after a first full config. */
function primaryCache(): XdsResourceCache {
  const cache = new XdsResourceCache(() => 1000);
  cache.handleResponse(response(TYPE.cluster, '1', [edsCluster('a'), edsCluster('b')]));
  cache.setSubscription('EDS', cache.wantedEndpointNames());
  cache.handleResponse(
    response(TYPE.endpoint, '1', [endpoints('a', [{ port: 1 }]), endpoints('b', [{ port: 2 }])]),
  );
  cache.handleResponse(response(TYPE.listener, '1', [httpListener(9080)]));
  cache.setSubscription('RDS', cache.wantedRouteNames());
  cache.handleResponse(
    response(TYPE.route, '1', [routeConfig('9080', [virtualHost('a', ['*'], [routeTo('a')])])]),
  );
  return cache;
}

/** IPC is JSON. */
const overIpc = (w: WireType[]) => JSON.parse(JSON.stringify(w)) as WireType[];

test('a worker rebuilds the primary snapshot from the raw resources, converted by the same code', () => {
  const primary = primaryCache();
  const s = primary.snapshot();
  assert.deepEqual(changedTypes(undefined, s), ['CDS', 'EDS', 'LDS', 'RDS']);
  const replica = new ConfigReplica(() => 5);
  assert.deepEqual(replica.apply(overIpc(toWire(s, s.received))), []);
  assert.deepEqual(shape(replica.snapshot()), shape(s));
  const route = replica.snapshot().routes.get('9080');
  assert.equal(route?.virtualHosts[0]?.routes.length, 1, 'converted, not just copied');
});

test('only the types that changed are sent; each replaces its whole set', () => {
  const primary = primaryCache();
  const first = primary.snapshot();
  const replica = new ConfigReplica();
  replica.apply(toWire(first, first.received));

  primary.handleResponse(
    response(TYPE.route, '2', [routeConfig('9080', [virtualHost('b', ['*'], [routeTo('b')])])]),
  );
  const second = primary.snapshot();
  assert.deepEqual(changedTypes(first, second), ['RDS']);
  assert.deepEqual(changedTypes(second, second), []);
  replica.apply(overIpc(toWire(second, changedTypes(first, second))));
  assert.deepEqual(shape(replica.snapshot()), shape(second));

  // Cluster b goes away: CDS changes, and EDS drops b's endpoints without a new EDS version.
  primary.handleResponse(response(TYPE.cluster, '2', [edsCluster('a')]));
  primary.setSubscription('EDS', primary.wantedEndpointNames());
  const third = primary.snapshot();
  assert.deepEqual(changedTypes(second, third), ['CDS', 'EDS']);
  replica.apply(overIpc(toWire(third, changedTypes(second, third))));
  assert.deepEqual(shape(replica.snapshot()), shape(third));
  assert.deepEqual([...replica.snapshot().endpoints.keys()], ['a']);
});

test('/clusters and /stats of several workers merge into one view', () => {
  const c = 'outbound|9080||a';
  const w1 = [
    `${c}::default_priority::max_connections::1024`,
    `${c}::127.0.0.1:1::rq_active::2`,
    `${c}::127.0.0.1:1::health_flags::healthy`,
    `${c}::127.0.0.1:1::weight::1`,
    '',
  ].join('\n');
  const w2 = [
    `${c}::default_priority::max_connections::1024`,
    `${c}::127.0.0.1:1::rq_active::3`,
    `${c}::127.0.0.1:1::health_flags::/failed_outlier_check`,
    `${c}::127.0.0.1:1::weight::1`,
    `${c}::127.0.0.1:2::rq_active::1`,
    '',
  ].join('\n');
  assert.equal(
    mergeClustersText([w1, w2]),
    [
      `${c}::default_priority::max_connections::1024`,
      `${c}::127.0.0.1:1::rq_active::5`,
      `${c}::127.0.0.1:1::health_flags::/failed_outlier_check`,
      `${c}::127.0.0.1:1::weight::1`,
      `${c}::127.0.0.1:2::rq_active::1`,
      '',
    ].join('\n'),
  );
  const s1 = `cluster.${c}.upstream_rq_total: 4\ncluster.${c}.membership_healthy: 2\n`;
  const s2 = `cluster.${c}.upstream_rq_total: 6\ncluster.${c}.membership_healthy: 1\n`;
  assert.equal(
    mergeClusterStatsText([s1, s2]),
    `cluster.${c}.upstream_rq_total: 10\ncluster.${c}.membership_healthy: 1\n`,
  );
  assert.equal(mergeClustersText([]), '');
});
