/**
 * One HTTPRoute/GRPCRoute rule to Istio http routes, as tables: each row a rule (as validated
 * YAML would give it) and the Istio routes it must become.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GRPCRouteMatch, HTTPBackendRef } from '../../api/gateway/types.js';
import { convertRules, pathParts, type RuleInput, type RuleProblems } from './http-rules.js';
import type { BackendResolution } from './references.js';

/** Backends named `bad*` do not resolve (RefNotPermitted); others are `<name>.ns.svc`. */
function resolve(ref: HTTPBackendRef): BackendResolution {
  if (ref.name.startsWith('bad'))
    return { ok: false, reason: 'RefNotPermitted', message: `no grant for ${ref.name}` };
  return {
    ok: true,
    host: `${ref.name}.ns.svc`,
    namespace: 'ns',
    ...(ref.port !== undefined ? { port: ref.port } : {}),
  };
}

function convert(rules: RuleInput[], flavor: 'http' | 'grpc' = 'http', created?: string) {
  const problems: RuleProblems = { refs: [], unsupported: [] };
  const routes = convertRules(
    { flavor, id: 'ns/r', rules, resolve, ...(created ? { created } : {}) },
    problems,
  );
  return { routes, problems, istio: routes.map((r) => r.route) };
}

const a = { name: 'a', port: 80 };

test('path matches: Exact, RegularExpression, and PathPrefix as whole segments (a trailing / ignored)', () => {
  assert.deepEqual(pathParts('Exact', '/x'), [{ uri: { exact: '/x' } }]);
  assert.deepEqual(pathParts('RegularExpression', '/v[0-9]+'), [{ uri: { regex: '/v[0-9]+' } }]);
  assert.deepEqual(pathParts('PathPrefix', '/'), [{ uri: { prefix: '/' } }]);
  for (const value of ['/p', '/p/']) {
    assert.deepEqual(pathParts('PathPrefix', value), [{ uri: { exact: '/p' } }, { uri: { prefix: '/p/' } }]);
  }
  const { routes } = convert([
    { matches: [{ path: { type: 'RegularExpression', value: '/v[0-9]+' } }], backendRefs: [a] },
  ]);
  assert.deepEqual(routes[0]!.rank.pathType, 'RegularExpression');
  assert.deepEqual(routes[0]!.route.match, [{ uri: { regex: '/v[0-9]+' } }]);
});

test('a rule without matches matches every path; each route is named after its route, rule and match', () => {
  const { istio, routes } = convert([{ backendRefs: [a] }], 'http', '2024-01-01T00:00:00Z');
  assert.deepEqual(istio, [
    {
      name: 'ns/r.0.0',
      match: [{ uri: { prefix: '/' } }],
      route: [{ destination: { host: 'a.ns.svc', port: { number: 80 } } }],
    },
  ]);
  assert.equal(routes[0]!.rank.created, '2024-01-01T00:00:00Z');
  assert.equal(convert([{ backendRefs: [a] }]).routes[0]!.rank.created, undefined);
});

test('header and query matches: the first of two on one name wins; ranks count them', () => {
  const { routes } = convert([
    {
      matches: [
        {
          headers: [
            { name: 'X-A', value: '1' },
            { name: 'x-a', value: '2' },
          ],
          queryParams: [{ name: 'Q', type: 'RegularExpression', value: 'y+' }],
          method: 'PUT',
        },
      ],
      backendRefs: [a],
    },
  ]);
  assert.deepEqual(routes[0]!.route.match, [
    {
      uri: { prefix: '/' },
      method: { exact: 'PUT' },
      headers: { 'x-a': { exact: '1' } },
      queryParams: { Q: { regex: 'y+' } },
    },
  ]);
  assert.deepEqual(
    [routes[0]!.rank.headers, routes[0]!.rank.queryParams, routes[0]!.rank.method],
    [2, 1, true],
  );
  const none = convert([{ matches: [{ headers: [], queryParams: [] }], backendRefs: [a] }]);
  assert.deepEqual(none.istio[0]!.match, [{ uri: { prefix: '/' } }], 'empty lists add no match fields');
});

