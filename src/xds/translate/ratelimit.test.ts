import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Resource } from '../../api/resource.js';
import type { RateLimitSpec } from '../../api/trellis/types.js';
import { compileRateLimits } from '../../controllers/ratelimit/compile.js';
import {
  RESOURCE_TYPES,
  SHORT_TYPE,
  TYPE,
  unpackAny,
  type AnyMessage,
  type ResourceTypeUrl,
} from '../../protocol/protos.js';
import type { ProxyNode } from '../proxy-node.js';
import { affectedTypes, buildPushContext, generate, type PushContext } from './index.js';
import { narrowMatch } from './ratelimit-envoy.js';
import {
  checkEncodes,
  config,
  endpoint,
  grpcClientErrors,
  http,
  proxy,
  registry,
  res,
  service,
  type Loose,
} from './testkit.js';

const PAGE = 'page.shop.svc.cluster.local';
const WEB = 'web.shop.svc.cluster.local';
const SERVICES = [service(PAGE, [http(80)]), service(WEB, [http(8080)])];
const ENDPOINTS = [
  endpoint(PAGE, '10.0.0.5', { labels: { app: 'page' } }),
  endpoint(WEB, '10.0.0.6', { labels: { app: 'web' } }),
];

const SERVER: Partial<ProxyNode> = { ipAddresses: ['10.0.0.5'], namespace: 'shop', labels: { app: 'page' } };
const CALLER: Partial<ProxyNode> = { ipAddresses: ['10.0.0.6'], namespace: 'shop', labels: { app: 'web' } };
const OTHER: Partial<ProxyNode> = { ipAddresses: ['10.0.0.7'], namespace: 'shop', labels: { app: 'other' } };

function rateLimit(name: string, spec: RateLimitSpec): Resource<RateLimitSpec> {
  return { ...res('RateLimit', 'shop', name, spec), apiVersion: 'trellis.io/v1alpha1' };
}

function pushOf(resources: readonly Resource[], revision = 1): PushContext {
  return buildPushContext(config(resources, revision), registry(SERVICES, ENDPOINTS));
}

/** Every type for the proxy, each checked to encode with no unknown fields. */
function all(push: PushContext, p: Partial<ProxyNode>): Record<'LDS' | 'RDS' | 'CDS', Map<string, Loose>> {
  const out: Record<string, Map<string, Loose>> = {};
  for (const type of RESOURCE_TYPES) {
    const resources = generate(push, proxy(p), type);
    checkEncodes(type, resources);
    out[SHORT_TYPE[type]] = resources as Map<string, Loose>;
  }
  return out as Record<'LDS' | 'RDS' | 'CDS', Map<string, Loose>>;
}

/**
 * Decoding with `oneofs: true` adds a field naming the set member of each oneof
 * (`path_specifier: 'path'`); tests compare against what the generator wrote, without them.
 */
function dropOneofs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropOneofs);
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  const o = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (typeof v === 'string' && v !== k && v in o) continue;
    out[k] = dropOneofs(v);
  }
  return out;
}

const unpack = (any: unknown): Loose => dropOneofs(unpackAny(any as AnyMessage)) as Loose;
const hcmOf = (listener: Loose): Loose => unpack(listener.filter_chains[0].filters[0].typed_config);
const filterNames = (hcm: Loose): string[] => (hcm.http_filters as Loose[]).map((f: Loose) => String(f.name));

const SHOW: RateLimitSpec = {
  hosts: ['page'],
  limits: [
    {
      name: 'show',
      match: { path: { exact: '/Page.Show' }, method: 'GET' },
      quota: { requests: 800, per: 'second', burst: 1000 },
    },
  ],
};

