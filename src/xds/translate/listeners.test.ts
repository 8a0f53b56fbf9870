import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GatewaySpec } from '../../api/networking/types.js';
import type { Resource } from '../../api/resource.js';
import { TYPE, unpackAny, type AnyMessage, type ResourceTypeUrl } from '../../protocol/protos.js';
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
  tcp,
  type Loose,
} from './testkit.js';

const REVIEWS = 'reviews.default.svc.cluster.local';
const DB = 'db.default.svc.cluster.local';
const CACHE = 'cache.default.svc.cluster.local';
const ECHO = 'echo.default.svc.cluster.local';

const SERVICES = [
  service(REVIEWS, [http(9080)]),
  service(DB, [tcp(5432)], { addresses: ['10.96.0.5'] }),
  service(CACHE, [tcp(6379)]),
  service(ECHO, [grpc(50051)]),
];

function generateAll(
  resources: Resource[],
  p: Partial<ProxyNode>,
  type: ResourceTypeUrl = TYPE.listener,
  names?: string[],
): Map<string, Loose> {
  const push = buildPushContext(
    config(resources),
    registry(SERVICES, [endpoint(REVIEWS, '10.0.0.1', { ports: { 'http-9080': 8080 } })]),
  );
  const out = generate(push, proxy(p), type, names);
  checkEncodes(type, out);
  return out as Map<string, Loose>;
}

function hcmOf(listener: Loose, chain = 0): Loose {
  return unpackAny(listener.filter_chains[chain].filters[0].typed_config as AnyMessage);
}

test('sidecar outbound listeners: HTTP ports use RDS by port; TCP services listen on their VIP or 0.0.0.0', () => {
  const out = generateAll([], { ipAddresses: ['10.9.9.9'] });
  assert.deepEqual([...out.keys()].sort(), [
    '0.0.0.0_50051',
    '0.0.0.0_6379',
    '0.0.0.0_9080',
    '10.96.0.5_5432',
    'virtualOutbound',
  ]);
  const l = out.get('0.0.0.0_9080');
  assert.deepEqual(l.address, { socket_address: { address: '0.0.0.0', port_value: 9080 } });
  const hcm = hcmOf(l);
  assert.equal(hcm.rds.route_config_name, '9080');
  assert.deepEqual(hcm.rds.config_source.ads, {});
  assert.deepEqual(
    hcm.http_filters.map((f: Loose) => String(f.name)),
    [
      'envoy.filters.http.fault',
      'envoy.filters.http.cors',
      // ALLOW_ANY: resolves the Host of requests allow_any sends to PassthroughDnsCluster.
      'envoy.filters.http.dynamic_forward_proxy',
      'envoy.filters.http.router',
    ],
  );
  // As Istio: WebSocket upgrades allowed, Envoy's 5 minute stream idle timeout turned off.
  assert.deepEqual(hcm.upgrade_configs, [{ upgrade_type: 'websocket' }]);
  assert.equal(Number(hcm.stream_idle_timeout?.seconds ?? 0), 0);
  assert.ok(hcm.stream_idle_timeout, 'stream_idle_timeout is sent (0s), not left to the 5 minute default');
  const tcpProxy = unpackAny(
    out.get('10.96.0.5_5432').filter_chains[0].filters[0].typed_config as AnyMessage,
  );
  assert.equal(tcpProxy.cluster, `outbound|5432||${DB}`);
});

