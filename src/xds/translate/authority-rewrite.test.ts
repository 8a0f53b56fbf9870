// Istio's `:authority` (or Host) in `headers.request.set/add` is a host rewrite, never a header
// mutation (Envoy refuses `:`-prefixed and Host mutations): the route's header, then
// rewrite.authority, then a lone destination's header decide host_rewrite_literal.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HTTPRoute } from '../../api/networking/types.js';
import { buildRoutes, type RouteSite } from './route-action.js';
import { checkEncodes, type Loose as Json } from './testkit.js';
import { TYPE } from '../../protocol/protos.js';

const site: RouteSite = {
  port: 8080,
  gateways: ['mesh'],
  proxyNamespace: 'default',
  excluded: new Set(),
  flavor: 'envoy',
  domainSuffix: 'cluster.local',
  servicePorts: () => undefined,
  consistentHash: () => undefined,
};

function one(route: HTTPRoute): Json {
  const out = buildRoutes({ route, namespace: 'default', matches: undefined }, site);
  assert.equal(out.length, 1);
  return out[0] as Json;
}

const dest = (host: string, headers?: HTTPRoute['headers'], weight?: number) => ({
  destination: { host },
  ...(headers ? { headers } : {}),
  ...(weight !== undefined ? { weight } : {}),
});
const setReq = (set: Record<string, string>, add?: Record<string, string>) => ({
  request: { set, ...(add ? { add } : {}) },
});

const CASES: [string, HTTPRoute, string | undefined][] = [
  [
    'route-level set :authority',
    { headers: setReq({ ':authority': 'a.example' }), route: [dest('r')] },
    'a.example',
  ],
  [
    'route-level set Host (any case)',
    { headers: setReq({ HOST: 'h.example' }), route: [dest('r')] },
    'h.example',
  ],
  [
    'route-level add :authority',
    { headers: { request: { add: { ':authority': 'add.example' } } }, route: [dest('r')] },
    'add.example',
  ],
  [
    'set wins over add',
    { headers: setReq({ ':authority': 'set' }, { ':authority': 'add' }), route: [dest('r')] },
    'set',
  ],
  [
    'rewrite.authority wins over the route header',
    { headers: setReq({ ':authority': 'header' }), rewrite: { authority: 'rewrite' }, route: [dest('r')] },
    'rewrite',
  ],
  ['lone destination-level set', { route: [dest('r', setReq({ ':authority': 'd.example' }))] }, 'd.example'],
  [
    'the route header wins over the destination one',
    { headers: setReq({ ':authority': 'route' }), route: [dest('r', setReq({ ':authority': 'dest' }))] },
    'route',
  ],
  [
    'a split does not rewrite per destination',
    { route: [dest('a', setReq({ ':authority': 'a' }), 50), dest('b', undefined, 50)] },
    undefined,
  ],
  ['no authority header, no rewrite', { headers: setReq({ 'x-a': '1' }), route: [dest('r')] }, undefined],
];

for (const [name, route, want] of CASES) {
  test(`:authority: ${name}`, () => {
    const r = one(route);
    assert.equal(r.route.host_rewrite_literal, want);
    // Never a header mutation Envoy would refuse, at route or weighted-cluster level.
    const clusters = (r.route.weighted_clusters?.clusters ?? []) as Json[];
    const mutations: Json[] = [
      ...((r.request_headers_to_add ?? []) as Json[]),
      ...clusters.flatMap((c: Json): Json[] => (c.request_headers_to_add ?? []) as Json[]),
    ];
    const keys = mutations.map((h: Json) => String(h.header.key).toLowerCase());
    assert.ok(!keys.includes(':authority') && !keys.includes('host'), JSON.stringify(keys));
    checkEncodes(
      TYPE.route,
      new Map([['r', { name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [r] }] }]]),
    );
  });
}

test(':authority: other request headers of the same set stay header mutations', () => {
  const r = one({ headers: setReq({ ':authority': 'a', 'x-b': '2' }), route: [dest('r')] });
  assert.deepEqual(
    (r.request_headers_to_add as Json[]).map((h: Json): unknown => h.header.key),
    ['x-b'],
  );
});