test('local, server side: the inbound listener gets an inert filter and a dedicated route with the bucket', () => {
  const { LDS } = all(pushOf([rateLimit('page-show', SHOW)]), SERVER);
  const hcm = hcmOf(LDS.get('inbound|80||'));
  assert.deepEqual(filterNames(hcm), [
    'envoy.filters.http.fault',
    'envoy.filters.http.cors',
    'envoy.filters.http.local_ratelimit',
    'envoy.filters.http.router',
  ]);
  assert.deepEqual(unpack(hcm.http_filters[2].typed_config), { stat_prefix: 'http_local_rate_limiter' });
  const [dedicated, original] = hcm.route_config.virtual_hosts[0].routes as Loose[];
  assert.equal(dedicated.name, 'shop.page-show.show|default');
  assert.deepEqual(dedicated.match, {
    path: '/Page.Show',
    headers: [{ name: ':method', string_match: { exact: 'GET' } }],
  });
  assert.deepEqual(dedicated.route, original.route, 'the dedicated route keeps the action');
  assert.deepEqual(unpack(dedicated.typed_per_filter_config['envoy.filters.http.local_ratelimit']), {
    stat_prefix: 'shop.page-show.show',
    status: { code: 'TooManyRequests' },
    token_bucket: { max_tokens: 1000, tokens_per_fill: { value: 800 }, fill_interval: { seconds: 1 } },
    // denominator HUNDRED is the enum's zero value: present in what we send, absent once decoded.
    filter_enabled: { runtime_key: 'local_rate_limit_enabled', default_value: { numerator: 100 } },
    filter_enforced: { runtime_key: 'local_rate_limit_enforced', default_value: { numerator: 100 } },
    enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
  });
  assert.deepEqual(original.match, { prefix: '/' });
  assert.equal(original.typed_per_filter_config, undefined);
});

test('local, server side: only the serving workload changes; callers are untouched', () => {
  const { LDS } = all(pushOf([rateLimit('page-show', SHOW)]), CALLER);
  for (const l of LDS.values()) {
    if (l.filter_chains[0].filters[0].name !== 'envoy.filters.network.http_connection_manager') continue;
    assert.ok(!filterNames(hcmOf(l)).includes('envoy.filters.http.local_ratelimit'), String(l.name));
  }
});

test('local shadow without conditions: one bucket for the whole virtual host, never enforced', () => {
  const spec: RateLimitSpec = {
    hosts: ['page'],
    port: 80,
    shadow: true,
    limits: [{ name: 'all', quota: { requests: 50, per: 'minute' } }],
  };
  const { LDS } = all(pushOf([rateLimit('all', spec)]), SERVER);
  const vh = hcmOf(LDS.get('inbound|80||')).route_config.virtual_hosts[0];
  assert.equal(vh.routes.length, 1);
  const cfg = unpack(vh.typed_per_filter_config['envoy.filters.http.local_ratelimit']);
  assert.deepEqual(cfg.token_bucket, {
    max_tokens: 50,
    tokens_per_fill: { value: 50 },
    fill_interval: { seconds: 60 },
  });
  assert.equal(cfg.filter_enforced.default_value.numerator ?? 0, 0);
  assert.equal(cfg.filter_enabled.default_value.numerator, 100);
});

test('a limit on another port applies nowhere', () => {
  const { LDS } = all(pushOf([rateLimit('page-show', { ...SHOW, port: 81 })]), SERVER);
  assert.ok(!filterNames(hcmOf(LDS.get('inbound|80||'))).includes('envoy.filters.http.local_ratelimit'));
});

const GLOBAL: RateLimitSpec = {
  hosts: ['page.shop.svc.cluster.local'],
  mode: 'global',
  limits: [
    { name: 'show', match: { path: { exact: '/Page.Show' } }, quota: { requests: 800, per: 'second' } },
    { name: 'per-user', quota: { requests: 10, per: 'minute' }, perKey: { header: 'x-user-id' } },
    {
      name: 'by-ip',
      match: { headers: { 'x-tier': { exact: 'free' } } },
      quota: { requests: 5, per: 'hour' },
      perKey: { sourceIp: true },
    },
  ],
};