test('gRPC method matches', () => {
  const rows: [GRPCRouteMatch, object, string][] = [
    [{}, { prefix: '/' }, 'PathPrefix'],
    [{ method: { service: 'pkg.Svc', method: 'Get' } }, { exact: '/pkg.Svc/Get' }, 'Exact'],
    [{ method: { service: 'pkg.Svc' } }, { prefix: '/pkg.Svc/' }, 'PathPrefix'],
    [{ method: { method: 'Get' } }, { regex: '/[^/]+/Get' }, 'RegularExpression'],
    [
      { method: { type: 'RegularExpression', service: 'pkg\\..*' } },
      { regex: '/pkg\\..*/[^/]+' },
      'RegularExpression',
    ],
    [
      { method: { type: 'RegularExpression', method: 'Get.*' } },
      { regex: '/[^/]+/Get.*' },
      'RegularExpression',
    ],
  ];
  for (const [match, uri, type] of rows) {
    const { routes } = convert([{ matches: [match], backendRefs: [a] }], 'grpc');
    assert.deepEqual(routes[0]!.route.match?.[0]?.uri, uri, JSON.stringify(match));
    assert.equal(routes[0]!.rank.pathType, type, JSON.stringify(match));
    assert.equal(routes[0]!.rank.queryParams, 0);
  }
  const headers = convert(
    [{ matches: [{ headers: [{ name: 'X-T', value: 'v' }] }], backendRefs: [a] }],
    'grpc',
  );
  assert.deepEqual(headers.istio[0]!.match, [{ uri: { prefix: '/' }, headers: { 'x-t': { exact: 'v' } } }]);
  assert.equal(headers.routes[0]!.rank.headers, 1);
});

test("redirects: code 302 by default, a scheme's own port, an explicit port, a full path", () => {
  const rows: [object, object][] = [
    // Neither scheme nor port: the request's port (made the listener's number per listener).
    [
      { hostname: 'h.example.com' },
      { redirectCode: 302, authority: 'h.example.com', derivePort: 'FROM_REQUEST_PORT' },
    ],
    [{ scheme: 'https' }, { redirectCode: 302, scheme: 'https', port: 443 }],
    [{ scheme: 'http' }, { redirectCode: 302, scheme: 'http', port: 80 }],
    [
      { scheme: 'https', port: 8443, statusCode: 308 },
      { redirectCode: 308, scheme: 'https', port: 8443 },
    ],
    [
      { path: { type: 'ReplaceFullPath', replaceFullPath: '/x' } },
      { redirectCode: 302, uri: '/x', derivePort: 'FROM_REQUEST_PORT' },
    ],
  ];
  for (const [requestRedirect, want] of rows) {
    const { istio, problems } = convert([
      { filters: [{ type: 'RequestRedirect', requestRedirect } as never] },
    ]);
    assert.deepEqual(istio[0]!.redirect, want, JSON.stringify(requestRedirect));
    assert.equal(istio[0]!.route, undefined);
    assert.equal(istio[0]!.directResponse, undefined, 'a redirect needs no backend');
    assert.deepEqual(problems.unsupported, []);
  }
  const prefix = convert([
    {
      matches: [{ path: { type: 'PathPrefix', value: '/original-prefix' } }],
      filters: [
        {
          type: 'RequestRedirect',
          requestRedirect: {
            path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/replacement-prefix' },
            statusCode: 301,
          },
        },
      ],
    },
  ]);
  assert.deepEqual(prefix.problems.unsupported, []);
  assert.deepEqual(
    prefix.istio.map((r) => [r.match, r.redirect]),
    [
      [
        [{ uri: { exact: '/original-prefix' } }],
        { redirectCode: 301, uri: '/replacement-prefix', derivePort: 'FROM_REQUEST_PORT' },
      ],
      [
        [{ uri: { prefix: '/original-prefix/' } }],
        { redirectCode: 301, prefixRewrite: '/replacement-prefix/', derivePort: 'FROM_REQUEST_PORT' },
      ],
    ],
    'each half replaces its own matched prefix (conformance httproute-redirect-path)',
  );
});

