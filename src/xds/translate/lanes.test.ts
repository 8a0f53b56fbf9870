import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GatewaySpec } from '../../api/networking/types.js';
import type { Resource } from '../../api/resource.js';
import { TYPE, unpackAny, type AnyMessage, type ResourceTypeUrl } from '../../protocol/protos.js';
import { LANE_FILTER_NAME, LANE_FILTER_TYPE_URL } from '../../protocol/trellis/lanes-filter.js';
import type { ProxyNode } from '../proxy-node.js';
import { buildPushContext, generate } from './index.js';
import { laneFilters as buildLaneFilters, lanePlan, runsLaneFilter, withLaneHeaders } from './lanes.js';
import type { RouteConfiguration } from '../../protocol/envoy-types.js';
import {
  checkEncodes,
  config,
  endpoint,
  grpc,
  grpcClientErrors,
  http,
  proxy,
  registry,
  res,
  service,
  type Loose,
} from './testkit.js';

const REVIEWS = 'reviews.default.svc.cluster.local';
const ECHO = 'echo.default.svc.cluster.local';
const TRELLIS = { TRELLIS_FILTERS: 'lanes' };

function gen(p: Partial<ProxyNode>, type: ResourceTypeUrl, resources: Resource[] = []): Map<string, Loose> {
  const push = buildPushContext(
    config(resources),
    registry(
      [service(REVIEWS, [http(9080)]), service(ECHO, [grpc(50051)])],
      [endpoint(REVIEWS, '10.0.0.1', { ports: { 'http-9080': 8080 } })],
    ),
  );
  const out = generate(push, proxy(p), type);
  checkEncodes(type, out);
  return out as Map<string, Loose>;
}

/** The lane filter config of each HTTP connection manager, by listener name. */
function laneFilters(listeners: Map<string, Loose>): Map<string, Loose[]> {
  const out = new Map<string, Loose[]>();
  for (const [name, l] of listeners) {
    for (const chain of l.filter_chains ?? []) {
      for (const f of chain.filters) {
        if (f.name !== 'envoy.filters.network.http_connection_manager') continue;
        const hcm: Loose = unpackAny<Loose>(f.typed_config as AnyMessage);
        const lanes = (hcm.http_filters as Loose[]).filter((h) => h.name === LANE_FILTER_NAME);
        for (const h of lanes) {
          const ts: Loose = unpackAny<Loose>(h.typed_config as AnyMessage);
          assert.equal(ts.type_url, LANE_FILTER_TYPE_URL);
          const fields = Object.fromEntries(
            Object.entries(ts.value.fields as Record<string, Loose>).map(([k, v]) => [
              k,
              v.stringValue ?? v.boolValue,
            ]),
          );
          out.set(name, [...(out.get(name) ?? []), fields]);
        }
      }
    }
  }
  return out;
}

const LANE_ROUTES: Resource[] = [
  res('DestinationRule', 'default', 'reviews', {
    host: REVIEWS,
    subsets: [
      { name: 'v1', labels: { version: 'v1' } },
      { name: 'box-x', labels: { branch: 'box-x' } },
    ],
  }),
  res('VirtualService', 'default', 'reviews', {
    hosts: [REVIEWS],
    http: [
      {
        match: [{ headers: { 'x-trellis-lane': { exact: 'box-x' } } }],
        route: [{ destination: { host: REVIEWS, subset: 'box-x' } }],
      },
      { route: [{ destination: { host: REVIEWS, subset: 'v1' } }] },
    ],
  }),
];

test('a Trellis sidecar gets the lane filter inbound and outbound; in a branch, with its own lane', () => {
  const plain = laneFilters(gen({ metadata: TRELLIS }, TYPE.listener));
  assert.deepEqual(plain.get('0.0.0.0_9080'), [{ direction: 'OUTBOUND' }]);
  assert.deepEqual(plain.get('virtualOutbound'), [{ direction: 'OUTBOUND' }]);
  // One per filter chain of the inbound listener (mTLS and plaintext).
  const inbound = plain.get('inbound|9080||') ?? [];
  assert.ok(inbound.length > 0);
  assert.ok(inbound.every((f) => JSON.stringify(f) === '{"direction":"INBOUND"}'));
  const boxed = laneFilters(
    gen({ metadata: TRELLIS, labels: { app: 'app', branch: 'box-x' } }, TYPE.listener),
  );
  assert.deepEqual(boxed.get('0.0.0.0_9080'), [{ direction: 'OUTBOUND', own_lane: 'box-x' }]);
  assert.deepEqual(boxed.get('inbound|9080||'), inbound);
  // master is production: no own lane.
  const master = laneFilters(
    gen({ metadata: TRELLIS, labels: { app: 'app', branch: 'master' } }, TYPE.listener),
  );
  assert.deepEqual(master.get('0.0.0.0_9080'), [{ direction: 'OUTBOUND' }]);
});

