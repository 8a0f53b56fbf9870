// Istio's outboundTrafficPolicy for HTTP: the catch-all virtual host of every sidecar route
// configuration, and what ALLOW_ANY's allow_any needs (the DNS cluster and its filter).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Resource } from '../../api/resource.js';
import { TYPE, unpackAny, type AnyMessage, type ResourceTypeUrl } from '../../protocol/protos.js';
import type { ProxyNode } from '../proxy-node.js';
import { buildPushContext, generate } from './index.js';
import type { PushContextOptions } from './push-context.js';
import { checkEncodes, config, http, proxy, registry, res, service, type Loose } from './testkit.js';

const REVIEWS = 'reviews.default.svc.cluster.local';
const SERVICES = [service(REVIEWS, [http(9080)])];

function gen(
  typeUrl: ResourceTypeUrl,
  resources: Resource[] = [],
  options: PushContextOptions = {},
  p: Partial<ProxyNode> = {},
): Map<string, Loose> {
  const push = buildPushContext(config(resources), registry(SERVICES), options);
  const out = generate(push, proxy(p), typeUrl);
  checkEncodes(typeUrl, out);
  return out as Map<string, Loose>;
}

const catchAll = (rc: Loose): Loose => rc.virtual_hosts.at(-1);
const registryOnlySidecar = res('Sidecar', 'default', 'default', {
  outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' },
});
const allowAnySidecar = res('Sidecar', 'default', 'default', {
  outboundTrafficPolicy: { mode: 'ALLOW_ANY' },
});

test('ALLOW_ANY (the default): each route configuration ends with allow_any to the DNS passthrough cluster', () => {
  const rc = gen(TYPE.route).get('9080');
  assert.deepEqual(
    rc.virtual_hosts.map((v: Loose) => String(v.name)),
    [`${REVIEWS}:9080`, 'allow_any'],
  );
  const vh = catchAll(rc);
  assert.deepEqual(vh.domains, ['*']);
  assert.equal(vh.routes.length, 1);
  assert.equal(vh.routes[0].name, 'allow_any');
  assert.equal(vh.routes[0].route.cluster, 'PassthroughDnsCluster');
  // No timeout, as Istio's passthrough route: the upstream is not the mesh's to bound.
  assert.equal(Number(vh.routes[0].route.timeout.seconds ?? 0), 0);
});

test('REGISTRY_ONLY answers 502 from block_all, from the mesh config or the Sidecar; the Sidecar wins', () => {
  const rows: { resources: Resource[]; options: PushContextOptions; want: string }[] = [
    { resources: [], options: { outboundTrafficPolicy: 'REGISTRY_ONLY' }, want: 'block_all' },
    { resources: [registryOnlySidecar], options: {}, want: 'block_all' },
    { resources: [allowAnySidecar], options: { outboundTrafficPolicy: 'REGISTRY_ONLY' }, want: 'allow_any' },
    { resources: [registryOnlySidecar], options: { outboundTrafficPolicy: 'ALLOW_ANY' }, want: 'block_all' },
    // A Sidecar without a policy leaves the mesh's.
    {
      resources: [res('Sidecar', 'default', 'default', { egress: [{ hosts: ['*/*'] }] })],
      options: { outboundTrafficPolicy: 'REGISTRY_ONLY' },
      want: 'block_all',
    },
  ];
  for (const row of rows) {
    const vh = catchAll(gen(TYPE.route, row.resources, row.options).get('9080'));
    assert.equal(vh.name, row.want, JSON.stringify(row.options));
    if (row.want === 'block_all') {
      assert.deepEqual(vh.routes[0].direct_response, { status: 502 });
      assert.equal(vh.routes[0].route, undefined);
    }
  }
});