test('virtualOutbound sends what matches no listener to PassthroughCluster, or BlackHoleCluster with REGISTRY_ONLY', () => {
  const tcpCluster = (l: Loose) =>
    unpackAny(l.filter_chains[0].filters[0].typed_config as AnyMessage).cluster as string;
  const allowAny = generateAll([], {}).get('virtualOutbound');
  assert.equal(allowAny.address.socket_address.port_value, 15001);
  assert.deepEqual(allowAny.use_original_dst, { value: true });
  assert.equal(tcpCluster(allowAny), 'PassthroughCluster');
  const sidecar = res('Sidecar', 'default', 'default', {
    outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' },
  });
  assert.equal(tcpCluster(generateAll([sidecar], {}).get('virtualOutbound')), 'BlackHoleCluster');
  const clusters = generateAll([], {}, TYPE.cluster);
  assert.equal(clusters.get('PassthroughCluster').type, 'ORIGINAL_DST');
  assert.equal(clusters.get('PassthroughCluster').lb_policy, 'CLUSTER_PROVIDED');
  assert.deepEqual(clusters.get('BlackHoleCluster').load_assignment.endpoints, []);
  // Gateways and proxyless clients have no captured traffic.
  assert.equal(generateAll([], ROUTER, TYPE.cluster).has('PassthroughCluster'), false);
});

test('TLS services without a VIP share 0.0.0.0:PORT by SNI, with a passthrough chain for other names', () => {
  const tlsPort = { name: 'https', number: 443, protocol: 'HTTPS' } as const;
  const push = buildPushContext(
    config([]),
    registry(
      [service('api.example.com', [tlsPort]), service('pay.example.com', [{ ...tlsPort, protocol: 'TLS' }])],
      [],
    ),
  );
  const out = generate(push, proxy({}), TYPE.listener) as Map<string, Loose>;
  checkEncodes(TYPE.listener, out);
  const chains = out.get('0.0.0.0_443').filter_chains as Loose[];
  const summary = chains.map((c: Loose): [string[], string] => [
    (c.filter_chain_match?.server_names ?? []) as string[],
    unpackAny(c.filters[0].typed_config as AnyMessage).cluster as string,
  ]);
  assert.deepEqual(summary, [
    [['api.example.com'], 'outbound|443||api.example.com'],
    [['pay.example.com'], 'outbound|443||pay.example.com'],
    [[], 'PassthroughCluster'],
  ]);
  assert.equal(chains[0].filter_chain_match.transport_protocol, 'tls');
});

test('a sidecar fronting a registered instance gets inbound listener and cluster to localhost', () => {
  const listeners = generateAll([], { ipAddresses: ['10.0.0.1'] });
  const inbound = listeners.get('inbound|9080||');
  assert.ok(inbound);
  assert.deepEqual(inbound.address, { socket_address: { address: '10.0.0.1', port_value: 8080 } });
  assert.equal(hcmOf(inbound).route_config.virtual_hosts[0].routes[0].route.cluster, 'inbound|9080||');
  const clusters = generateAll([], { ipAddresses: ['10.0.0.1'] }, TYPE.cluster);
  const c = clusters.get('inbound|9080||');
  assert.equal(c.type, 'STATIC');
  assert.deepEqual(c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address, {
    address: '127.0.0.1',
    port_value: 8080,
  });
});

test('Sidecar ingress listeners decide the inbound ports when present', () => {
  const sidecar = res('Sidecar', 'default', 'default', {
    ingress: [{ port: { number: 15080, protocol: 'HTTP', name: 'web' }, defaultEndpoint: '127.0.0.1:3000' }],
    egress: [{ hosts: ['./*'] }],
  });
  const listeners = generateAll([sidecar], { ipAddresses: ['10.0.0.1'] });
  assert.deepEqual(listeners.get('inbound|15080||').address, {
    socket_address: { address: '0.0.0.0', port_value: 15080 },
  });
  assert.equal(listeners.has('inbound|9080||'), false);
  const clusters = generateAll([sidecar], { ipAddresses: ['10.0.0.1'] }, TYPE.cluster);
  assert.equal(
    clusters.get('inbound|15080||').load_assignment.endpoints[0].lb_endpoints[0].endpoint.address
      .socket_address.port_value,
    3000,
  );
});

