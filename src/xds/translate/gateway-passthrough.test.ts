// Gateway TLS PASSTHROUGH and TCP servers: filter chains from the tls:/tcp: routes bound to them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Resource } from '../../api/resource.js';
import { TYPE, unpackAny, type AnyMessage } from '../../protocol/protos.js';
import { affectedTypes, buildPushContext, generate } from './index.js';
import { checkEncodes, config, proxy, registry, res, service, type Loose } from './testkit.js';

const ROUTER = proxy({ type: 'router', namespace: 'istio-system', labels: { istio: 'ingressgateway' } });
const tlsPort = (n: number) => ({ name: 'tls', number: n, protocol: 'TLS' as const });
const SERVICES = [
  service('a.example.com', [tlsPort(443)], { namespace: 'default' }),
  service('b.example.com', [tlsPort(443)], { namespace: 'default' }),
  service('web.default.svc.cluster.local', [{ name: 'http', number: 80, protocol: 'HTTP' }]),
];

function gateway(servers: object[], name = 'edge'): Resource {
  return res('Gateway', 'istio-system', name, { selector: { istio: 'ingressgateway' }, servers });
}
const passthrough = (hosts: string[], port = 443) => ({
  port: { number: port, name: 'tls', protocol: 'TLS' },
  hosts,
  tls: { mode: 'PASSTHROUGH' },
});
function sniRoutes(
  name: string,
  routes: { sni: string[]; host: string; port?: number; gateways?: string[] }[],
) {
  return res('VirtualService', 'default', name, {
    hosts: ['*.example.com'],
    gateways: ['istio-system/edge'],
    tls: routes.map((r) => ({
      match: [
        {
          sniHosts: r.sni,
          ...(r.port ? { port: r.port } : {}),
          ...(r.gateways ? { gateways: r.gateways } : {}),
        },
      ],
      route: [{ destination: { host: r.host } }],
    })),
  });
}

function listeners(resources: Resource[]): Map<string, Loose> {
  const push = buildPushContext(config(resources), registry(SERVICES));
  const out = generate(push, ROUTER, TYPE.listener);
  checkEncodes(TYPE.listener, out);
  return out as Map<string, Loose>;
}

/** Each chain's SNI names and the cluster its tcp_proxy sends to. */
function chains(l: Loose): [string[] | undefined, string][] {
  return (l.filter_chains as Loose[]).map((c: Loose) => {
    const tcp = unpackAny<Loose>(c.filters[0].typed_config as AnyMessage);
    return [
      c.filter_chain_match?.server_names as string[] | undefined,
      String(tcp.cluster ?? tcp.stat_prefix),
    ];
  });
}

test('PASSTHROUGH servers get a chain per tls: route, by SNI, to the destination cluster; with the TLS inspector', () => {
  const out = listeners([
    gateway([passthrough(['*.example.com'])]),
    sniRoutes('vs', [
      { sni: ['a.example.com'], host: 'a.example.com' },
      { sni: ['b.example.com'], host: 'b.example.com' },
    ]),
  ]);
  const l = out.get('0.0.0.0_443');
  assert.deepEqual(chains(l), [
    [['a.example.com'], 'outbound|443||a.example.com'],
    [['b.example.com'], 'outbound|443||b.example.com'],
  ]);
  assert.equal(l.filter_chains[0].filter_chain_match.transport_protocol, 'tls');
  assert.equal(l.filter_chains[0].transport_socket, undefined, 'the gateway does not terminate');
  assert.equal(l.listener_filters[0].name, 'envoy.filters.listener.tls_inspector');
});

