// Istio HTTPRoute -> Envoy Route: what the route points at (destination port and weights,
// redirects, direct responses, mirrors) and the header operations that travel with it.
// Built with buildRoutes directly so each case names the Istio input and the Envoy field it
// becomes (Envoy api v3 config.route.v3.Route / RouteAction / RedirectAction).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HTTPRoute } from '../../api/networking/types.js';
import type { ServicePort } from '../../registry/types.js';
import type { MergedRoute } from './http-routes.js';
import { buildRoutes, type RouteSite } from './route-action.js';
import { http, type Loose as Json } from './testkit.js';

const REVIEWS = 'reviews.default.svc.cluster.local';

function site(over: Partial<RouteSite> = {}): RouteSite {
  return {
    port: 8080,
    gateways: ['mesh'],
    proxyNamespace: 'default',
    excluded: new Set(),
    flavor: 'envoy',
    domainSuffix: 'cluster.local',
    servicePorts: () => undefined,
    consistentHash: () => undefined,
    ...over,
  };
}

function merged(route: HTTPRoute, matches?: MergedRoute['matches']): MergedRoute {
  return { route, namespace: 'default', matches };
}

function one(route: HTTPRoute, s: RouteSite = site()): Json {
  const out = buildRoutes(merged(route), s);
  assert.equal(out.length, 1);
  return out[0] as Json;
}

test('a redirect carries Envoy response codes for 302, 303, 307 and 308; 301 is its default and left out', () => {
  const codes: [number | undefined, string | undefined][] = [
    [undefined, undefined],
    [301, undefined],
    [302, 'FOUND'],
    [303, 'SEE_OTHER'],
    [307, 'TEMPORARY_REDIRECT'],
    [308, 'PERMANENT_REDIRECT'],
  ];
  for (const [redirectCode, expected] of codes) {
    const r = one({ redirect: { uri: '/v2', ...(redirectCode ? { redirectCode } : {}) } });
    assert.equal(r.redirect.response_code, expected, `redirectCode ${redirectCode}`);
    assert.equal('response_code' in r.redirect, expected !== undefined, `redirectCode ${redirectCode}`);
    assert.equal(r.redirect.path_redirect, '/v2');
  }
});

test('a redirect sets only the parts the route names', () => {
  const r = one({ redirect: { authority: 'new.example.com', port: 8443, scheme: 'https' } });
  assert.deepEqual(r.redirect, {
    host_redirect: 'new.example.com',
    port_redirect: 8443,
    scheme_redirect: 'https',
  });
  assert.equal(r.route, undefined);
});

test('a direct response body given as bytes is sent as those bytes', () => {
  const r = one({
    directResponse: { status: 418, body: { bytes: Buffer.from('teapot\n').toString('base64') } },
  });
  assert.equal(r.direct_response.status, 418);
  assert.deepEqual(Buffer.from(r.direct_response.body.inline_bytes as Uint8Array).toString(), 'teapot\n');
  const s = one({ directResponse: { status: 200, body: { string: 'ok' } } });
  assert.deepEqual(s.direct_response.body, { inline_string: 'ok' });
  assert.deepEqual(one({ directResponse: { status: 204 } }).direct_response, { status: 204 });
});

test('proxyless gRPC gets no route for a redirect or a direct response (its client NACKs them)', () => {
  const grpc = site({ flavor: 'grpc' });
  assert.deepEqual(buildRoutes(merged({ directResponse: { status: 503 } }), grpc), []);
  assert.deepEqual(buildRoutes(merged({ redirect: { uri: '/x' } }), grpc), []);
  assert.equal(buildRoutes(merged({ route: [{ destination: { host: 'reviews' } }] }), grpc).length, 1);
});