const GATEWAY: GatewaySpec = {
  selector: { istio: 'ingressgateway' },
  servers: [
    {
      port: { number: 80, name: 'http', protocol: 'HTTP' },
      hosts: ['*.example.com'],
      tls: { httpsRedirect: true },
    },
    { port: { number: 8080, name: 'http-alt', protocol: 'HTTP' }, hosts: ['*'] },
    {
      port: { number: 443, name: 'https', protocol: 'HTTPS' },
      hosts: ['shop.example.com'],
      tls: { mode: 'SIMPLE', credentialName: 'shop-cert' },
    },
    {
      port: { number: 443, name: 'https-m', protocol: 'HTTPS' },
      hosts: ['admin.example.com'],
      tls: { mode: 'MUTUAL', credentialName: 'admin-cert' },
    },
  ],
};

const GATEWAY_VS = [
  res('Gateway', 'ingress', 'public', GATEWAY),
  res('VirtualService', 'default', 'shop', {
    hosts: ['shop.example.com', 'other.org'],
    gateways: ['ingress/public'],
    http: [{ route: [{ destination: { host: 'reviews' } }] }],
  }),
  res('VirtualService', 'default', 'mesh-only', {
    hosts: ['reviews'],
    http: [{ name: 'mesh', route: [{ destination: { host: 'reviews' } }] }],
  }),
];

const ROUTER: Partial<ProxyNode> = {
  type: 'router',
  labels: { istio: 'ingressgateway' },
  namespace: 'ingress',
};

test('gateway listeners: one per server port, TLS servers by SNI with SDS certificates', () => {
  const out = generateAll(GATEWAY_VS, ROUTER);
  assert.deepEqual([...out.keys()].sort(), ['0.0.0.0_443', '0.0.0.0_80', '0.0.0.0_8080']);
  assert.equal(hcmOf(out.get('0.0.0.0_80')).rds.route_config_name, 'http.80');
  const https = out.get('0.0.0.0_443');
  assert.equal(https.filter_chains.length, 2);
  assert.deepEqual(https.filter_chains[0].filter_chain_match, {
    transport_protocol: 'tls',
    server_names: ['shop.example.com'],
  });
  assert.equal(https.listener_filters[0].name, 'envoy.filters.listener.tls_inspector');
  const tls: Loose = unpackAny(https.filter_chains[0].transport_socket.typed_config as AnyMessage);
  assert.deepEqual(tls.common_tls_context.tls_certificate_sds_secret_configs, [
    {
      name: 'shop-cert',
      sds_config: { ads: {}, resource_api_version: 'V3', config_source_specifier: 'ads' },
    },
  ]);
  const mtls: Loose = unpackAny(https.filter_chains[1].transport_socket.typed_config as AnyMessage);
  assert.deepEqual(mtls.require_client_certificate, { value: true });
  assert.equal(mtls.common_tls_context.validation_context_sds_secret_config.name, 'admin-cert-cacert');
  // A proxy the selector does not match gets nothing.
  assert.equal(generateAll(GATEWAY_VS, { ...ROUTER, labels: { istio: 'egressgateway' } }).size, 0);
});

test('gateway routes: VirtualService hosts intersected with server hosts, httpsRedirect requires TLS', () => {
  const out = generateAll(GATEWAY_VS, ROUTER, TYPE.route);
  assert.deepEqual([...out.keys()].sort(), ['http.443', 'http.80', 'http.8080']);
  const on80 = out.get('http.80');
  assert.deepEqual(
    on80.virtual_hosts.map((v: Loose): unknown[] => [
      String(v.name),
      v.domains as unknown,
      v.require_tls as unknown,
    ]),
    [['shop.example.com:80', ['shop.example.com', 'shop.example.com:80'], 'ALL']],
  );
  const on8080 = out.get('http.8080');
  assert.deepEqual(
    on8080.virtual_hosts.map((v: Loose) => String(v.name)),
    ['other.org:8080', 'shop.example.com:8080'],
  );
  assert.equal(on8080.virtual_hosts[0].routes[0].route.cluster, `outbound|9080||${REVIEWS}`);
  const on443 = out.get('http.443');
  assert.deepEqual(
    on443.virtual_hosts.map((v: Loose) => String(v.name)),
    ['shop.example.com:443'],
  );
});

