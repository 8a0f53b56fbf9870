/**
 * A patch that would make a proxy wait for an EDS assignment or RDS route configuration Trellis
 * never generates is not served: the server's consistency check would otherwise hold the proxy
 * on its last consistent push for every later change (a config freeze from one EnvoyFilter).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TYPE } from '../../../protocol/protos.js';
import { unresolvedReferences } from '../../server/consistency.js';
import { generate } from '../index.js';
import { proxy } from '../testkit.js';
import { B, gen, HCM, pushWith } from './apply-fixture.js';
import { envoyFilter } from './testing.js';

test("an added EDS cluster is left out; the filter's other patches still apply", () => {
  const cds = gen(
    [
      {
        applyTo: 'CLUSTER',
        patch: {
          operation: 'ADD',
          value: { name: 'my-eds', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } } },
        },
      },
      {
        applyTo: 'CLUSTER',
        patch: { operation: 'ADD', value: { name: 'static-extra', type: 'STATIC', connect_timeout: '1s' } },
      },
      {
        applyTo: 'CLUSTER',
        match: { context: 'SIDECAR_OUTBOUND', cluster: { service: B, portNumber: 80 } },
        patch: {
          operation: 'MERGE',
          value: { connect_timeout: '7s', eds_cluster_config: { service_name: 'nowhere' } },
        },
      },
    ],
    TYPE.cluster,
  );
  assert.equal(cds.has('my-eds'), false);
  assert.equal(cds.get('static-extra')?.type, 'STATIC');
  // The merge would point b's cluster at an assignment that never comes: served as generated.
  assert.notDeepEqual(cds.get(`outbound|80||${B}`)?.connect_timeout, { seconds: 7 });
});

test('a listener patched to take a route configuration nobody generates is served as generated', () => {
  const patches = [
    {
      applyTo: 'NETWORK_FILTER' as const,
      match: {
        context: 'SIDECAR_OUTBOUND' as const,
        listener: { portNumber: 80, filterChain: { filter: { name: HCM } } },
      },
      patch: {
        operation: 'MERGE' as const,
        value: {
          name: HCM,
          typed_config: {
            '@type':
              'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
            rds: { route_config_name: 'never-generated' },
          },
        },
      },
    },
  ];
  const lds = gen(patches, TYPE.listener);
  const push = pushWith([envoyFilter('default', 'ef', { configPatches: patches })]);
  const p = proxy();
  const all = {
    listeners: generate(push, p, TYPE.listener),
    clusters: generate(push, p, TYPE.cluster),
    routes: generate(push, p, TYPE.route),
    endpoints: generate(push, p, TYPE.endpoint),
  };
  assert.ok(lds.has('0.0.0.0_80'));
  assert.deepEqual(unresolvedReferences(all), { routes: [], endpoints: [] });
});