test("ReplacePrefixMatch: the API's table, for rewrites and redirects alike", () => {
  // [request path, prefix match, replacement, modified path]: httproute_types.go's table.
  const rows: [string, string, string, string][] = [
    ['/foo/bar', '/foo', '/xyz', '/xyz/bar'],
    ['/foo/bar', '/foo', '/xyz/', '/xyz/bar'],
    ['/foo/bar', '/foo/', '/xyz', '/xyz/bar'],
    ['/foo/bar', '/foo/', '/xyz/', '/xyz/bar'],
    ['/foo', '/foo', '/xyz', '/xyz'],
    ['/foo/', '/foo', '/xyz', '/xyz/'],
    ['/foo/bar', '/foo', '', '/bar'],
    ['/foo/', '/foo', '', '/'],
    ['/foo', '/foo', '', '/'],
    ['/foo/', '/foo', '/', '/'],
    ['/foo', '/foo', '/', '/'],
    // The conformance suite's httproute-rewrite-path.
    ['/prefix/one/two', '/prefix/one', '/one', '/one/two'],
    ['/strip-prefix/three', '/strip-prefix', '/', '/three'],
    ['/strip-prefix', '/strip-prefix', '/', '/'],
    [
      '/prefix/rewrite-path-and-modify-headers/one',
      '/prefix/rewrite-path-and-modify-headers',
      '/prefix',
      '/prefix/one',
    ],
    // A prefix of `/`: every path, `/` itself apart.
    ['/', '/', '/xyz', '/xyz'],
    ['/a/b', '/', '/xyz', '/xyz/a/b'],
    ['/a', '/', '/', '/a'],
  ];
  for (const [request, match, replacement, want] of rows) {
    for (const filter of ['URLRewrite', 'RequestRedirect'] as const) {
      const path = { type: 'ReplacePrefixMatch' as const, replacePrefixMatch: replacement };
      const { istio } = convert([
        {
          matches: [{ path: { type: 'PathPrefix', value: match } }],
          filters: [
            filter === 'URLRewrite'
              ? { type: filter, urlRewrite: { path } }
              : { type: filter, requestRedirect: { path } },
          ],
          ...(filter === 'URLRewrite' ? { backendRefs: [a] } : {}),
        },
      ]);
      assert.equal(applyFirst(istio, request), want, `${filter} ${request} ${match} -> ${replacement}`);
    }
  }
});

/**
 * What the first matching route does to a path, as Envoy (and the Trellis proxy) apply it:
 * exact and prefix matches; prefix_rewrite replaces the matched prefix, a regex rewrite of
 * `^/.*$` the whole path, a redirect's uri the whole path.
 */
function applyFirst(routes: ReturnType<typeof convert>['istio'], path: string): string {
  for (const r of routes) {
    const m = r.match?.[0]?.uri;
    const hit =
      m === undefined ||
      ('exact' in m ? path === m.exact : 'prefix' in m ? path.startsWith(m.prefix) : false);
    if (!hit) continue;
    const prefixLength = m !== undefined && 'prefix' in m ? m.prefix.length : 0;
    if (r.redirect?.uri !== undefined) return r.redirect.uri;
    if (r.redirect?.prefixRewrite !== undefined) return r.redirect.prefixRewrite + path.slice(prefixLength);
    if (r.rewrite?.uriRegexRewrite !== undefined) return r.rewrite.uriRegexRewrite.rewrite;
    if (r.rewrite?.uri !== undefined) return r.rewrite.uri + path.slice(prefixLength);
    return path;
  }
  return '(no route)';
}

