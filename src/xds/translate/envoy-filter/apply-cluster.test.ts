/**
 * EnvoyFilter CLUSTER operations on generated CDS (cluster_patch.go), skipped patches, and the
 * generator keys that tell which proxies and types a filter change affects.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EnvoyConfigObjectPatch } from '../../../api/networking/envoy-filter.js';
import { TYPE } from '../../../protocol/protos.js';
import type { ProxyNode } from '../../proxy-node.js';
import { affectedTypes, generate } from '../index.js';
import { proxy } from '../testkit.js';
import { A, B, GATEWAY, gen, pushWith } from './apply-fixture.js';
import { envoyFilter, LOCAL_LIMIT_ROUTE_VALUE } from './testing.js';

test('CLUSTER operations', () => {
  const cds = (patches: EnvoyConfigObjectPatch[], p = proxy()) => gen(patches, TYPE.cluster, p);
  const merged = cds([
    {
      applyTo: 'CLUSTER',
      match: { context: 'SIDECAR_OUTBOUND', cluster: { service: B, portNumber: 80 } },
      patch: { operation: 'MERGE', value: { connect_timeout: '7s' } },
    },
  ]);
  assert.deepEqual(merged.get(`outbound|80||${B}`).connect_timeout, { seconds: 7 });
  assert.notDeepEqual(merged.get(`outbound|5432||${B}`).connect_timeout, { seconds: 7 });
  assert.notDeepEqual(merged.get(`outbound|80||${A}`).connect_timeout, { seconds: 7 });
  // An inbound-context patch leaves outbound clusters alone, and changes inbound ones.
  const inbound = cds([
    {
      applyTo: 'CLUSTER',
      match: { context: 'SIDECAR_INBOUND' },
      patch: { operation: 'MERGE', value: { connect_timeout: '7s' } },
    },
  ]);
  assert.deepEqual(inbound.get('inbound|80||').connect_timeout, { seconds: 7 });
  assert.notDeepEqual(inbound.get(`outbound|80||${B}`).connect_timeout, { seconds: 7 });
  const removed = cds([
    { applyTo: 'CLUSTER', match: { cluster: { name: 'BlackHoleCluster' } }, patch: { operation: 'REMOVE' } },
  ]);
  assert.equal(removed.has('BlackHoleCluster'), false);
  assert.equal(removed.has('PassthroughCluster'), true);
  const added = cds([
    {
      applyTo: 'CLUSTER',
      patch: { operation: 'ADD', value: { name: 'extra', type: 'STATIC', connect_timeout: '1s' } },
    },
  ]);
  assert.equal(added.get('extra').type, 'STATIC');
  // An ADD for the inbound context of a sidecar, not at a gateway.
  const gw = cds(
    [
      {
        applyTo: 'CLUSTER',
        match: { context: 'SIDECAR_INBOUND' },
        patch: { operation: 'ADD', value: { name: 'extra' } },
      },
    ],
    GATEWAY,
  );
  assert.equal(gw.has('extra'), false);
});

test('WAYPOINT patches (Istio ambient) apply to no Trellis proxy', () => {
  for (const p of [proxy(), GATEWAY]) {
    const cds = gen(
      [{ applyTo: 'CLUSTER', match: { context: 'WAYPOINT', waypoint: {} }, patch: { operation: 'REMOVE' } }],
      TYPE.cluster,
      p,
    );
    assert.ok(cds.size > 0);
    assert.equal(cds.has('BlackHoleCluster') || p.type === 'router', true);
    const all = gen([], TYPE.cluster, p);
    assert.deepEqual([...cds.keys()], [...all.keys()]);
  }
});

test('a patch that does not decode is skipped; the others in the same filter still apply', () => {
  const lds = gen(
    [
      {
        applyTo: 'LISTENER',
        match: { listener: { name: '10.1.0.2_5432' } },
        patch: { operation: 'MERGE', value: { per_connection_buffer_limit: 1 } },
      },
      { applyTo: 'LISTENER', match: { listener: { name: '10.1.0.2_5432' } }, patch: { operation: 'REMOVE' } },
    ],
    TYPE.listener,
  );
  assert.equal(lds.has('10.1.0.2_5432'), false);
});

test('generator keys name the EnvoyFilters that apply: a filter change moves only the types it patches, for the proxies it selects', () => {
  const ll = (labels: Record<string, string>) =>
    envoyFilter('default', 'll', {
      workloadSelector: { labels },
      configPatches: [
        {
          applyTo: 'HTTP_ROUTE',
          match: { context: 'SIDECAR_INBOUND' },
          patch: { operation: 'MERGE', value: LOCAL_LIMIT_ROUTE_VALUE },
        },
      ],
    });
  const before = pushWith([], 1);
  const after = pushWith([ll({ app: 'app' })], 2, before);
  const moved = (p: ProxyNode) => [...affectedTypes(before, after, p)].sort();
  assert.deepEqual(moved(proxy()), [TYPE.listener]);
  assert.deepEqual(moved(proxy({ labels: { app: 'other' } })), []);
  assert.deepEqual(moved(GATEWAY), []);
  // Proxies no filter selects get the very objects generated without filters.
  assert.equal(
    generate(after, proxy({ labels: { app: 'other' } }), TYPE.listener).get('inbound|80||'),
    generate(before, proxy({ labels: { app: 'other' } }), TYPE.listener).get('inbound|80||'),
  );
});