test('a route none of whose matches applies to this listener yields no Envoy route', () => {
  const route: HTTPRoute = { route: [{ destination: { host: 'reviews' } }] };
  const matches = [{ id: 'm0', match: { port: 9090, uri: { prefix: '/a' } } }];
  assert.deepEqual(buildRoutes(merged(route, matches), site({ port: 8080 })), []);
  const here = buildRoutes(merged(route, matches), site({ port: 9090 }));
  assert.equal(here.length, 1);
  assert.deepEqual((here[0] as Json).match, { prefix: '/a' });
});

test('a destination without a port uses the service port when it has exactly one, else the listener port', () => {
  const ports = new Map<string, readonly ServicePort[]>([
    [REVIEWS, [http(9080)]],
    ['ratings.default.svc.cluster.local', [http(9080), http(9081)]],
  ]);
  const s = site({ port: 8080, servicePorts: (h) => ports.get(h) });
  assert.equal(
    one({ route: [{ destination: { host: 'reviews' } }] }, s).route.cluster,
    `outbound|9080||${REVIEWS}`,
  );
  assert.equal(
    one({ route: [{ destination: { host: 'ratings' } }] }, s).route.cluster,
    'outbound|8080||ratings.default.svc.cluster.local',
  );
  assert.equal(
    one({ route: [{ destination: { host: 'unknown' } }] }, s).route.cluster,
    'outbound|8080||unknown.default.svc.cluster.local',
  );
  assert.equal(
    one({ route: [{ destination: { host: 'reviews', port: { number: 7000 } } }] }, s).route.cluster,
    `outbound|7000||${REVIEWS}`,
  );
});

test('zero-weight destinations leave the split; one left is a plain cluster route', () => {
  const r = one({
    route: [
      { destination: { host: 'reviews', subset: 'v1', port: { number: 9080 } }, weight: 100 },
      { destination: { host: 'reviews', subset: 'v2', port: { number: 9080 } }, weight: 0 },
    ],
  });
  assert.equal(r.route.cluster, `outbound|9080|v1|${REVIEWS}`);
  assert.equal(r.route.weighted_clusters, undefined);
});

test('mirror and mirrors each become a request mirror policy with its percentage', () => {
  const d = (subset: string) => ({ host: 'reviews', subset, port: { number: 9080 } });
  const r = one({
    route: [{ destination: d('v1') }],
    mirror: d('shadow'),
    mirrorPercent: 25,
    mirrors: [{ destination: d('v3'), percentage: { value: 5 } }, { destination: d('v4') }],
  });
  const pct = (p: Json) => p.runtime_fraction.default_value.numerator / 10_000;
  const policies = r.route.request_mirror_policies as Json[];
  assert.deepEqual(
    policies.map((p): unknown[] => [p.cluster, pct(p)]),
    [
      [`outbound|9080|shadow|${REVIEWS}`, 25],
      [`outbound|9080|v3|${REVIEWS}`, 5],
      [`outbound|9080|v4|${REVIEWS}`, 100],
    ],
  );
  // Istio: a mirror without a percentage mirrors everything.
  const all = one({ route: [{ destination: d('v1') }], mirror: d('shadow') });
  assert.equal(pct((all.route.request_mirror_policies as Json[])[0]), 100);
  assert.equal(one({ route: [{ destination: d('v1') }] }).route.request_mirror_policies, undefined);
});