test('proxyless gRPC: API listeners named as requested, routed by outbound|PORT||HOST', () => {
  const names = ['echo:50051', `${ECHO}:50051`, 'echo.default:50051', 'echo:1', 'nothing:80'];
  const out = generateAll([], { type: 'grpc' }, TYPE.listener, names);
  assert.deepEqual([...out.keys()].sort(), [`${ECHO}:50051`, 'echo.default:50051', 'echo:50051']);
  assert.deepEqual(grpcClientErrors(TYPE.listener, out), []);
  for (const [name, l] of out) {
    assert.equal(l.name, name);
    const hcm: Loose = unpackAny(l.api_listener.api_listener as AnyMessage);
    assert.equal(hcm.rds.route_config_name, `outbound|50051||${ECHO}`);
    assert.deepEqual(
      hcm.http_filters.map((f: Loose) => String(f.name)),
      ['envoy.filters.http.fault', 'envoy.filters.http.router'],
    );
  }
  const routes = generateAll([], { type: 'grpc' }, TYPE.route, [`outbound|50051||${ECHO}`]);
  assert.deepEqual(grpcClientErrors(TYPE.route, routes), []);
  const vh = routes.get(`outbound|50051||${ECHO}`).virtual_hosts[0];
  for (const d of ['echo:50051', `${ECHO}:50051`, 'echo.default:50051']) assert.ok(vh.domains.includes(d), d);
});

test('mesh pathNormalization reaches every HTTP connection manager: outbound, inbound and gateway', () => {
  const expected: Record<string, Loose> = {
    NONE: { normalize_path: false },
    BASE: { normalize_path: true },
    MERGE_SLASHES: { normalize_path: true, merge_slashes: true },
    DECODE_AND_MERGE_SLASHES: {
      normalize_path: true,
      merge_slashes: true,
      path_with_escaped_slashes_action: 'UNESCAPE_AND_FORWARD',
    },
  };
  const pick = (hcm: Loose) => ({
    normalize_path: hcm.normalize_path?.value === true,
    ...(hcm.merge_slashes ? { merge_slashes: true } : {}),
    ...(hcm.path_with_escaped_slashes_action &&
    hcm.path_with_escaped_slashes_action !== 'IMPLEMENTATION_SPECIFIC_DEFAULT'
      ? { path_with_escaped_slashes_action: hcm.path_with_escaped_slashes_action }
      : {}),
  });
  for (const mode of ['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'] as const) {
    const push = buildPushContext(
      config(GATEWAY_VS),
      registry(SERVICES, [endpoint(REVIEWS, '10.9.9.9', { ports: { 'http-9080': 8080 } })]),
      { pathNormalization: mode },
    );
    const sidecar = generate(push, proxy({ ipAddresses: ['10.9.9.9'] }), TYPE.listener) as Map<string, Loose>;
    const gateway = generate(push, proxy(ROUTER), TYPE.listener) as Map<string, Loose>;
    checkEncodes(TYPE.listener, sidecar);
    const outbound = sidecar.get('0.0.0.0_9080')!;
    const inbound = [...sidecar.values()].find(
      (l) => l.traffic_direction === 'INBOUND' && l.name.includes('9080'),
    );
    assert.ok(inbound, 'an inbound HTTP listener');
    assert.deepEqual(pick(hcmOf(outbound)), expected[mode], `${mode} outbound`);
    assert.deepEqual(pick(hcmOf(inbound)), expected[mode], `${mode} inbound`);
    assert.ok(gateway.size > 0);
    for (const l of gateway.values()) assert.deepEqual(pick(hcmOf(l)), expected[mode], `${mode} gateway`);
  }
});