test('REGISTRY_ONLY listeners have no DNS filter and send unmatched TCP to BlackHoleCluster', () => {
  const lds = gen(TYPE.listener, [], { outboundTrafficPolicy: 'REGISTRY_ONLY' });
  const hcm = unpackAny<Loose>(
    lds.get('0.0.0.0_9080').filter_chains[0].filters[0].typed_config as AnyMessage,
  );
  assert.ok(!hcm.http_filters.some((f: Loose) => f.name === 'envoy.filters.http.dynamic_forward_proxy'));
  const vo = unpackAny<Loose>(
    lds.get('virtualOutbound').filter_chains[0].filters[0].typed_config as AnyMessage,
  );
  assert.equal(vo.cluster, 'BlackHoleCluster');
});

test('the DNS passthrough cluster and filter share one DNS cache config, with its bounds written out', () => {
  const cds = gen(TYPE.cluster);
  const c = cds.get('PassthroughDnsCluster');
  assert.equal(c.cluster_type.name, 'envoy.clusters.dynamic_forward_proxy');
  assert.equal(c.lb_policy, 'CLUSTER_PROVIDED');
  const clusterCache = unpackAny<Loose>(c.cluster_type.typed_config as AnyMessage).dns_cache_config;
  const lds = gen(TYPE.listener);
  const hcm = unpackAny<Loose>(
    lds.get('0.0.0.0_9080').filter_chains[0].filters[0].typed_config as AnyMessage,
  );
  const filters = hcm.http_filters.map((f: Loose) => String(f.name));
  // Before the router (Envoy requires it), after the other filters.
  assert.equal(filters.indexOf('envoy.filters.http.dynamic_forward_proxy'), filters.length - 2);
  const filter = hcm.http_filters.find((f: Loose) => f.name === 'envoy.filters.http.dynamic_forward_proxy');
  const filterCache = unpackAny<Loose>(filter.typed_config as AnyMessage).dns_cache_config;
  assert.deepEqual(filterCache, clusterCache);
  assert.equal(clusterCache.name, 'trellis_passthrough');
  assert.equal(clusterCache.dns_cache_circuit_breaker.max_pending_requests.value, 1024);
  assert.equal(clusterCache.max_hosts.value, 1024);
  assert.equal(Number(clusterCache.host_ttl.seconds), 300);
});

test('gateways and proxyless gRPC get no catch-all virtual host and no DNS passthrough', () => {
  const gw = gen(TYPE.cluster, [], {}, { type: 'router', labels: { istio: 'ingressgateway' } });
  assert.equal(gw.has('PassthroughDnsCluster'), false);
  const grpcRoutes = gen(TYPE.route, [], {}, { type: 'grpc', metadata: { GENERATOR: 'grpc' } });
  assert.ok(grpcRoutes.size > 0);
  for (const rc of grpcRoutes.values())
    assert.ok(rc.virtual_hosts.every((v: Loose) => v.name !== 'allow_any' && v.name !== 'block_all'));
});

test('virtualOutbound: the TCP passthrough chain first, then an HTTP chain holding only the catch-all', () => {
  for (const [policy, vhost, dfp] of [
    ['ALLOW_ANY', 'allow_any', true],
    ['REGISTRY_ONLY', 'block_all', false],
  ] as const) {
    const vo = gen(TYPE.listener, [], { outboundTrafficPolicy: policy }).get('virtualOutbound');
    assert.equal(vo.filter_chains.length, 2);
    assert.equal(vo.filter_chains[0].filter_chain_match, undefined, 'captured connections keep TCP');
    assert.deepEqual(vo.filter_chains[1].filter_chain_match.application_protocols, [
      'http/1.0',
      'http/1.1',
      'h2c',
    ]);
    const hcm = unpackAny<Loose>(vo.filter_chains[1].filters[0].typed_config as AnyMessage);
    assert.deepEqual(
      hcm.route_config.virtual_hosts.map((v: Loose) => String(v.name)),
      [vhost],
    );
    const names = hcm.http_filters.map((f: Loose) => String(f.name));
    assert.equal(names.includes('envoy.filters.http.dynamic_forward_proxy'), dfp, policy);
    assert.equal(names.at(-1), 'envoy.filters.http.router');
  }
});
