import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveProxyName, shortName, type NamedProxy } from './proxy-names.js';

const PP = 'sidecar~127.0.0.1~productpage-v1.default~default.svc.cluster.local';
const R1 = 'sidecar~127.0.0.2~reviews-v1.default~default.svc.cluster.local';
const R1B = 'sidecar~127.0.0.3~reviews-v1.default~default.svc.cluster.local';
const R1S = 'sidecar~127.0.0.4~reviews-v1.staging~staging.svc.cluster.local';
const GW = 'router~127.0.0.1~istio-ingressgateway.istio-system~istio-system.svc.cluster.local';

const proxies: NamedProxy[] = [
  { proxy: PP, namespace: 'default', workloadName: 'productpage-v1' },
  { proxy: R1, namespace: 'default', workloadName: 'reviews-v1' },
  { proxy: R1B, namespace: 'default', workloadName: 'reviews-v1' },
  { proxy: R1S, namespace: 'staging', workloadName: 'reviews-v1' },
  { proxy: GW, namespace: 'istio-system' }, // an older control plane: no workloadName in syncz
  { proxy: 'my-envoy', namespace: 'default' }, // an id not in Istio's form
  { proxy: 'details', namespace: 'default', workloadName: 'details-v1' },
];

const cases: {
  name: string;
  query: string;
  list?: NamedProxy[];
  id?: string;
  reason?: string;
  listed?: string[];
}[] = [
  { name: 'the full id', query: PP, id: PP },
  { name: 'the workload name', query: 'productpage-v1', id: PP },
  { name: 'name.namespace', query: 'productpage-v1.default', id: PP },
  { name: 'name.namespace picks one namespace', query: 'reviews-v1.staging', id: R1S },
  { name: 'a unique id prefix', query: 'sidecar~127.0.0.1', id: PP },
  { name: 'a gateway by the name in its id', query: 'istio-ingressgateway', id: GW },
  { name: 'a gateway by name.namespace from its id', query: 'istio-ingressgateway.istio-system', id: GW },
  { name: 'an id that is not in Istio form, exactly', query: 'my-envoy', id: 'my-envoy' },
  { name: 'a full id that is also a prefix of another wins exactly', query: 'details', id: 'details' },
  { name: 'the workload name of that proxy', query: 'details-v1', id: 'details' },
  {
    name: 'a workload name in two namespaces is ambiguous',
    query: 'reviews-v1',
    reason: 'ambiguous',
    listed: [R1, R1B, R1S],
  },
  {
    name: 'two instances of one workload in one namespace are ambiguous',
    query: 'reviews-v1.default',
    reason: 'ambiguous',
    listed: [R1, R1B],
  },
  {
    name: 'a shared id prefix is ambiguous',
    query: 'sidecar~',
    reason: 'ambiguous',
    listed: [PP, R1, R1B, R1S],
  },
  { name: 'a name prefix is not a name', query: 'product', reason: 'unknown', listed: [PP, R1, GW] },
  { name: 'a namespace alone is not a name', query: 'default', reason: 'unknown' },
  { name: 'the wrong namespace', query: 'productpage-v1.staging', reason: 'unknown' },
  { name: 'a name in another case', query: 'ProductPage-v1', reason: 'unknown' },
  { name: 'the empty name', query: '', reason: 'unknown' },
  {
    name: 'an exact id wins over a longer id it is a prefix of',
    query: PP,
    list: [{ proxy: `${PP}-canary` }, { proxy: PP }],
    id: PP,
  },
  {
    name: "the id's NAME.NAMESPACE also names a proxy whose metadata says another workload name",
    query: 'productpage-v1.default',
    list: [{ proxy: PP, namespace: 'default', workloadName: 'productpage' }],
    id: PP,
  },
  { name: 'nothing connected', query: 'productpage-v1', list: [], reason: 'none-connected' },
];

for (const c of cases) {
  test(`resolveProxyName: ${c.name}`, () => {
    const r = resolveProxyName(c.query, c.list ?? proxies);
    if (c.id !== undefined) {
      assert.deepEqual(r, { ok: true, id: c.id });
      return;
    }
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.reason, c.reason);
    assert.ok(r.message.includes(JSON.stringify(c.query)), r.message);
    for (const id of c.listed ?? []) assert.ok(r.message.includes(id), `${id} listed in:\n${r.message}`);
    if (c.reason === 'ambiguous') {
      // Only the matching proxies are candidates.
      const listedLines = r.message.split('\n').slice(1);
      assert.equal(listedLines.length, c.listed?.length);
    }
  });
}

test('resolveProxyName: candidates are listed sorted, with short names, at most ten', () => {
  const many = Array.from({ length: 12 }, (_, i) => 11 - i).map((i) => ({
    proxy: `sidecar~10.0.0.${i}~app-${String(i).padStart(2, '0')}.default~default.svc.cluster.local`,
    namespace: 'default',
    workloadName: `app-${String(i).padStart(2, '0')}`,
  }));
  const r = resolveProxyName('nope', many);
  assert.equal(r.ok, false);
  if (r.ok) return;
  const lines = r.message.split('\n');
  assert.match(
    lines[0] ?? '',
    /^no connected proxy "nope"; name a proxy by its workload name, NAME\.NAMESPACE or a prefix of its id\. Connected:$/,
  );
  assert.match(lines[1] ?? '', /^ {2}app-00\.default\s+sidecar~10\.0\.0\.0~app-00/);
  assert.equal(lines.length, 12);
  assert.equal(lines[11], '  ... and 2 more');
  const ten = resolveProxyName('nope', many.slice(0, 10));
  assert.equal(ten.ok ? '' : ten.message.split('\n').length, 11, 'ten listed, no "and 0 more"');
  assert.match(ten.ok ? '' : ten.message, /~default\.svc\.cluster\.local$/);
});

test('shortName: metadata first, then the id, then the id itself', () => {
  assert.equal(
    shortName({ proxy: PP, namespace: 'default', workloadName: 'productpage-v1' }),
    'productpage-v1.default',
  );
  assert.equal(shortName({ proxy: GW }), 'istio-ingressgateway.istio-system');
  assert.equal(shortName({ proxy: 'my-envoy' }), 'my-envoy.default');
  assert.equal(shortName({ proxy: 'a~b~c.x' }), 'a~b~c.x.default'); // three parts: not Istio's form
  assert.equal(
    shortName({ proxy: 'grpc~1.2.3.4~client~x', workloadName: '', namespace: '' }),
    'client.default',
  );
});