test('Envoy (no TRELLIS_FILTERS) never gets the filter; in a branch its outbound routes add the lane if absent', () => {
  assert.equal(laneFilters(gen({ labels: { app: 'app', branch: 'box-x' } }, TYPE.listener)).size, 0);
  const routes = gen({ labels: { app: 'app', branch: 'box-x' } }, TYPE.route);
  assert.deepEqual(routes.get('9080')?.request_headers_to_add, [
    { header: { key: 'x-trellis-lane', value: 'box-x' }, append_action: 'ADD_IF_ABSENT' },
  ]);
  assert.equal(gen({}, TYPE.route).get('9080')?.request_headers_to_add, undefined);
  // Envoy routes before adding the header: the own lane's route has a twin for lane-less requests.
  const boxRoutes = (rs: Map<string, Loose>): Loose[] => {
    const vhs: Loose[] = rs.get('9080')?.virtual_hosts ?? [];
    const routes: Loose[] = vhs.find((vh) => vh.domains.includes(REVIEWS))?.routes ?? [];
    return routes;
  };
  const withLane = gen({ labels: { app: 'app', branch: 'box-x' } }, TYPE.route, LANE_ROUTES);
  assert.deepEqual(
    boxRoutes(withLane).map((r): unknown[] => [r.match.headers ?? [], r.route.cluster]),
    [
      [[{ name: 'x-trellis-lane', string_match: { exact: 'box-x' } }], `outbound|9080|box-x|${REVIEWS}`],
      [
        [{ name: 'x-trellis-lane', present_match: true, invert_match: true }],
        `outbound|9080|box-x|${REVIEWS}`,
      ],
      [[], `outbound|9080|v1|${REVIEWS}`],
    ],
  );
  // Other lanes' routes and production callers are left as written.
  const other = gen({ labels: { app: 'app', branch: 'box-y' } }, TYPE.route, LANE_ROUTES);
  assert.equal(boxRoutes(other).length, 2);
  assert.equal(boxRoutes(gen({}, TYPE.route, LANE_ROUTES)).length, 2);
  // A Trellis proxy does it in the filter, before routing: not in its route configuration.
  const trellis = gen({ metadata: TRELLIS, labels: { app: 'app', branch: 'box-x' } }, TYPE.route);
  assert.equal(trellis.get('9080')?.request_headers_to_add, undefined);
});

test('proxyless gRPC gets neither the filter nor header changes (it would NACK them)', () => {
  const p: Partial<ProxyNode> = {
    type: 'grpc',
    id: 'grpc~10.0.0.1~app.default~default.svc.cluster.local',
    metadata: { GENERATOR: 'grpc', ...TRELLIS },
    labels: { app: 'app', branch: 'box-x' },
  };
  const listeners = gen(p, TYPE.listener);
  assert.equal(laneFilters(listeners).size, 0);
  const routes = gen(p, TYPE.route);
  for (const rc of routes.values()) assert.equal(rc.request_headers_to_add, undefined);
  assert.deepEqual(grpcClientErrors(TYPE.route, routes), []);
  assert.deepEqual(grpcClientErrors(TYPE.listener, listeners), []);
});

