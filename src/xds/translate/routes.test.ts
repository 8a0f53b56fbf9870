import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DestinationRuleSpec, HTTPRoute, VirtualServiceSpec } from '../../api/networking/types.js';
import { TYPE, unpackAny, type AnyMessage } from '../../protocol/protos.js';
import type { ProxyNode } from '../proxy-node.js';
import { buildPushContext, generate } from './index.js';
import {
  checkEncodes,
  config,
  grpcClientErrors,
  http,
  proxy,
  registry,
  res,
  service,
  type Loose as Json,
} from './testkit.js';

const HOST = 'reviews.default.svc.cluster.local';
const RATINGS = 'ratings.default.svc.cluster.local';

function routeConfig(
  vs: VirtualServiceSpec[],
  opts: { rule?: DestinationRuleSpec; proxy?: Partial<ProxyNode>; extra?: unknown[] } = {},
): Json {
  const resources = vs.map((spec, i) => res('VirtualService', 'default', `vs${i}`, spec));
  if (opts.rule) resources.push(res('DestinationRule', 'default', 'dr', opts.rule));
  const push = buildPushContext(
    config(resources),
    registry([service(HOST, [http(9080)]), service(RATINGS, [http(9080)])]),
  );
  const p = proxy(opts.proxy);
  const out = generate(push, p, TYPE.route);
  checkEncodes(TYPE.route, out);
  return out.get('9080') as Json;
}

function vhost(rc: Json, host = HOST): Json {
  const vh = (rc.virtual_hosts as Json[]).find((v) => v.name === `${host}:9080`);
  assert.ok(vh, `virtual host ${host}`);
  return vh;
}

function routesOf(http: HTTPRoute[], opts: Parameters<typeof routeConfig>[1] = {}): Json[] {
  return vhost(routeConfig([{ hosts: ['reviews'], http }], opts)).routes as Json[];
}

const only = (http: HTTPRoute): Json => {
  const r = routesOf([http]);
  assert.equal(r.length, 1);
  return r[0]!;
};

const dest = { destination: { host: 'reviews' } };

test('services without a VirtualService get a default route with Istio defaults', () => {
  const vh = vhost(routeConfig([]), RATINGS);
  assert.deepEqual(vh.domains, [
    RATINGS,
    `${RATINGS}:9080`,
    'ratings.default.svc',
    'ratings.default.svc:9080',
    'ratings.default',
    'ratings.default:9080',
    'ratings',
    'ratings:9080',
  ]);
  assert.deepEqual(vh.routes, [
    {
      name: 'default',
      match: { prefix: '/' },
      decorator: { operation: `${RATINGS}:9080/*` },
      route: {
        cluster: `outbound|9080||${RATINGS}`,
        timeout: { seconds: 0, nanos: 0 },
        retry_policy: {
          num_retries: { value: 2 },
          retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
          retriable_status_codes: [503],
          retry_host_predicate: [
            {
              name: 'envoy.retry_host_predicates.previous_hosts',
              typed_config: {
                type_url:
                  'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate',
                value: new Uint8Array(0),
              },
            },
          ],
          host_selection_retry_max_attempts: 5,
        },
      },
    },
  ]);
});

test('short names are only offered to proxies in the service namespace', () => {
  const vh = vhost(routeConfig([], { proxy: { namespace: 'other' } }), RATINGS);
  assert.equal(vh.domains.includes('ratings'), false);
  assert.equal(vh.domains.includes('ratings.default'), true);
});

const MATCHES: { name: string; http: HTTPRoute; match: Json }[] = [
  { name: 'exact uri', http: { match: [{ uri: { exact: '/a' } }], route: [dest] }, match: { path: '/a' } },
  {
    name: 'prefix uri',
    http: { match: [{ uri: { prefix: '/a' } }], route: [dest] },
    match: { prefix: '/a' },
  },
  {
    name: 'regex uri',
    http: { match: [{ uri: { regex: '/a.*' } }], route: [dest] },
    match: { safe_regex: { regex: '/a.*' } },
  },
  {
    name: 'ignoreUriCase',
    http: { match: [{ uri: { prefix: '/A' }, ignoreUriCase: true }], route: [dest] },
    match: { prefix: '/A', case_sensitive: { value: false } },
  },
  {
    name: 'headers, withoutHeaders, method, authority',
    http: {
      match: [
        {
          headers: { 'x-a': { exact: '1' }, 'x-p': {} as never, 'x-r': { regex: 'b+' } },
          withoutHeaders: { 'x-no': { prefix: 'z' } },
          method: { exact: 'GET' },
          authority: { prefix: 'api.' },
        },
      ],
      route: [dest],
    },
    match: {
      prefix: '/',
      headers: [
        { name: 'x-a', string_match: { exact: '1' } },
        { name: 'x-p', present_match: true },
        { name: 'x-r', string_match: { safe_regex: { regex: 'b+' } } },
        { name: 'x-no', string_match: { prefix: 'z' }, invert_match: true },
        { name: ':method', string_match: { exact: 'GET' } },
        { name: ':authority', string_match: { prefix: 'api.' } },
      ],
    },
  },
  {
    name: 'query parameters',
    http: { match: [{ queryParams: { q: { exact: 'v' }, p: {} as never } }], route: [dest] },
    match: {
      prefix: '/',
      query_parameters: [
        { name: 'q', string_match: { exact: 'v' } },
        { name: 'p', present_match: true },
      ],
    },
  },
];