test('global, server side: ratelimit filter to the service cluster, rate_limits actions on the route, a cluster in CDS', () => {
  const { LDS, CDS } = all(pushOf([rateLimit('page', GLOBAL)]), SERVER);
  const hcm = hcmOf(LDS.get('inbound|80||'));
  assert.deepEqual(filterNames(hcm).slice(2), ['envoy.filters.http.ratelimit', 'envoy.filters.http.router']);
  assert.deepEqual(unpack(hcm.http_filters[2].typed_config), {
    domain: 'trellis',
    timeout: { nanos: 100_000_000 },
    rate_limit_service: {
      grpc_service: { envoy_grpc: { cluster_name: 'outbound|8081||127.0.0.1' } },
      transport_api_version: 'V3',
    },
    enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
  });
  const routes = hcm.route_config.virtual_hosts[0].routes as Loose[];
  assert.equal(routes.length, 1, 'global limits add no routes');
  assert.deepEqual(routes[0].route.rate_limits, [
    {
      actions: [
        { generic_key: { descriptor_value: 'shop.page.show' } },
        {
          header_value_match: {
            descriptor_value: 'matched',
            expect_match: { value: true },
            headers: [{ name: ':path', string_match: { safe_regex: { regex: '/Page\\.Show(\\?.*)?' } } }],
          },
        },
      ],
    },
    {
      actions: [
        { generic_key: { descriptor_value: 'shop.page.per-user' } },
        { request_headers: { header_name: 'x-user-id', descriptor_key: 'x-user-id' } },
      ],
    },
    {
      actions: [
        { generic_key: { descriptor_value: 'shop.page.by-ip' } },
        {
          header_value_match: {
            descriptor_value: 'matched',
            expect_match: { value: true },
            headers: [{ name: 'x-tier', string_match: { exact: 'free' } }],
          },
        },
        { remote_address: {} },
      ],
    },
  ]);
  const rls = CDS.get('outbound|8081||127.0.0.1');
  assert.equal(rls.type, 'STATIC');
  assert.deepEqual(rls.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address, {
    socket_address: { address: '127.0.0.1', port_value: 8081 },
  });
  assert.ok(rls.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']);
  assert.equal(all(pushOf([rateLimit('page', GLOBAL)]), CALLER).CDS.has('outbound|8081||127.0.0.1'), false);
});

test('global failureMode: closed makes the listener filter fail closed, and the change is pushed', () => {
  const open = pushOf([rateLimit('page', GLOBAL)], 1);
  const closed = pushOf([rateLimit('page', { ...GLOBAL, failureMode: 'closed' })], 2);
  const filter = (push: PushContext): Loose =>
    unpack(hcmOf(all(push, SERVER).LDS.get('inbound|80||')).http_filters[2].typed_config);
  assert.equal(filter(open).failure_mode_deny, undefined, 'open is the proto default (false)');
  assert.equal(filter(closed).failure_mode_deny, true);
  assert.ok(affectedTypes(open, closed, proxy(SERVER)).has(TYPE.listener));
});

test('global: the rate limit service address comes from the push context options', () => {
  const push = buildPushContext(config([rateLimit('page', GLOBAL)]), registry(SERVICES, ENDPOINTS), {
    rateLimitService: { host: 'ratelimit.trellis-system.svc.cluster.local', port: 8081 },
  });
  const { CDS, LDS } = all(push, SERVER);
  const cluster = CDS.get('outbound|8081||ratelimit.trellis-system.svc.cluster.local');
  assert.equal(cluster.type, 'STRICT_DNS');
  const filter = unpack(hcmOf(LDS.get('inbound|80||')).http_filters[2].typed_config);
  assert.equal(filter.rate_limit_service.grpc_service.envoy_grpc.cluster_name, cluster.name);
});

const VS = res('VirtualService', 'shop', 'page', {
  hosts: ['page'],
  http: [
    { match: [{ uri: { prefix: '/api/' } }], route: [{ destination: { host: 'page', subset: 'v2' } }] },
    { route: [{ destination: { host: 'page' } }], timeout: '3s' },
  ],
});

const CLIENT_LOCAL: RateLimitSpec = {
  hosts: ['page'],
  side: 'client',
  limits: [
    {
      name: 'show',
      match: { path: { exact: '/Page.Show' }, sourceLabels: { app: 'web' } },
      quota: { requests: 100, per: 'second' },
    },
  ],
};

test('local, client side: the selected callers get dedicated routes narrowing only the routes they overlap', () => {
  const { LDS, RDS } = all(pushOf([VS, rateLimit('callers', CLIENT_LOCAL)]), CALLER);
  assert.ok(filterNames(hcmOf(LDS.get('0.0.0.0_80'))).includes('envoy.filters.http.local_ratelimit'));
  assert.ok(!filterNames(hcmOf(LDS.get('0.0.0.0_8080'))).includes('envoy.filters.http.local_ratelimit'));
  const vh = (RDS.get('80').virtual_hosts as Loose[]).find((v) => v.name === `${PAGE}:80`);
  const routes = vh.routes as Loose[];
  // `/Page.Show` cannot match the `/api/` route: one dedicated copy, of the catch-all.
  assert.equal(routes.length, 3);
  assert.deepEqual(routes[0].match, { path: '/Page.Show' });
  assert.deepEqual(routes[0].route, routes[2].route);
  assert.ok(routes[0].typed_per_filter_config['envoy.filters.http.local_ratelimit']);
  assert.deepEqual(routes[1].match, { prefix: '/api/' });
  assert.equal(routes[1].typed_per_filter_config, undefined);
});

test('local, client side: callers the sourceLabels do not select, and proxyless gRPC, get nothing', () => {
  const push = pushOf([VS, rateLimit('callers', CLIENT_LOCAL)]);
  const plain = pushOf([VS]);
  for (const p of [OTHER, { ...CALLER, type: 'grpc' as const }]) {
    for (const type of [TYPE.listener, TYPE.route, TYPE.cluster] as ResourceTypeUrl[]) {
      assert.deepEqual(
        generate(push, proxy(p), type),
        generate(plain, proxy(p), type),
        `${p.labels?.app} ${type}`,
      );
    }
  }
  const grpcRoutes = generate(push, proxy({ ...CALLER, type: 'grpc' }), TYPE.route);
  assert.deepEqual(grpcClientErrors(TYPE.route, grpcRoutes), []);
});

test('affectedTypes: a RateLimit pushes only to the proxies it applies to, only the types it changes', () => {
  const before = pushOf([VS], 1);
  const names = (s: ReadonlySet<ResourceTypeUrl>) => [...s].map((t) => SHORT_TYPE[t]).sort();
  const local = pushOf([VS, rateLimit('page-show', SHOW)], 2);
  assert.deepEqual(names(affectedTypes(before, local, proxy(SERVER))), ['LDS']);
  assert.deepEqual(names(affectedTypes(before, local, proxy(CALLER))), []);
  const global = pushOf([VS, rateLimit('page', GLOBAL)], 2);
  assert.deepEqual(names(affectedTypes(before, global, proxy(SERVER))), ['CDS', 'LDS']);
  const client = pushOf([VS, rateLimit('callers', CLIENT_LOCAL)], 2);
  assert.deepEqual(names(affectedTypes(before, client, proxy(CALLER))), ['LDS', 'RDS']);
  assert.deepEqual(names(affectedTypes(before, client, proxy(OTHER))), []);
  assert.deepEqual(names(affectedTypes(before, client, proxy({ ...CALLER, type: 'grpc' }))), []);
  // Same content at a new revision: nothing to push.
  assert.deepEqual(
    names(affectedTypes(client, pushOf([VS, rateLimit('callers', CLIENT_LOCAL)], 3), proxy(CALLER))),
    [],
  );
});

// [description, route match, limit path, expected narrowed match or undefined (disjoint)]
const NARROW: [string, Loose, RateLimitSpec['limits'][number]['match'], Loose][] = [
  ['catch-all takes the exact path', { prefix: '/' }, { path: { exact: '/a/b' } }, { path: '/a/b' }],
  ['prefix containing the path', { prefix: '/a/' }, { path: { exact: '/a/b' } }, { path: '/a/b' }],
  ['prefix excluding the path', { prefix: '/x/' }, { path: { exact: '/a/b' } }, undefined],
  ['narrower limit prefix', { prefix: '/a' }, { path: { prefix: '/a/b' } }, { prefix: '/a/b' }],
  ['narrower route prefix', { prefix: '/a/b' }, { path: { prefix: '/a' } }, { prefix: '/a/b' }],
  ['exact route inside the limit prefix', { path: '/a/b' }, { path: { prefix: '/a' } }, { path: '/a/b' }],
  ['exact route outside', { path: '/z' }, { path: { exact: '/a' } }, undefined],
  [
    'regex under the catch-all',
    { prefix: '/' },
    { path: { regex: '/u/[0-9]+' } },
    { safe_regex: { regex: '/u/[0-9]+' } },
  ],
  [
    'regex under a prefix: kept as a :path header beside it',
    { prefix: '/u/' },
    { path: { regex: '/u/[0-9]+' } },
    {
      prefix: '/u/',
      headers: [{ name: ':path', string_match: { safe_regex: { regex: '(?:/u/[0-9]+)(\\?.*)?' } } }],
    },
  ],
  [
    'case-insensitive route: path as a header, route headers kept first',
    { prefix: '/A', case_sensitive: { value: false }, headers: [{ name: 'x', present_match: true }] },
    { path: { prefix: '/a' }, method: 'POST' },
    {
      prefix: '/A',
      case_sensitive: { value: false },
      headers: [
        { name: 'x', present_match: true },
        { name: ':path', string_match: { prefix: '/a' } },
        { name: ':method', string_match: { exact: 'POST' } },
      ],
    },
  ],
];

for (const [name, routeMatch, match, expected] of NARROW) {
  test(`narrowMatch: ${name}`, () => {
    const [limit] = compileRateLimits([
      rateLimit('n', {
        hosts: ['page'],
        limits: [{ name: 'n', match, quota: { requests: 1, per: 'second' } }],
      }),
    ]);
    assert.deepEqual(narrowMatch(routeMatch, (limit as NonNullable<typeof limit>).match), expected);
  });
}