test('rewrites: full path, prefix per half, host, and both', () => {
  const full = convert([
    {
      filters: [
        { type: 'URLRewrite', urlRewrite: { path: { type: 'ReplaceFullPath', replaceFullPath: '/f' } } },
      ],
      backendRefs: [a],
    },
  ]);
  assert.deepEqual(full.istio[0]!.rewrite, { uriRegexRewrite: { match: '^/.*$', rewrite: '/f' } });
  const both = convert([
    {
      filters: [
        {
          type: 'URLRewrite',
          urlRewrite: { hostname: 'h', path: { type: 'ReplaceFullPath', replaceFullPath: '/f' } },
        },
      ],
      backendRefs: [a],
    },
  ]);
  assert.deepEqual(both.istio[0]!.rewrite, {
    uriRegexRewrite: { match: '^/.*$', rewrite: '/f' },
    authority: 'h',
  });
  const host = convert([
    { filters: [{ type: 'URLRewrite', urlRewrite: { hostname: 'h' } }], backendRefs: [a] },
  ]);
  assert.deepEqual(
    host.istio.map((r) => [r.match, r.rewrite]),
    [[[{ uri: { prefix: '/' } }], { authority: 'h' }]],
  );
  const prefix = convert([
    {
      matches: [{ path: { type: 'PathPrefix', value: '/p' } }],
      filters: [
        {
          type: 'URLRewrite',
          urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/q/' } },
        },
      ],
      backendRefs: [a],
    },
  ]);
  assert.deepEqual(
    prefix.istio.map((r) => [r.match, r.rewrite]),
    [
      // The exact half is the whole prefix: `/q/`'s trailing slash is ignored (the API's table).
      [[{ uri: { exact: '/p' } }], { uriRegexRewrite: { match: '^/.*$', rewrite: '/q' } }],
      [[{ uri: { prefix: '/p/' } }], { uri: '/q/' }],
    ],
  );
  const plain = convert([{ matches: [{ path: { type: 'PathPrefix', value: '/p' } }], backendRefs: [a] }]);
  assert.deepEqual(
    plain.istio.map((r) => [r.match?.length, r.rewrite]),
    [[2, undefined]],
    'without a prefix rewrite the halves stay one route',
  );
});

test('mirrors: percent, fraction, whole; a mirror that may not be reached is a ResolvedRefs problem', () => {
  const rows: [object, number][] = [
    [{ backendRef: { name: 'm', port: 81 } }, 100],
    [{ backendRef: { name: 'm', port: 81 }, percent: 5 }, 5],
    [{ backendRef: { name: 'm', port: 81 }, fraction: { numerator: 1, denominator: 8 } }, 12.5],
    [{ backendRef: { name: 'm', port: 81 }, fraction: { numerator: 30 } }, 30],
  ];
  for (const [requestMirror, percent] of rows) {
    const { istio } = convert([
      { filters: [{ type: 'RequestMirror', requestMirror } as never], backendRefs: [a] },
    ]);
    assert.deepEqual(istio[0]!.mirrors, [
      { destination: { host: 'm.ns.svc', port: { number: 81 } }, percentage: { value: percent } },
    ]);
  }
  const refused = convert([
    {
      filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'bad-m', port: 81 } } }],
      backendRefs: [a],
    },
  ]);
  assert.equal(refused.istio[0]!.mirrors, undefined);
  assert.deepEqual(refused.problems.refs, [
    { reason: 'RefNotPermitted', message: 'requestMirror: no grant for bad-m' },
  ]);
});

test('header modifiers on the rule and on one backend', () => {
  const { istio } = convert([
    {
      filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { remove: ['X-Gone'] } }],
      backendRefs: [
        {
          name: 'a',
          port: 80,
          weight: 1,
          filters: [
            { type: 'RequestHeaderModifier', requestHeaderModifier: { add: [{ name: 'X-B', value: 'b' }] } },
          ],
        },
        {
          name: 'c',
          port: 80,
          weight: 1,
          filters: [
            {
              type: 'ResponseHeaderModifier',
              responseHeaderModifier: { set: [{ name: 'X-C', value: 'c' }] },
            },
          ],
        },
        { name: 'd', port: 80, weight: 1 },
        {
          name: 'e',
          weight: 1,
          filters: [
            {
              type: 'ResponseHeaderModifier',
              responseHeaderModifier: { set: [{ name: 'X-R', value: 'r' }] },
            },
            { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'X-Q', value: 'q' }] } },
          ],
        },
      ],
    },
  ]);
  assert.deepEqual(istio[0]!.headers, { response: { remove: ['x-gone'] } });
  assert.deepEqual(
    istio[0]!.route?.map((d) => d.headers),
    [
      { request: { add: { 'x-b': 'b' } } },
      { response: { set: { 'x-c': 'c' } } },
      undefined,
      { request: { set: { 'x-q': 'q' } }, response: { set: { 'x-r': 'r' } } },
    ],
  );
  assert.deepEqual(
    istio[0]!.route?.[3]?.destination,
    { host: 'e.ns.svc' },
    'a backend without a port (a Hostname) names none',
  );
  const empty = convert([
    { filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: {} }], backendRefs: [a] },
  ]);
  assert.equal(empty.istio[0]!.headers, undefined, 'an empty modifier adds nothing');
});