for (const row of MATCHES) {
  test(`match: ${row.name}`, () => {
    assert.deepEqual(only(row.http).match, row.match);
  });
}

test('each match becomes its own route; matches for another port or source are left out', () => {
  const routes = routesOf([
    {
      name: 'r',
      match: [
        { uri: { prefix: '/a' } },
        { uri: { prefix: '/b' }, port: 9999 },
        { uri: { prefix: '/c' }, sourceNamespace: 'elsewhere' },
        { uri: { prefix: '/d' }, sourceLabels: { app: 'app' } },
        { uri: { prefix: '/e' }, sourceLabels: { app: 'other' } },
        { uri: { prefix: '/f' }, gateways: ['some-gateway'] },
        { uri: { prefix: '/g' }, gateways: ['mesh'] },
      ],
      route: [dest],
    },
  ]);
  assert.deepEqual(
    routes.map((r): unknown => [r.name, r.match.prefix]),
    [
      ['r', '/a'],
      ['r', '/d'],
      ['r', '/g'],
    ],
  );
});

test('route actions: weights, subsets, timeout, retries, rewrite, mirror, headers', () => {
  const r = only({
    route: [
      {
        destination: { host: 'reviews', subset: 'v1' },
        weight: 75,
        headers: { request: { set: { 'x-v': '1' } } },
      },
      { destination: { host: 'reviews', subset: 'v2', port: { number: 9080 } }, weight: 25 },
      { destination: { host: 'reviews', subset: 'v3' }, weight: 0 },
    ],
    timeout: '3s',
    retries: {
      attempts: 4,
      perTryTimeout: '500ms',
      retryOn: 'gateway-error,503',
      retryIgnorePreviousHosts: false,
    },
    rewrite: { uri: '/new', authority: 'new.host' },
    mirror: { host: 'ratings' },
    mirrorPercentage: { value: 12.5 },
    headers: {
      request: { set: { 'x-set': 's' }, add: { 'x-add': 'a' }, remove: ['x-gone'] },
      response: { remove: ['server'] },
    },
  });
  assert.deepEqual(r.route, {
    weighted_clusters: {
      clusters: [
        {
          name: `outbound|9080|v1|${HOST}`,
          weight: { value: 75 },
          request_headers_to_add: [
            { header: { key: 'x-v', value: '1' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
          ],
        },
        { name: `outbound|9080|v2|${HOST}`, weight: { value: 25 } },
      ],
    },
    timeout: { seconds: 3, nanos: 0 },
    retry_policy: {
      num_retries: { value: 4 },
      retry_on: 'gateway-error,retriable-status-codes',
      retriable_status_codes: [503],
      per_try_timeout: { seconds: 0, nanos: 500_000_000 },
      host_selection_retry_max_attempts: 5,
    },
    prefix_rewrite: '/new',
    host_rewrite_literal: 'new.host',
    request_mirror_policies: [
      {
        cluster: `outbound|9080||${RATINGS}`,
        runtime_fraction: { default_value: { numerator: 125_000, denominator: 'MILLION' } },
      },
    ],
  });
  assert.deepEqual(r.request_headers_to_add, [
    { header: { key: 'x-set', value: 's' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
    { header: { key: 'x-add', value: 'a' }, append_action: 'APPEND_IF_EXISTS_OR_ADD' },
  ]);
  assert.deepEqual(r.request_headers_to_remove, ['x-gone']);
  assert.deepEqual(r.response_headers_to_remove, ['server']);
});

test('retries with attempts 0 turn retrying off; regex rewrite', () => {
  const r = only({
    route: [dest],
    retries: { attempts: 0 },
    rewrite: { uriRegexRewrite: { match: '^/v1/(.*)', rewrite: '/\\1' } },
  });
  assert.equal(r.route.retry_policy, undefined);
  assert.deepEqual(r.route.regex_rewrite, { pattern: { regex: '^/v1/(.*)' }, substitution: '/\\1' });
  assert.equal(r.route.cluster, `outbound|9080||${HOST}`);
});

test('redirect and direct response', () => {
  const redirect = only({
    redirect: { uri: '/x', authority: 'b.com', redirectCode: 302, scheme: 'https', port: 8443 },
  });
  assert.deepEqual(redirect.redirect, {
    path_redirect: '/x',
    host_redirect: 'b.com',
    scheme_redirect: 'https',
    port_redirect: 8443,
    response_code: 'FOUND',
  });
  assert.equal(redirect.route, undefined);
  const direct = only({ directResponse: { status: 418, body: { string: 'teapot' } } });
  assert.deepEqual(direct.direct_response, { status: 418, body: { inline_string: 'teapot' } });
});

test('fault injection and CORS are per-route filter configs', () => {
  const r = only({
    route: [dest],
    fault: {
      delay: { fixedDelay: '2s', percentage: { value: 10 } },
      abort: { grpcStatus: 'UNAVAILABLE', percentage: { value: 0.5 } },
    },
    corsPolicy: {
      allowOrigins: [{ exact: 'https://a.com' }, { regex: '.*\\.b\\.com' }],
      allowMethods: ['GET', 'POST'],
      allowHeaders: ['x-a'],
      exposeHeaders: ['x-b'],
      maxAge: '24h',
      allowCredentials: true,
    },
  });
  const cfg = r.typed_per_filter_config as Record<string, AnyMessage>;
  assert.deepEqual(unpackAny(cfg['envoy.filters.http.fault']!), {
    delay: {
      fixed_delay: { seconds: 2 },
      percentage: { numerator: 100_000, denominator: 'MILLION' },
      fault_delay_secifier: 'fixed_delay',
    },
    abort: {
      grpc_status: 14,
      percentage: { numerator: 5000, denominator: 'MILLION' },
      error_type: 'grpc_status',
    },
  });
  assert.deepEqual(unpackAny(cfg['envoy.filters.http.cors']!), {
    allow_origin_string_match: [
      { exact: 'https://a.com', match_pattern: 'exact' },
      { safe_regex: { regex: '.*\\.b\\.com' }, match_pattern: 'safe_regex' },
    ],
    allow_methods: 'GET,POST',
    allow_headers: 'x-a',
    expose_headers: 'x-b',
    max_age: '86400',
    allow_credentials: { value: true },
    filter_enabled: { default_value: { numerator: 1_000_000, denominator: 'MILLION' } },
  });
});

test('consistent hash from the DestinationRule becomes the route hash policy', () => {
  const cases: [DestinationRuleSpec['trafficPolicy'], Json[]][] = [
    [
      { loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } } },
      [{ header: { header_name: 'x-user' } }],
    ],
    [
      { loadBalancer: { consistentHash: { httpCookie: { name: 'c', ttl: '10s', path: '/' } } } },
      [{ cookie: { name: 'c', path: '/', ttl: { seconds: 10, nanos: 0 } } }],
    ],
    [
      { loadBalancer: { consistentHash: { useSourceIp: true } } },
      [{ connection_properties: { source_ip: true } }],
    ],
    [
      { loadBalancer: { consistentHash: { httpQueryParameterName: 'u' } } },
      [{ query_parameter: { name: 'u' } }],
    ],
  ];
  for (const [trafficPolicy, want] of cases) {
    const r = routesOf([{ route: [dest] }], { rule: { host: 'reviews', trafficPolicy } })[0]!;
    assert.deepEqual(r.route.hash_policy, want);
    const d = vhost(routeConfig([], { rule: { host: 'reviews', trafficPolicy } })).routes[0];
    assert.deepEqual(d.route.hash_policy, want);
  }
});

test('several VirtualServices for one host merge oldest first; an exact host beats a wildcard', () => {
  const rc = routeConfig([
    { hosts: ['reviews'], http: [{ name: 'first', match: [{ uri: { prefix: '/1' } }], route: [dest] }] },
    { hosts: ['*.default.svc.cluster.local'], http: [{ name: 'wild', route: [dest] }] },
    { hosts: ['reviews.default.svc.cluster.local'], http: [{ name: 'second', route: [dest] }] },
  ]);
  assert.deepEqual(
    vhost(rc).routes.map((r: Json) => String(r.name)),
    ['first', 'second'],
  );
  assert.deepEqual(
    vhost(rc, RATINGS).routes.map((r: Json) => String(r.name)),
    ['wild'],
  );
});

test('delegate VirtualServices are spliced in with matches ANDed', () => {
  const resources = [
    res('VirtualService', 'default', 'root', {
      hosts: ['reviews'],
      http: [
        {
          match: [{ uri: { prefix: '/api' }, headers: { a: { exact: '1' } } }],
          delegate: { name: 'child', namespace: 'team' },
        },
        { name: 'missing', delegate: { name: 'nope' } },
        { name: 'tail', route: [dest] },
      ],
    }),
    res('VirtualService', 'team', 'child', {
      http: [
        {
          name: 'narrow',
          match: [{ uri: { prefix: '/api/v1' }, headers: { b: { exact: '2' } } }],
          route: [{ destination: { host: 'ratings' } }],
        },
        {
          name: 'conflict',
          match: [{ uri: { prefix: '/other' } }],
          route: [{ destination: { host: 'ratings' } }],
        },
        { name: 'all', route: [{ destination: { host: 'ratings.default.svc.cluster.local' } }] },
      ],
    }),
  ];
  const push = buildPushContext(
    config(resources),
    registry([service(HOST, [http(9080)]), service(RATINGS, [http(9080)])]),
  );
  const rc = generate(push, proxy(), TYPE.route).get('9080') as Json;
  const routes = vhost(rc).routes as Json[];
  assert.deepEqual(
    routes.map((r): unknown => [
      r.name,
      r.match.prefix,
      (r.match.headers ?? []).map((h: Json) => String(h.name)).join(','),
      r.route.cluster,
    ]),
    [
      ['narrow', '/api/v1', 'a,b', 'outbound|9080||ratings.team.svc.cluster.local'],
      ['all', '/api', 'a', `outbound|9080||${RATINGS}`],
      ['tail', '/', '', `outbound|9080||${HOST}`],
    ],
  );
});

test('proxyless gRPC routes leave out what its client would reject', () => {
  const resources = [
    res('VirtualService', 'default', 'vs', {
      hosts: ['reviews'],
      http: [
        { name: 'redirect', match: [{ uri: { prefix: '/r' } }], redirect: { uri: '/x' } },
        {
          name: 'cors',
          timeout: '2s',
          corsPolicy: { allowOrigins: [{ exact: 'a' }] },
          fault: { abort: { httpStatus: 503, percentage: { value: 1 } } },
          route: [dest],
        },
      ],
    }),
  ];
  const push = buildPushContext(config(resources), registry([service(HOST, [http(9080)])]));
  const name = `outbound|9080||${HOST}`;
  const out = generate(push, proxy({ type: 'grpc' }), TYPE.route, [name]);
  checkEncodes(TYPE.route, out);
  assert.deepEqual(grpcClientErrors(TYPE.route, out), []);
  const rc = out.get(name) as Json;
  assert.equal(rc.name, name);
  const routes = rc.virtual_hosts[0].routes as Json[];
  assert.deepEqual(
    routes.map((r): unknown => r.name),
    ['cors'],
  );
  assert.deepEqual(Object.keys(routes[0]!.typed_per_filter_config), ['envoy.filters.http.fault']);
  assert.equal(routes[0]!.route.retry_policy.retry_host_predicate, undefined);
  assert.deepEqual(routes[0]!.route.max_stream_duration, { max_stream_duration: { seconds: 2, nanos: 0 } });
});

test('mirror_percent (mirrorPercent under its proto name) is the mirror share, as mirrorPercent is', () => {
  for (const route of [
    { mirror_percent: 30 },
    { mirrorPercent: 30 },
    { mirror_percent: 90, mirrorPercentage: { value: 30 } },
  ]) {
    const r = only({ route: [dest], mirror: { host: 'ratings' }, ...route });
    assert.deepEqual(
      r.route.request_mirror_policies,
      [
        {
          cluster: `outbound|9080||${RATINGS}`,
          runtime_fraction: { default_value: { numerator: 300_000, denominator: 'MILLION' } },
        },
      ],
      JSON.stringify(route),
    );
  }
});

test('redirect.derivePort: FROM_REQUEST_PORT is the route config port, FROM_PROTOCOL_DEFAULT leaves it to the scheme', () => {
  const redirectOf = (redirect: NonNullable<HTTPRoute['redirect']>): unknown => only({ redirect }).redirect;
  assert.deepEqual(redirectOf({ uri: '/x', derivePort: 'FROM_REQUEST_PORT' }), {
    path_redirect: '/x',
    port_redirect: 9080,
  });
  assert.deepEqual(redirectOf({ uri: '/x', scheme: 'https', derivePort: 'FROM_REQUEST_PORT' }), {
    path_redirect: '/x',
    scheme_redirect: 'https',
    port_redirect: 9080,
  });
  assert.deepEqual(redirectOf({ uri: '/x', scheme: 'https', derivePort: 'FROM_PROTOCOL_DEFAULT' }), {
    path_redirect: '/x',
    scheme_redirect: 'https',
  });
  assert.deepEqual(redirectOf({ uri: '/x', port: 8443 }), { path_redirect: '/x', port_redirect: 8443 });
});
