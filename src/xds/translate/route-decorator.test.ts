/**
 * Route decorators as Istio writes them (route.go GetRouteOperation, telemetry.TraceOperation),
 * so a tracing proxy's spans are named after what they call: `HOST:PORT` of the route's one
 * cluster, else `VIRTUALSERVICE:PORT`, then the path the route matches. Sidecar routes (written
 * and default), gateway routes (the gateway's port), delegates (the root's name).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HTTPRoute } from '../../api/networking/types.js';
import { TYPE } from '../../protocol/protos.js';
import type { Route } from '../../protocol/envoy-types.js';
import type { ProxyNode } from '../proxy-node.js';
import { buildPushContext, generate } from './index.js';
import { routeOperation, withDecorator } from './route-decorator.js';
import { checkEncodes, config, http, proxy, registry, res, service, type Loose } from './testkit.js';

const REVIEWS = 'reviews.default.svc.cluster.local';
const RATINGS = 'ratings.default.svc.cluster.local';
const SERVICES = registry([service(REVIEWS, [http(9080)]), service(RATINGS, [http(9080)])]);

/** `route name or match -> operation` for every route of `domain` in the proxy's RDS. */
function operations(resources: ReturnType<typeof res>[], node: ProxyNode, domain: string): string[] {
  const push = buildPushContext(config(resources), SERVICES);
  const rds = generate(push, node, TYPE.route) as Map<string, Loose>;
  checkEncodes(TYPE.route, rds);
  const out: string[] = [];
  for (const rc of rds.values())
    for (const vh of (rc.virtual_hosts ?? []) as Loose[])
      if ((vh.domains as string[]).includes(domain))
        for (const r of (vh.routes ?? []) as Loose[]) out.push(String(r.decorator?.operation));
  return out;
}

const vs = (name: string, http: HTTPRoute[], extra: Record<string, unknown> = {}) =>
  res('VirtualService', 'default', name, { hosts: ['reviews'], http, ...extra });
const to = (host: string, subset?: string) => ({ destination: { host, ...(subset ? { subset } : {}) } });

test('sidecar routes: host:port of the one cluster, else the VirtualService name, then the matched path', () => {
  const rows: [string, HTTPRoute, string[]][] = [
    ['no match, one destination', { route: [to('reviews')] }, [`${REVIEWS}:9080/*`]],
    ['a subset keeps the host', { route: [to('reviews', 'v2')] }, [`${REVIEWS}:9080/*`]],
    ['another host', { route: [to('ratings')] }, [`${RATINGS}:9080/*`]],
    ['prefix', { match: [{ uri: { prefix: '/api' } }], route: [to('reviews')] }, [`${REVIEWS}:9080/api*`]],
    ['exact', { match: [{ uri: { exact: '/health' } }], route: [to('reviews')] }, [`${REVIEWS}:9080/health`]],
    [
      'regex',
      { match: [{ uri: { regex: '/r/[0-9]+' } }], route: [to('reviews')] },
      [`${REVIEWS}:9080/r/[0-9]+`],
    ],
    [
      'headers only: every path',
      { match: [{ headers: { a: { exact: 'b' } } }], route: [to('reviews')] },
      [`${REVIEWS}:9080/*`],
    ],
    [
      'one Envoy route per match',
      { match: [{ uri: { prefix: '/a' } }, { uri: { exact: '/b' } }], route: [to('ratings')] },
      [`${RATINGS}:9080/a*`, `${RATINGS}:9080/b`],
    ],
    [
      'weighted destinations: the VirtualService',
      {
        route: [
          { ...to('reviews', 'v1'), weight: 90 },
          { ...to('reviews', 'v3'), weight: 10 },
        ],
      },
      ['vs-reviews:9080/*'],
    ],
    [
      'a redirect',
      { match: [{ uri: { prefix: '/old' } }], redirect: { uri: '/new' } },
      ['vs-reviews:9080/old*'],
    ],
    ['a direct response', { directResponse: { status: 204 } }, ['vs-reviews:9080/*']],
  ];
  for (const [what, route, expected] of rows) {
    assert.deepEqual(operations([vs('vs-reviews', [route])], proxy(), 'reviews:9080'), expected, what);
  }
});

test('a service without a VirtualService: its default route is named HOST:PORT/*', () => {
  assert.deepEqual(operations([], proxy(), 'ratings:9080'), [`${RATINGS}:9080/*`]);
});

test('delegated routes take the root VirtualService name', () => {
  const root = vs('root', [
    { match: [{ uri: { prefix: '/r' } }], delegate: { name: 'leaf', namespace: 'default' } },
  ]);
  const leaf = res('VirtualService', 'default', 'leaf', {
    http: [
      {
        match: [{ uri: { prefix: '/r/x' } }],
        route: [
          { ...to('reviews', 'v1'), weight: 50 },
          { ...to('reviews', 'v2'), weight: 50 },
        ],
      },
    ],
  });
  assert.deepEqual(operations([root, leaf], proxy(), 'reviews:9080'), ['root:9080/r/x*']);
});

test("gateway routes: the gateway's port where no single cluster names the route", () => {
  const gw = res('Gateway', 'default', 'web', {
    selector: { istio: 'ingressgateway' },
    servers: [{ port: { number: 8080, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }],
  });
  const front = res('VirtualService', 'default', 'front', {
    hosts: ['*'],
    gateways: ['web'],
    http: [
      { match: [{ uri: { exact: '/productpage' } }, { uri: { prefix: '/static' } }], route: [to('reviews')] },
      {
        match: [{ uri: { prefix: '/split' } }],
        route: [
          { ...to('reviews', 'v1'), weight: 50 },
          { ...to('ratings'), weight: 50 },
        ],
      },
    ],
  });
  const node = proxy({ type: 'router', labels: { istio: 'ingressgateway' } });
  assert.deepEqual(operations([gw, front], node, '*'), [
    `${REVIEWS}:9080/productpage`,
    `${REVIEWS}:9080/static*`,
    'front:8080/split*',
  ]);
});

test('routeOperation over odd routes: no cluster and no VirtualService is no name; a non-mesh cluster name', () => {
  const r = (route: Route) => routeOperation(route, undefined, 80);
  assert.equal(r({ match: { prefix: '/' }, direct_response: { status: 200 } }), undefined);
  assert.equal(r({ match: { prefix: '/' }, route: { cluster: 'PassthroughCluster' } }), undefined);
  assert.equal(routeOperation({ route: { cluster: 'PassthroughCluster' } }, 'vs', 80), 'vs:80/*');
  assert.equal(r({ match: { path: '/x' }, route: { cluster: 'outbound|80|v1|a.b' } }), 'a.b:80/x');
  // A match on something other than prefix, path or regex: every path.
  assert.equal(
    r({ match: { path_separated_prefix: '/a' }, route: { cluster: 'outbound|80||a.b' } }),
    'a.b:80/*',
  );
  // Nothing to name: the route is left as it was, without an empty decorator.
  const direct: Route = { match: { prefix: '/' }, direct_response: { status: 200 } };
  assert.deepEqual(withDecorator(direct, undefined, 80), direct);
  assert.equal('decorator' in withDecorator(direct, undefined, 80), false);
});
