import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TYPE, packAny } from '../../protocol/protos.js';
import { edsNameOf, routeNamesOf, unresolvedReferences } from './consistency.js';

const hcm = (route: string) => ({
  name: 'envoy.filters.network.http_connection_manager',
  typed_config: packAny(TYPE.hcm, {
    stat_prefix: 'x',
    rds: { config_source: { ads: {} }, route_config_name: route },
  }),
});
const tcp = {
  name: 'envoy.filters.network.tcp_proxy',
  typed_config: packAny(TYPE.tcpProxy, { stat_prefix: 'x', cluster: 'c' }),
};

test('route names a listener takes over RDS: filter chains, default chain, proxyless api_listener', () => {
  const table: [string, object, string[]][] = [
    ['sidecar port', { name: '0.0.0.0_80', filter_chains: [{ filters: [hcm('80')] }] }, ['80']],
    ['tcp only', { name: 'tcp', filter_chains: [{ filters: [tcp] }] }, []],
    [
      'several chains, one name once',
      {
        name: 'gw',
        filter_chains: [
          { filters: [hcm('https.443.a')] },
          { filters: [hcm('https.443.a')] },
          { filters: [tcp] },
        ],
        default_filter_chain: { filters: [hcm('http.8080')] },
      },
      ['https.443.a', 'http.8080'],
    ],
    [
      'proxyless gRPC',
      { name: 'a.default:80', api_listener: { api_listener: hcm('outbound|80||a').typed_config } },
      ['outbound|80||a'],
    ],
    [
      'unpacked HCM',
      { name: 'u', filter_chains: [{ filters: [{ typed_config: { rds: { route_config_name: 'r' } } }] }] },
      ['r'],
    ],
  ];
  for (const [what, listener, want] of table) assert.deepEqual(routeNamesOf(listener), want, what);
});

test('EDS names of clusters: service_name, else the cluster name; none for other discovery types', () => {
  const table: [object, string | undefined][] = [
    [
      { name: 'outbound|80||a', type: 'EDS', eds_cluster_config: { service_name: 'outbound|80||a' } },
      'outbound|80||a',
    ],
    [{ name: 'c', eds_cluster_config: { eds_config: { ads: {} }, service_name: 'other' } }, 'other'],
    [{ name: 'c', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } } }, 'c'],
    [{ name: 'dns', type: 'STRICT_DNS', load_assignment: { cluster_name: 'dns' } }, undefined],
    [{ name: 'PassthroughCluster', type: 'ORIGINAL_DST' }, undefined],
  ];
  for (const [cluster, want] of table) assert.equal(edsNameOf(cluster), want, JSON.stringify(cluster));
});

test('unresolved references: route configs and endpoint assignments the view lacks, each named once', () => {
  const listeners = new Map<string, object>([
    ['0.0.0.0_80', { filter_chains: [{ filters: [hcm('80')] }] }],
    ['0.0.0.0_81', { filter_chains: [{ filters: [hcm('81')] }] }],
    ['0.0.0.0_82', { filter_chains: [{ filters: [hcm('81')] }] }],
  ]);
  const clusters = new Map<string, object>([
    ['a', { name: 'a', type: 'EDS', eds_cluster_config: {} }],
    ['b', { name: 'b', type: 'EDS', eds_cluster_config: {} }],
    ['dns', { name: 'dns', type: 'STRICT_DNS' }],
  ]);
  assert.deepEqual(
    unresolvedReferences({
      listeners,
      routes: new Map([['80', {}]]),
      clusters,
      endpoints: new Map([['a', {}]]),
    }),
    { routes: ['81'], endpoints: ['b'] },
  );
  assert.deepEqual(
    unresolvedReferences({
      listeners,
      routes: new Map([
        ['80', {}],
        ['81', {}],
      ]),
      clusters,
      endpoints: new Map([
        ['a', {}],
        ['b', {}],
      ]),
    }),
    { routes: [], endpoints: [] },
  );
  assert.deepEqual(
    unresolvedReferences({}),
    { routes: [], endpoints: [] },
    'nothing subscribed, nothing to check',
  );
});