test('SNI names are narrowed to the server hosts; the first route claiming a name keeps it', () => {
  const rows: {
    server: string[];
    routes: { sni: string[]; host: string }[];
    want: [string[] | undefined, string][];
  }[] = [
    // A wildcard route on a server for one name serves that name only.
    {
      server: ['a.example.com'],
      routes: [{ sni: ['*.example.com'], host: 'a.example.com' }],
      want: [[['a.example.com'], 'outbound|443||a.example.com']],
    },
    // A name outside the server's hosts gets no chain.
    { server: ['a.example.com'], routes: [{ sni: ['b.example.com'], host: 'b.example.com' }], want: [] },
    // Overlap: the older route keeps a.example.com (Envoy refuses overlapping chains).
    {
      server: ['*.example.com'],
      routes: [
        { sni: ['a.example.com'], host: 'a.example.com' },
        { sni: ['a.example.com', 'b.example.com'], host: 'b.example.com' },
      ],
      want: [
        [['a.example.com'], 'outbound|443||a.example.com'],
        [['b.example.com'], 'outbound|443||b.example.com'],
      ],
    },
  ];
  for (const row of rows) {
    const out = listeners([gateway([passthrough(row.server)]), sniRoutes('vs', row.routes)]);
    const l = out.get('0.0.0.0_443');
    assert.deepEqual(l === undefined ? [] : chains(l), row.want, JSON.stringify(row));
  }
});

test('routes bound elsewhere, or matching another port, make no chain; no chain means no listener', () => {
  const other = sniRoutes('vs', [
    { sni: ['a.example.com'], host: 'a.example.com', gateways: ['istio-system/other'] },
  ]);
  assert.equal(listeners([gateway([passthrough(['*'])]), other]).has('0.0.0.0_443'), false);
  const wrongPort = sniRoutes('vs', [{ sni: ['a.example.com'], host: 'a.example.com', port: 8443 }]);
  assert.equal(listeners([gateway([passthrough(['*'])]), wrongPort]).has('0.0.0.0_443'), false);
  assert.equal(listeners([gateway([passthrough(['*'])])]).has('0.0.0.0_443'), false);
});

test('a terminating server and a passthrough server share a port; the terminating one keeps its names', () => {
  const out = listeners([
    gateway([
      {
        port: { number: 443, name: 'https', protocol: 'HTTPS' },
        hosts: ['shop.example.com'],
        tls: { mode: 'SIMPLE', credentialName: 'shop-cert' },
      },
      passthrough(['*.example.com']),
    ]),
    sniRoutes('vs', [
      { sni: ['shop.example.com'], host: 'a.example.com' },
      { sni: ['b.example.com'], host: 'b.example.com' },
    ]),
  ]);
  const l = out.get('0.0.0.0_443');
  const names = (l.filter_chains as Loose[]).map((c: Loose) => c.filter_chain_match?.server_names as unknown);
  assert.deepEqual(names, [['shop.example.com'], ['b.example.com']]);
  assert.ok(l.filter_chains[0].transport_socket, 'shop.example.com is terminated');
  assert.equal(l.filter_chains[1].transport_socket, undefined);
});

test('a tcp: route at a TCP server: one chain, weighted destinations as weighted_clusters', () => {
  const out = listeners([
    gateway([{ port: { number: 5432, name: 'tcp', protocol: 'TCP' }, hosts: ['*'] }]),
    res('VirtualService', 'default', 'db', {
      hosts: ['*'],
      gateways: ['istio-system/edge'],
      tcp: [
        {
          route: [
            { destination: { host: 'a.example.com' }, weight: 80 },
            { destination: { host: 'b.example.com' }, weight: 20 },
          ],
        },
        { route: [{ destination: { host: 'b.example.com' } }] },
      ],
    }),
  ]);
  const l = out.get('0.0.0.0_5432');
  assert.equal(l.filter_chains.length, 1);
  const tcp = unpackAny<Loose>(l.filter_chains[0].filters[0].typed_config as AnyMessage);
  assert.deepEqual(tcp.weighted_clusters.clusters, [
    { name: 'outbound|443||a.example.com', weight: 80 },
    { name: 'outbound|443||b.example.com', weight: 20 },
  ]);
  assert.equal(l.listener_filters, undefined);
});

test("a change to a bound VirtualService's tls: routes reaches the gateway's LDS", () => {
  const gw = gateway([passthrough(['*.example.com'])]);
  const before = buildPushContext(
    config([gw, sniRoutes('vs', [{ sni: ['a.example.com'], host: 'a.example.com' }])]),
    registry(SERVICES),
  );
  const after = buildPushContext(
    config([gw, sniRoutes('vs', [{ sni: ['a.example.com'], host: 'b.example.com' }])], 2),
    registry(SERVICES),
    {},
    before,
  );
  assert.ok(affectedTypes(before, after, ROUTER).has(TYPE.listener));
});
