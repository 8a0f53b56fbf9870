/** Proto merge as Istio merges patch values (pkg/proto/merge): a table over real Envoy messages. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonical, mergeAny, mergeMessage, nameOf, pack, unpack } from './proto-merge.js';

const ROUTE = 'envoy.config.route.v3.Route';
const CLUSTER = 'envoy.config.cluster.v3.Cluster';

test('merge semantics per field kind', () => {
  const cases: { name: string; type: string; dst: object; src: object; want: object }[] = [
    {
      name: 'scalars in the patch replace',
      type: CLUSTER,
      dst: { name: 'a', type: 'EDS' },
      src: { type: 'STATIC' },
      want: { name: 'a', type: 'STATIC' },
    },
    {
      name: 'zero scalars in the patch change nothing (proto3: not set)',
      type: CLUSTER,
      dst: { name: 'a', type: 'STATIC' },
      src: { name: '', type: 'STATIC', per_connection_buffer_limit_bytes: { value: 0 } },
      want: { name: 'a', type: 'STATIC', per_connection_buffer_limit_bytes: {} },
    },
    {
      name: 'a Duration is replaced whole',
      type: CLUSTER,
      dst: { connect_timeout: { seconds: 1, nanos: 500_000_000 } },
      src: { connect_timeout: { seconds: 2 } },
      want: { connect_timeout: { seconds: 2 } },
    },
    {
      name: 'messages merge field by field',
      type: ROUTE,
      dst: { route: { cluster: 'c', timeout: { seconds: 1 } } },
      src: { route: { idle_timeout: { seconds: 9 } } },
      want: { route: { cluster: 'c', timeout: { seconds: 1 }, idle_timeout: { seconds: 9 } } },
    },
    {
      name: 'repeated fields append',
      type: ROUTE,
      dst: { request_headers_to_remove: ['a'] },
      src: { request_headers_to_remove: ['b'] },
      want: { request_headers_to_remove: ['a', 'b'] },
    },
    {
      name: 'a repeated field the message lacks takes the patch list',
      type: ROUTE,
      dst: { name: 'r' },
      src: { request_headers_to_remove: ['b'] },
      want: { name: 'r', request_headers_to_remove: ['b'] },
    },
    {
      name: 'map entries replace',
      type: ROUTE,
      dst: { metadata: { filter_metadata: { a: { fields: { x: { stringValue: '1' } } } } } },
      src: { metadata: { filter_metadata: { a: { fields: { y: { stringValue: '2' } } } } } },
      want: { metadata: { filter_metadata: { a: { fields: { y: { stringValue: '2' } } } } } },
    },
    {
      name: 'another member of a oneof clears the one set',
      type: ROUTE,
      dst: { route: { cluster: 'c' } },
      src: { direct_response: { status: 204 } },
      want: { direct_response: { status: 204 } },
    },
    {
      name: 'the same member of a oneof merges',
      type: ROUTE,
      dst: { route: { cluster: 'c' } },
      src: { route: { cluster_header: 'x-cluster' } },
      want: { route: { cluster_header: 'x-cluster' } },
    },
  ];
  for (const c of cases) {
    const got = mergeMessage(c.type, canonical(c.type, c.dst), canonical(c.type, c.src));
    assert.deepEqual(canonical(c.type, got), canonical(c.type, c.want), c.name);
  }
});

test('a oneof holds one member after a merge, whichever field number comes first on the wire', () => {
  const toRoute = mergeMessage(
    ROUTE,
    canonical(ROUTE, { direct_response: { status: 204 } }),
    canonical(ROUTE, { route: { cluster: 'c' } }),
  );
  assert.deepEqual(Object.keys(toRoute), ['route']);
  assert.deepEqual(canonical(ROUTE, toRoute), { route: { cluster: 'c' } });
  const toDirect = mergeMessage(
    ROUTE,
    canonical(ROUTE, { route: { cluster: 'c' } }),
    canonical(ROUTE, { direct_response: { status: 204 } }),
  );
  assert.deepEqual(Object.keys(toDirect), ['direct_response']);
});

test('canonical messages hold fields only, enums by name', () => {
  const c = canonical(CLUSTER, { name: 'a', type: 'STATIC', connect_timeout: { seconds: 1 } });
  assert.deepEqual(c, { name: 'a', type: 'STATIC', connect_timeout: { seconds: 1 } });
  assert.deepEqual(
    Object.keys(canonical(ROUTE, { route: { cluster: 'c' } })),
    ['route'],
    'no oneof marker fields',
  );
  assert.equal(nameOf(c), 'a');
  assert.equal(nameOf({ name: 5 }), '');
  assert.equal(nameOf({}), '');
});

test('MERGE_AND_REPLACE_LIST semantics: lists replace instead of appending', () => {
  const got = mergeMessage(
    ROUTE,
    { request_headers_to_remove: ['a'] },
    { request_headers_to_remove: ['b'] },
    true,
  );
  assert.deepEqual(got.request_headers_to_remove, ['b']);
});

test('Any: same types merge as messages; different types give nothing to merge', () => {
  const fault = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';
  const a = pack(fault, { max_active_faults: { value: 1 }, headers: [{ name: 'a', present_match: true }] });
  const b = pack(fault, { headers: [{ name: 'b', present_match: true }] });
  const merged = mergeAny(a, b);
  assert.ok(merged);
  const m = unpack(merged).message as { max_active_faults: unknown; headers: { name: string }[] };
  assert.deepEqual(m.max_active_faults, { value: 1 });
  assert.deepEqual(
    m.headers.map((h) => h.name),
    ['a', 'b'],
  );
  const other = pack('type.googleapis.com/envoy.extensions.filters.http.router.v3.Router', {});
  assert.equal(mergeAny(a, other), undefined);
  assert.equal(mergeAny({}, {}), undefined, 'no type to merge by');
  assert.equal(mergeAny({ type_url: fault }, {}), undefined);
});

test('merging changes neither input', () => {
  const dst = Object.freeze(canonical(ROUTE, { route: { cluster: 'c' } }));
  const src = Object.freeze(canonical(ROUTE, { route: { timeout: { seconds: 1 } } }));
  const before = JSON.stringify([dst, src]);
  mergeMessage(ROUTE, dst, src);
  assert.equal(JSON.stringify([dst, src]), before);
});
