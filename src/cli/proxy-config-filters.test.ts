import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkFilter, filterClusters, filterListeners, filterRouteConfigs } from './proxy-config-filters.js';

const clusters = [
  'outbound|9080||reviews.default.svc.cluster.local',
  'outbound|9080|v1|reviews.default.svc.cluster.local',
  'outbound|9080|v2|reviews.default.svc.cluster.local',
  'outbound|9091||reviews-admin.default.svc.cluster.local',
  'outbound|9080||reviews.staging.svc.cluster.local',
  'inbound|9080||',
  'BlackHoleCluster',
].map((name) => ({ name }));

const names = (xs: { name?: unknown }[]) => xs.map((x) => x.name);

test('filterClusters: fqdn by full name, short name or name.namespace; port, subset, direction', () => {
  const cases: [Parameters<typeof filterClusters>[1], string[]][] = [
    [{}, clusters.map((c) => c.name)],
    [{ fqdn: 'reviews' }, [clusters[0]!.name, clusters[1]!.name, clusters[2]!.name, clusters[4]!.name]],
    [{ fqdn: 'reviews.default' }, [clusters[0]!.name, clusters[1]!.name, clusters[2]!.name]],
    [{ fqdn: 'reviews.default.svc.cluster.local', subset: 'v2' }, [clusters[2]!.name]],
    [{ fqdn: 'review' }, []], // a prefix of a label is not a name
    [{ port: '9091' }, [clusters[3]!.name]],
    [{ direction: 'inbound' }, ['inbound|9080||']],
    [{ direction: 'outbound', port: '9080', subset: 'v1' }, [clusters[1]!.name]],
    [{ fqdn: 'BlackHoleCluster' }, ['BlackHoleCluster']],
    [
      { subset: '' },
      [clusters[0]!.name, clusters[3]!.name, clusters[4]!.name, 'inbound|9080||', 'BlackHoleCluster'],
    ],
  ];
  for (const [f, want] of cases)
    assert.deepEqual(names(filterClusters(clusters, f)), want, JSON.stringify(f));
});

test('filterListeners: name, address, port', () => {
  const ls = [
    { name: '0.0.0.0_9080', address: { socketAddress: { address: '0.0.0.0', portValue: 9080 } } },
    { name: 'virtualInbound', address: { socketAddress: { address: '127.0.0.1', portValue: 9080 } } },
    { name: '0.0.0.0_8080', address: { socketAddress: { address: '0.0.0.0', portValue: 8080 } } },
  ];
  assert.deepEqual(names(filterListeners(ls, { port: '9080' })), ['0.0.0.0_9080', 'virtualInbound']);
  assert.deepEqual(names(filterListeners(ls, { port: '9080', address: '0.0.0.0' })), ['0.0.0.0_9080']);
  assert.deepEqual(names(filterListeners(ls, { name: '0.0.0.0_8080' })), ['0.0.0.0_8080']);
  assert.deepEqual(names(filterListeners(ls, { port: '15001' })), []);
});

test("filterRouteConfigs: by name, and by port in Istio's route config names or vhost domains", () => {
  const rcs = [
    { name: '9080', virtualHosts: [{ domains: ['reviews', 'reviews:9080'] }] },
    { name: 'inbound|9080||', virtualHosts: [{ domains: ['*'] }] },
    { name: 'http.8080', virtualHosts: [{ domains: ['bookinfo.example.com'] }] },
    { name: '0.0.0.0_9091', virtualHosts: [] },
    { name: 'custom', virtualHosts: [{ domains: ['api:7000'] }] },
  ];
  assert.deepEqual(names(filterRouteConfigs(rcs, { port: '9080' })), ['9080', 'inbound|9080||']);
  assert.deepEqual(names(filterRouteConfigs(rcs, { port: '8080' })), ['http.8080']);
  assert.deepEqual(names(filterRouteConfigs(rcs, { port: '9091' })), ['0.0.0.0_9091']);
  assert.deepEqual(names(filterRouteConfigs(rcs, { port: '7000' })), ['custom']);
  assert.deepEqual(names(filterRouteConfigs(rcs, { name: 'inbound|9080||' })), ['inbound|9080||']);
  assert.deepEqual(names(filterRouteConfigs(rcs, { name: '9080', port: '8080' })), []);
  assert.deepEqual(names(filterRouteConfigs(rcs, { port: '908' })), []);
});

test('checkFilter: a flag for another type, a bad port or direction say what to do', () => {
  assert.doesNotThrow(() =>
    checkFilter('clusters', { fqdn: 'reviews', port: '9080', subset: 'v1', direction: 'outbound' }),
  );
  assert.doesNotThrow(() => checkFilter('routes', { name: '9080', port: '9080' }));
  assert.throws(
    () => checkFilter('routes', { subset: 'v1' }),
    /^TrellisError: --subset filters clusters, not routes; routes take --name, --port$/,
  );
  assert.throws(
    () => checkFilter('endpoints', { port: '9080' }),
    /^TrellisError: --port filters clusters and listeners and routes, not endpoints$/,
  );
  assert.throws(
    () => checkFilter('clusters', { name: 'x' }),
    /--name filters listeners and routes, not clusters; clusters take --fqdn, --port, --subset, --direction/,
  );
  assert.throws(() => checkFilter('clusters', { port: 'http' }), /--port "http": expected a port number/);
  assert.throws(
    () => checkFilter('clusters', { direction: 'in' }),
    /--direction "in": expected inbound or outbound/,
  );
});