test("a lone destination's header operations merge with the route's, both applied", () => {
  const r = one({
    headers: {
      request: { set: { 'x-route': 'r' }, remove: ['x-drop-route'] },
      response: { add: { 'x-route-res': 'r' } },
    },
    route: [
      {
        destination: { host: 'reviews' },
        headers: {
          request: { add: { 'x-dest': 'd' }, remove: ['x-drop-dest'] },
          response: { set: { 'x-dest-res': 'd' }, remove: ['server'] },
        },
      },
    ],
  });
  const ops = (list: Json[]): unknown[] =>
    list.map((h): unknown[] => [h.header.key, h.header.value, h.append_action]);
  assert.deepEqual(ops(r.request_headers_to_add), [
    ['x-route', 'r', 'OVERWRITE_IF_EXISTS_OR_ADD'],
    ['x-dest', 'd', 'APPEND_IF_EXISTS_OR_ADD'],
  ]);
  assert.deepEqual(r.request_headers_to_remove, ['x-drop-route', 'x-drop-dest']);
  assert.deepEqual(ops(r.response_headers_to_add), [
    ['x-dest-res', 'd', 'OVERWRITE_IF_EXISTS_OR_ADD'],
    ['x-route-res', 'r', 'APPEND_IF_EXISTS_OR_ADD'],
  ]);
  assert.deepEqual(r.response_headers_to_remove, ['server']);
});

test("a lone destination's header operations apply when the route has none, one direction at a time", () => {
  const ops = (list: Json[]): unknown[] => list.map((h): unknown[] => [h.header.key, h.header.value]);
  const onlyDest = one({
    route: [{ destination: { host: 'reviews' }, headers: { request: { set: { 'x-d': '1' } } } }],
  });
  assert.deepEqual(ops(onlyDest.request_headers_to_add), [['x-d', '1']]);
  assert.equal(onlyDest.response_headers_to_add, undefined);
  // Route and destination each touch one direction only.
  const split = one({
    headers: { response: { remove: ['server'] } },
    route: [
      { destination: { host: 'reviews' }, headers: { request: { add: { 'x-d': '2' }, remove: ['x-r'] } } },
    ],
  });
  assert.deepEqual(ops(split.request_headers_to_add), [['x-d', '2']]);
  assert.deepEqual(split.request_headers_to_remove, ['x-r']);
  assert.deepEqual(split.response_headers_to_remove, ['server']);
  assert.equal(split.response_headers_to_add, undefined);
  const reverse = one({
    headers: { request: { set: { 'x-r': '3' } } },
    route: [{ destination: { host: 'reviews' }, headers: { response: { set: { 'x-s': '4' } } } }],
  });
  assert.deepEqual(ops(reverse.request_headers_to_add), [['x-r', '3']]);
  assert.deepEqual(ops(reverse.response_headers_to_add), [['x-s', '4']]);
});

test('weighted destinations carry their own header operations, whichever direction they set', () => {
  const r = one({
    route: [
      {
        destination: { host: 'reviews', subset: 'v1' },
        weight: 50,
        headers: { response: { set: { 'x-v': '1' } } },
      },
      {
        destination: { host: 'reviews', subset: 'v2' },
        weight: 50,
        headers: { request: { remove: ['x-v'] } },
      },
    ],
  });
  const [a, b] = r.route.weighted_clusters.clusters as Json[];
  assert.equal(a.response_headers_to_add[0].header.key, 'x-v');
  assert.equal(a.request_headers_to_add, undefined);
  assert.deepEqual(b.request_headers_to_remove, ['x-v']);
  assert.equal(b.response_headers_to_add, undefined);
});

test('a route without header operations or filter configs carries none of those fields', () => {
  const r = one({ route: [{ destination: { host: 'reviews' } }] });
  for (const field of [
    'request_headers_to_add',
    'request_headers_to_remove',
    'response_headers_to_add',
    'response_headers_to_remove',
    'typed_per_filter_config',
  ]) {
    assert.equal(field in r, false, field);
  }
});

test('a redirect with prefixRewrite replaces the matched prefix (Envoy prefix_rewrite)', () => {
  const out = buildRoutes(
    merged({ redirect: { prefixRewrite: '/v2/' } }, [{ id: 'm0', match: { uri: { prefix: '/v1/' } } }]),
    site(),
  );
  assert.equal(out.length, 1);
  const r = out[0] as Json;
  assert.deepEqual(r.redirect, { prefix_rewrite: '/v2/' });
  assert.deepEqual(r.match, { prefix: '/v1/' });
});