test('backends: weights kept, zero weights and refused refs left out, 404 and 500 when none is left', () => {
  const split = convert([
    {
      backendRefs: [
        { name: 'a', port: 80, weight: 3 },
        { name: 'b', port: 80 },
        { name: 'z', port: 80, weight: 0 },
      ],
    },
  ]);
  assert.deepEqual(
    split.istio[0]!.route?.map((d) => [d.destination.host, d.weight]),
    [
      ['a.ns.svc', 3],
      ['b.ns.svc', 1],
    ],
  );
  const rows: [RuleInput, number, string][] = [
    [{}, 404, 'route has no backendRefs'],
    [{ backendRefs: [] }, 404, 'route has no backendRefs'],
    [{ backendRefs: [{ name: 'bad', port: 80 }] }, 500, 'no valid backend'],
    [{ backendRefs: [{ name: 'a', port: 80, weight: 0 }] }, 500, 'no backend has weight'],
    [
      {
        backendRefs: [
          { name: 'bad', port: 80, weight: 2 },
          { name: 'a', port: 80, weight: 0 },
        ],
      },
      500,
      'no valid backend',
    ],
  ];
  for (const [rule, status, body] of rows) {
    const { istio } = convert([
      {
        ...rule,
        filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'm', port: 1 } } }],
      },
    ]);
    assert.deepEqual(istio[0]!.directResponse, { status, body: { string: body } }, JSON.stringify(rule));
    assert.equal(istio[0]!.mirrors, undefined, 'nothing to mirror when nothing is forwarded');
    assert.equal(istio[0]!.route, undefined);
  }
});

test('timeouts and retries', () => {
  const rows: [RuleInput, object][] = [
    [{ timeouts: { request: '1m30s' } }, { timeout: '90000ms' }],
    [{ timeouts: { backendRequest: '500ms' } }, { timeout: '500ms' }],
    [
      { timeouts: { request: '10s', backendRequest: '2s' } },
      { timeout: '10000ms', retries: { attempts: 0, perTryTimeout: '2000ms' } },
    ],
    [{ timeouts: { request: 'soon' } }, {}],
    [{ retry: {} }, { retries: { attempts: 1 } }],
    [
      { retry: { attempts: 3, codes: [502, 503], backoff: '100ms' } },
      { retries: { attempts: 3, retryOn: '502,503', backoff: '100ms' } },
    ],
    [
      { retry: { attempts: 2, codes: [] }, timeouts: { request: '4s', backendRequest: '1s' } },
      { timeout: '4000ms', retries: { attempts: 2, perTryTimeout: '1000ms' } },
    ],
  ];
  for (const [rule, want] of rows) {
    const { istio } = convert([{ ...rule, backendRefs: [a] }]);
    const got = {
      ...(istio[0]!.timeout ? { timeout: istio[0]!.timeout } : {}),
      ...(istio[0]!.retries ? { retries: istio[0]!.retries } : {}),
    };
    assert.deepEqual(got, want, JSON.stringify(rule));
  }
});

test('ExtensionRef filters are unsupported, named in the problem', () => {
  const { problems } = convert([
    {
      filters: [{ type: 'ExtensionRef', extensionRef: { group: 'x.io', kind: 'Auth', name: 'a1' } }],
      backendRefs: [a],
    },
  ]);
  assert.deepEqual(problems.unsupported, [
    'ExtensionRef filter Auth a1: Trellis implements no extension filters',
  ]);
});

test('sessionPersistence is unsupported, with what to use instead', () => {
  const { problems } = convert([{ sessionPersistence: { sessionName: 's' }, backendRefs: [a] }]);
  assert.deepEqual(problems.unsupported, [
    'sessionPersistence is not supported by Trellis; use an Istio DestinationRule with loadBalancer.consistentHash',
  ]);
});
