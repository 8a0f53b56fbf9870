/**
 * Table tests over config dumps produced by a real push (testdata/make-config-dumps.ts:
 * productpage's sidecar connected to a control plane serving testdata/bookinfo-mesh.yaml).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAndValidate } from '../api/parse.js';
import type { Resource } from '../api/resource.js';
import { nodeInfo, readConfigDump } from './config-dump.js';
import { render } from './commands/proxy-config.js';
import { parseClusterName, type MeshConfig } from './proxy-config-tables.js';

const DATA = path.join(import.meta.dirname, 'testdata');
const read = (f: string) => readFileSync(path.join(DATA, f), 'utf8');
const cpDump = readConfigDump(JSON.parse(read('cp-config-dump.json')) as unknown);
const proxyDump = readConfigDump(JSON.parse(read('proxy-config-dump.json')) as unknown);
const resources = parseAndValidate(read('bookinfo-mesh.yaml'), 'bookinfo-mesh.yaml').map(
  (d) => d.resource as Resource,
);
const mesh: MeshConfig = {
  destinationRules: resources.filter((r) => r.kind === 'DestinationRule'),
  virtualServices: resources.filter((r) => r.kind === 'VirtualService'),
  proxy: nodeInfo(cpDump.nodeId),
};
const lines = (text: string) =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => l.split(/ {3,}/));

test('both dump shapes read to the same resources', () => {
  assert.equal(cpDump.nodeId, 'sidecar~127.0.0.1~productpage-v1.default~default.svc.cluster.local');
  assert.equal(proxyDump.nodeId, cpDump.nodeId);
  assert.deepEqual(nodeInfo(cpDump.nodeId), { type: 'sidecar', namespace: 'default' });
  const names = (rs: Record<string, unknown>[], key = 'name') => rs.map((r) => r[key]).sort();
  assert.deepEqual(names(proxyDump.clusters), names(cpDump.clusters));
  assert.deepEqual(names(proxyDump.listeners), names(cpDump.listeners));
  assert.deepEqual(names(proxyDump.routes), names(cpDump.routes));
  assert.deepEqual(names(proxyDump.endpoints, 'clusterName'), names(cpDump.endpoints, 'clusterName'));
  assert.equal(cpDump.clusters.length, 7);
});

test('cluster names split into FQDN, port, subset and direction', () => {
  assert.deepEqual(parseClusterName('outbound|9080|v1|reviews.default.svc.cluster.local'), {
    direction: 'outbound',
    port: '9080',
    subset: 'v1',
    fqdn: 'reviews.default.svc.cluster.local',
  });
  assert.deepEqual(parseClusterName('inbound|9080||'), {
    direction: 'inbound',
    port: '9080',
    subset: '',
    fqdn: '',
  });
  assert.deepEqual(parseClusterName('BlackHoleCluster').fqdn, 'BlackHoleCluster');
});

test('clusters: one row per cluster, with the DestinationRule behind it when the config is known', () => {
  assert.deepEqual(lines(render('clusters', cpDump, mesh)), [
    ['SERVICE FQDN', 'PORT', 'SUBSET', 'DIRECTION', 'TYPE', 'DESTINATION RULE'],
    ['', '9080', '-', 'inbound', 'STATIC', '-'],
    ['productpage.default.svc.cluster.local', '9080', '-', 'outbound', 'EDS', '-'],
    ['ratings.default.svc.cluster.local', '9080', '-', 'outbound', 'EDS', 'ratings.default'],
    ['reviews.default.svc.cluster.local', '9080', '-', 'outbound', 'EDS', 'reviews.default'],
    ['reviews.default.svc.cluster.local', '9080', 'v1', 'outbound', 'EDS', 'reviews.default'],
    ['reviews.default.svc.cluster.local', '9080', 'v2', 'outbound', 'EDS', 'reviews.default'],
    ['reviews.default.svc.cluster.local', '9080', 'v3', 'outbound', 'EDS', 'reviews.default'],
  ]);
  // From the proxy alone the rule is unknown.
  assert.ok(
    lines(render('clusters', proxyDump))
      .slice(1)
      .every((row) => row.at(-1) === '-'),
  );
});

test('listeners: address, port, chain match and where the traffic goes', () => {
  const expected = [
    ['ADDRESSES', 'PORT', 'MATCH', 'DESTINATION'],
    ['0.0.0.0', '9080', 'ALL', 'Route: 9080'],
    ['127.0.0.1', '9080', 'ALL', 'Inline Route: inbound|9080||'],
  ];
  assert.deepEqual(lines(render('listeners', cpDump)), expected);
  assert.deepEqual(lines(render('listeners', proxyDump)), expected);
});

test('routes: RDS and inline route configs, per route, with the VirtualService for outbound hosts', () => {
  assert.deepEqual(lines(render('routes', cpDump, mesh)), [
    ['NAME', 'VHOST NAME', 'DOMAINS', 'MATCH', 'DESTINATION', 'POLICY', 'VIRTUAL SERVICE'],
    [
      '9080',
      'productpage.default.svc.cluster.local:9080',
      'productpage, productpage.default + 2 more...',
      '/*',
      'productpage:9080',
      'retries 2',
      '-',
    ],
    [
      '9080',
      'ratings.default.svc.cluster.local:9080',
      'ratings, ratings.default + 2 more...',
      '/*',
      'ratings:9080',
      'retries 2',
      '-',
    ],
    [
      '9080',
      'reviews.default.svc.cluster.local:9080',
      'reviews, reviews.default + 2 more...',
      '/* [end-user=jason]',
      'reviews:9080|v2',
      'retries 2',
      'reviews.default',
    ],
    [
      '9080',
      'reviews.default.svc.cluster.local:9080',
      'reviews, reviews.default + 2 more...',
      '/*',
      'v1 90%, v3 10%',
      'retries 2',
      'reviews.default',
    ],
    ['inbound|9080||', 'inbound|http|9080', '*', '/*', 'inbound|9080||', '-', '-'],
  ]);
});

test('endpoints: from the control plane assignments, and from the proxy with its health and outlier state', () => {
  const fromCp = lines(render('endpoints', cpDump));
  assert.deepEqual(fromCp[0], ['ENDPOINT', 'STATUS', 'OUTLIER CHECK', 'CLUSTER']);
  assert.deepEqual(
    fromCp.slice(1).filter((r) => r[3]?.includes('|v')),
    [
      ['127.0.0.11:9080', 'HEALTHY', '-', 'outbound|9080|v1|reviews.default.svc.cluster.local'],
      ['127.0.0.12:9080', 'HEALTHY', '-', 'outbound|9080|v2|reviews.default.svc.cluster.local'],
      ['127.0.0.13:9080', 'HEALTHY', '-', 'outbound|9080|v3|reviews.default.svc.cluster.local'],
    ],
  );
  assert.ok(
    fromCp.some((r) => r[0] === '127.0.0.1:9080' && r[3] === 'inbound|9080||'),
    'inline load assignments too',
  );
  const fromProxy = lines(render('endpoints', proxyDump, undefined, read('proxy-clusters.txt')));
  assert.equal(fromProxy.length, fromCp.length);
  assert.deepEqual(fromProxy[3], [
    '127.0.0.21:9080',
    'HEALTHY',
    'OK',
    'outbound|9080||ratings.default.svc.cluster.local',
  ]);
});
