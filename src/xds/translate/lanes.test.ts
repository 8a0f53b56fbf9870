import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GatewaySpec } from '../../api/networking/types.js';
import type { Resource } from '../../api/resource.js';
import { TYPE, unpackAny, type AnyMessage, type ResourceTypeUrl } from '../../protocol/protos.js';
import { LANE_FILTER_NAME, LANE_FILTER_TYPE_URL } from '../../protocol/trellis/lanes-filter.js';
import type { ProxyNode } from '../proxy-node.js';
import { buildPushContext, generate } from './index.js';
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