function gateway(annotations?: Record<string, string>): Resource<GatewaySpec> {
  const g = res<GatewaySpec>('Gateway', 'default', 'gw', {
    selector: { istio: 'ingressgateway' },
    servers: [{ port: { number: 8080, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }],
  });
  if (annotations) g.metadata.annotations = annotations;
  return g;
}

const GATEWAY_PROXY: Partial<ProxyNode> = {
  type: 'router',
  id: 'router~10.0.0.1~gw.default~default.svc.cluster.local',
  labels: { istio: 'ingressgateway' },
};

test('gateways strip lanes from outside unless every Gateway they serve accepts them', () => {
  const strict = laneFilters(gen({ ...GATEWAY_PROXY, metadata: TRELLIS }, TYPE.listener, [gateway()]));
  assert.deepEqual(strict.get('0.0.0.0_8080'), [{ direction: 'GATEWAY' }]);
  const open = laneFilters(
    gen({ ...GATEWAY_PROXY, metadata: TRELLIS }, TYPE.listener, [
      gateway({ 'trellis.io/accept-lanes': 'true' }),
    ]),
  );
  assert.deepEqual(open.get('0.0.0.0_8080'), [{ direction: 'GATEWAY', accept_external: true }]);
  const other = res<GatewaySpec>('Gateway', 'default', 'gw2', {
    selector: { istio: 'ingressgateway' },
    servers: [{ port: { number: 8081, name: 'http2', protocol: 'HTTP' }, hosts: ['*'] }],
  });
  const mixed = laneFilters(
    gen({ ...GATEWAY_PROXY, metadata: TRELLIS }, TYPE.listener, [
      gateway({ 'trellis.io/accept-lanes': 'true' }),
      other,
    ]),
  );
  assert.deepEqual(mixed.get('0.0.0.0_8080'), [{ direction: 'GATEWAY' }]);
  // An Envoy gateway drops the header from what it forwards (its route configuration).
  const envoy = gen(GATEWAY_PROXY, TYPE.route, [gateway()]);
  assert.deepEqual(envoy.get('http.8080')?.request_headers_to_remove, ['x-trellis-lane']);
  const envoyOpen = gen(GATEWAY_PROXY, TYPE.route, [gateway({ 'trellis.io/accept-lanes': 'true' })]);
  assert.equal(envoyOpen.get('http.8080')?.request_headers_to_remove, undefined);
});

test('runsLaneFilter reads the capability list the proxy sent', () => {
  const cases: [unknown, boolean][] = [
    ['lanes', true],
    ['other, lanes', true],
    ['lanes,other', true],
    ['other', false],
    ['lanesx', false],
    ['', false],
    [['lanes'], false],
    [undefined, false],
  ];
  for (const [value, want] of cases)
    assert.equal(
      runsLaneFilter(proxy({ metadata: { TRELLIS_FILTERS: value } })),
      want,
      JSON.stringify(value),
    );
});

test('lanePlan: own lane for sidecars in a branch only, acceptance for gateways only, keyed', () => {
  const push = buildPushContext(config([gateway({ 'trellis.io/accept-lanes': 'true' })]), registry([]));
  const plan = (p: Partial<ProxyNode>) => lanePlan(push, proxy(p));
  const cases: [Partial<ProxyNode>, Omit<ReturnType<typeof plan>, 'key'>][] = [
    [{ metadata: TRELLIS }, { filter: true, acceptExternal: false }],
    [{}, { filter: false, acceptExternal: false }],
    [
      { metadata: TRELLIS, labels: { branch: 'box-x' } },
      { filter: true, ownLane: 'box-x', acceptExternal: false },
    ],
    [{ labels: { branch: 'box-x' } }, { filter: false, ownLane: 'box-x', acceptExternal: false }],
    [
      { metadata: TRELLIS, labels: { branch: 'master' } },
      { filter: true, acceptExternal: false },
    ],
    [
      { metadata: TRELLIS, labels: { branch: 'a b' } },
      { filter: true, acceptExternal: false },
    ],
    [
      { ...GATEWAY_PROXY, metadata: TRELLIS },
      { filter: true, acceptExternal: true },
    ],
    [
      { ...GATEWAY_PROXY, labels: { istio: 'ingressgateway', branch: 'box-x' } },
      { filter: false, acceptExternal: true },
    ],
    // Only gateways accept: not a sidecar that happens to carry a Gateway's selector labels.
    [
      { metadata: TRELLIS, labels: { istio: 'ingressgateway' } },
      { filter: true, acceptExternal: false },
    ],
    // A gateway no Gateway selects accepts nothing.
    [
      { ...GATEWAY_PROXY, labels: { istio: 'other' } },
      { filter: false, acceptExternal: false },
    ],
    [
      { type: 'grpc', metadata: TRELLIS, labels: { branch: 'box-x' } },
      { filter: false, acceptExternal: false },
    ],
  ];
  const keys = new Set<string>();
  for (const [p, want] of cases) {
    const { key, ...got } = plan(p);
    assert.deepEqual(got, want, JSON.stringify(p));
    keys.add(key);
  }
  // Every distinct plan has its own key (generator caches must not mix them).
  assert.equal(keys.size, new Set(cases.map(([, w]) => JSON.stringify(w))).size);
});

test('laneFilters writes only the fields of its direction', () => {
  const plan = { filter: true, ownLane: 'box-x', acceptExternal: true, key: '' };
  const fields = (d: 'INBOUND' | 'OUTBOUND' | 'GATEWAY') => {
    const [f] = buildLaneFilters(plan, d);
    const ts: Loose = unpackAny<Loose>(f!.typed_config as AnyMessage);
    return Object.keys(ts.value.fields as object).sort();
  };
  assert.deepEqual(fields('INBOUND'), ['direction']);
  assert.deepEqual(fields('OUTBOUND'), ['direction', 'own_lane']);
  assert.deepEqual(fields('GATEWAY'), ['accept_external', 'direction']);
  assert.deepEqual(buildLaneFilters({ ...plan, filter: false }, 'OUTBOUND'), []);
});

test('withLaneHeaders twins only routes matching exactly the own lane, and keeps what was there', () => {
  const plan = { filter: false, ownLane: 'box-x', acceptExternal: false, key: '' };
  const lane = (m: Record<string, unknown>): Record<string, unknown> => ({ name: 'x-trellis-lane', ...m });
  const route = (name: string | undefined, headers?: Record<string, unknown>[]) => ({
    ...(name === undefined ? {} : { name }),
    match: { prefix: '/', ...(headers ? { headers } : {}) },
    route: { cluster: name ?? 'c' },
  });
  const rc = {
    name: '9080',
    request_headers_to_add: [{ header: { key: 'a', value: '1' } }],
    virtual_hosts: [
      {
        name: 'vh',
        domains: ['*'],
        routes: [
          route('own', [
            { name: 'end-user', string_match: { exact: 'j' } },
            lane({ string_match: { exact: 'box-x' } }),
          ]),
          route(undefined, [lane({ string_match: { exact: 'box-x' } })]),
          route('other-lane', [lane({ string_match: { exact: 'box-y' } })]),
          route('inverted', [lane({ string_match: { exact: 'box-x' }, invert_match: true })]),
          route('prefix', [lane({ string_match: { prefix: 'box-x' } })]),
          route('other-header', [{ name: 'x-other', string_match: { exact: 'box-x' } }]),
          route('present', [lane({ present_match: true })]),
          { name: 'nomatch', route: { cluster: 'c' } },
          route('plain'),
        ],
      },
    ],
  };
  const out: Loose = withLaneHeaders(rc, plan, false);
  const routes: Loose[] = out.virtual_hosts[0].routes;
  const names = routes.map((r): string => String(r.name ?? '(unnamed)'));
  assert.deepEqual(names, [
    'own',
    'own-own-lane',
    '(unnamed)',
    '(unnamed)',
    'other-lane',
    'inverted',
    'prefix',
    'other-header',
    'present',
    'nomatch',
    'plain',
  ]);
  assert.deepEqual(out.virtual_hosts[0].routes[1].match.headers, [
    { name: 'end-user', string_match: { exact: 'j' } },
    { name: 'x-trellis-lane', present_match: true, invert_match: true },
  ]);
  assert.deepEqual(out.request_headers_to_add, [
    { header: { key: 'a', value: '1' } },
    { header: { key: 'x-trellis-lane', value: 'box-x' }, append_action: 'ADD_IF_ABSENT' },
  ]);
  // A production Envoy sidecar's routes and a Trellis proxy's are left alone.
  assert.equal(withLaneHeaders(rc as RouteConfiguration, { ...plan, ownLane: undefined }, false), rc);
  assert.equal(withLaneHeaders(rc as RouteConfiguration, { ...plan, filter: true }, false), rc);
  // Gateways: the header removed after what was there, unless accepted.
  const gw = { ...rc, request_headers_to_remove: ['x-a'] } as RouteConfiguration;
  assert.deepEqual(withLaneHeaders(gw, plan, true).request_headers_to_remove, ['x-a', 'x-trellis-lane']);
  assert.equal(withLaneHeaders(gw, { ...plan, acceptExternal: true }, true), gw);
});
