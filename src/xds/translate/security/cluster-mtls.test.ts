import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Resource } from '../../../api/resource.js';
import { TYPE, unpackAny, type AnyMessage, type ResourceTypeUrl } from '../../../protocol/protos.js';
import type { Endpoint, Service } from '../../../registry/types.js';
import type { ProxyNode } from '../../proxy-node.js';
import {
  affectedTypes,
  buildPushContext,
  generate,
  type PushContext,
  type PushContextOptions,
} from '../index.js';
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
} from '../testkit.js';

const REVIEWS = 'reviews.default.svc.cluster.local';
const RATINGS = 'ratings.shop.svc.cluster.local';
const EXTERNAL = 'api.example.com';
const MESHED = { 'security.istio.io/tlsMode': 'istio' };

const SERVICES: Service[] = [
  service(REVIEWS, [http(9080), grpc(9090)]),
  service(RATINGS, [http(9080)]),
  service(EXTERNAL, [http(80)], { location: 'MESH_EXTERNAL', namespace: 'default' }),
];
const ENDPOINTS: Endpoint[] = [
  endpoint(REVIEWS, '10.0.0.1', { labels: { ...MESHED, version: 'v1' }, serviceAccount: 'reviews' }),
  endpoint(REVIEWS, '10.0.0.2', { labels: { version: 'v1' }, serviceAccount: 'reviews-legacy' }),
  endpoint(RATINGS, '10.0.1.1', { labels: MESHED, serviceAccount: 'ratings' }),
  endpoint(EXTERNAL, '192.0.2.1', { labels: MESHED }),
];
const SUBSETS = res('DestinationRule', 'default', 'reviews-subsets', {
  host: 'reviews',
  subsets: [{ name: 'v1', labels: { version: 'v1' } }],
});

function build(
  resources: Resource[] = [],
  options: PushContextOptions = {},
  endpoints = ENDPOINTS,
  revision = 1,
): PushContext {
  return buildPushContext(config(resources, revision), registry(SERVICES, endpoints, revision), options);
}

function gen(push: PushContext, type: ResourceTypeUrl, p: Partial<ProxyNode> = {}): Map<string, Loose> {
  const out = generate(push, proxy({ ipAddresses: ['10.9.9.9'], ...p }), type);
  checkEncodes(type, out);
  return out as Map<string, Loose>;
}

function clusters(resources: Resource[] = [], options: PushContextOptions = {}, p: Partial<ProxyNode> = {}) {
  return gen(build(resources, options), TYPE.cluster, p);
}

/** `auto` (matches), `tls MODE-ish` (one socket) or `plain`. */
function transport(c: Loose): string {
  if (c.transport_socket_matches !== undefined) return 'auto';
  if (c.transport_socket !== undefined) return `tls ${String(c.transport_socket.name)}`;
  return 'plain';
}

function tlsContext(socket: Loose): Loose {
  return unpackAny(socket.typed_config as AnyMessage);
}

const cluster = (name: string, port = 9080, subset = '') => `outbound|${port}|${subset}|${name}`;

test('no DestinationRule: mTLS to sidecar endpoints, plaintext to the rest (Istio transport_socket_matches)', () => {
  const c = clusters().get(cluster(REVIEWS));
  assert.equal(c.transport_socket, undefined);
  const [istio, disabled] = c.transport_socket_matches as Loose[];
  assert.equal(istio.name, 'tlsMode-istio');
  assert.deepEqual(istio.match, { fields: { tlsMode: { stringValue: 'istio' } } });
  assert.equal(istio.transport_socket.name, 'envoy.transport_sockets.tls');
  const ctx = tlsContext(istio.transport_socket);
  assert.equal(ctx.sni, `outbound_.9080_._.${REVIEWS}`);
  assert.deepEqual(ctx.common_tls_context.alpn_protocols, ['istio-peer-exchange', 'istio']);
  const common = ctx.common_tls_context;
  assert.equal(common.tls_certificate_sds_secret_configs[0].name, 'default');
  for (const secret of [
    common.tls_certificate_sds_secret_configs[0],
    common.combined_validation_context.validation_context_sds_secret_config,
  ]) {
    // The workload's own agent serves both; never the control plane.
    assert.equal(secret.sds_config.api_config_source.api_type, 'GRPC');
    assert.equal(secret.sds_config.api_config_source.grpc_services[0].envoy_grpc.cluster_name, 'sds-grpc');
    assert.equal(secret.sds_config.api_config_source.set_node_on_first_message_only, true);
    assert.equal(secret.sds_config.api_config_source.transport_api_version, 'V3');
    assert.equal(secret.sds_config.resource_api_version, 'V3');
    assert.equal(secret.sds_config.ads, undefined);
  }
  assert.equal(common.combined_validation_context.validation_context_sds_secret_config.name, 'ROOTCA');
  // Istio: the destination's identities (service accounts of its endpoints), sorted.
  assert.deepEqual(
    common.combined_validation_context.default_validation_context.match_subject_alt_names.map((m: Loose) =>
      String(m.exact),
    ),
    ['spiffe://cluster.local/ns/default/sa/reviews', 'spiffe://cluster.local/ns/default/sa/reviews-legacy'],
  );
  assert.equal(disabled.name, 'tlsMode-disabled');
  assert.deepEqual(disabled.match, {});
  assert.equal(disabled.transport_socket.name, 'envoy.transport_sockets.raw_buffer');
  assert.equal(disabled.transport_socket.typed_config.type_url, TYPE.rawBuffer);
});

test('HTTP/2 ports add h2 to the mesh ALPN; subset clusters get the subset in their SNI', () => {
  const out = clusters([SUBSETS]);
  const h2 = tlsContext(out.get(cluster(REVIEWS, 9090)).transport_socket_matches[0].transport_socket);
  assert.deepEqual(h2.common_tls_context.alpn_protocols, ['istio-peer-exchange', 'istio', 'h2']);
  const v1 = tlsContext(out.get(cluster(REVIEWS, 9080, 'v1')).transport_socket_matches[0].transport_socket);
  assert.equal(v1.sni, `outbound_.9080_.v1_.${REVIEWS}`);
});

test('the trust domain option names the identities', () => {
  const c = clusters([], { trustDomain: 'example.org' }).get(cluster(RATINGS));
  const ctx = tlsContext(c.transport_socket_matches[0].transport_socket);
  assert.deepEqual(
    ctx.common_tls_context.combined_validation_context.default_validation_context.match_subject_alt_names.map(
      (m: Loose) => String(m.exact),
    ),
    ['spiffe://example.org/ns/shop/sa/ratings'],
  );
});

const dr = (tls: object, extra: object = {}) =>
  res('DestinationRule', 'default', 'reviews-tls', { host: 'reviews', trafficPolicy: { tls }, ...extra });

test('a DestinationRule tls overrides auto mTLS, at every level Istio reads it', () => {
  const cases: { name: string; rule: Resource; want: Record<string, string> }[] = [
    {
      name: 'DISABLE',
      rule: dr({ mode: 'DISABLE' }),
      want: { [cluster(REVIEWS)]: 'plain', [cluster(REVIEWS, 9090)]: 'plain' },
    },
    {
      name: 'tls without a mode (DISABLE)',
      rule: dr({ sni: 'x' }),
      want: { [cluster(REVIEWS)]: 'plain' },
    },
    {
      name: 'ISTIO_MUTUAL: every endpoint, sidecar or not',
      rule: dr({ mode: 'ISTIO_MUTUAL' }),
      want: { [cluster(REVIEWS)]: 'tls envoy.transport_sockets.tls' },
    },
    {
      name: 'SIMPLE',
      rule: dr({ mode: 'SIMPLE' }),
      want: { [cluster(REVIEWS)]: 'tls envoy.transport_sockets.tls' },
    },
    {
      name: 'port level DISABLE on 9080 only',
      rule: res('DestinationRule', 'default', 'reviews-port', {
        host: 'reviews',
        trafficPolicy: { portLevelSettings: [{ port: { number: 9080 }, tls: { mode: 'DISABLE' } }] },
      }),
      want: { [cluster(REVIEWS)]: 'plain', [cluster(REVIEWS, 9090)]: 'auto' },
    },
    {
      name: 'subset level DISABLE on v1 only',
      rule: res('DestinationRule', 'default', 'reviews-subset', {
        host: 'reviews',
        subsets: [{ name: 'v1', labels: { version: 'v1' }, trafficPolicy: { tls: { mode: 'DISABLE' } } }],
      }),
      want: { [cluster(REVIEWS)]: 'auto', [cluster(REVIEWS, 9080, 'v1')]: 'plain' },
    },
    {
      name: 'a rule with only a load balancer leaves auto mTLS on',
      rule: res('DestinationRule', 'default', 'reviews-lb', {
        host: 'reviews',
        trafficPolicy: { loadBalancer: { simple: 'RANDOM' } },
      }),
      want: { [cluster(REVIEWS)]: 'auto' },
    },
  ];
  for (const c of cases) {
    const out = clusters([c.rule]);
    for (const [name, want] of Object.entries(c.want))
      assert.equal(transport(out.get(name)), want, `${c.name}: ${name}`);
  }
});

test('a DestinationRule ISTIO_MUTUAL socket uses the workload agent too, and its own SANs when it lists them', () => {
  const c = clusters([
    dr({ mode: 'ISTIO_MUTUAL', subjectAltNames: ['spiffe://cluster.local/ns/x/sa/y'] }),
  ]).get(cluster(REVIEWS));
  const ctx = tlsContext(c.transport_socket);
  const v = ctx.common_tls_context.combined_validation_context;
  assert.deepEqual(
    v.default_validation_context.match_subject_alt_names.map((m: Loose) => String(m.exact)),
    ['spiffe://cluster.local/ns/x/sa/y'],
  );
  assert.equal(
    v.validation_context_sds_secret_config.sds_config.api_config_source.grpc_services[0].envoy_grpc
      .cluster_name,
    'sds-grpc',
  );
});

test('credentialName secrets stay on ADS (the control plane serves them), unlike the mesh certificate', () => {
  const c = clusters([dr({ mode: 'MUTUAL', credentialName: 'client' })]).get(cluster(REVIEWS));
  const common = tlsContext(c.transport_socket).common_tls_context;
  assert.deepEqual(common.tls_certificate_sds_secret_configs[0].sds_config.ads, {});
  assert.deepEqual(
    common.combined_validation_context.validation_context_sds_secret_config.sds_config.ads,
    {},
  );
});

const pa = (namespace: string, name: string, mode: string, extra: object = {}) =>
  res('PeerAuthentication', namespace, name, { mtls: { mode }, ...extra });

test("the destination's namespace or mesh PeerAuthentication DISABLE turns auto mTLS off for it", () => {
  const nsDisable = clusters([pa('shop', 'default', 'DISABLE')]);
  assert.equal(transport(nsDisable.get(cluster(RATINGS))), 'plain');
  assert.equal(transport(nsDisable.get(cluster(REVIEWS))), 'auto', 'another namespace keeps it');
  const meshDisable = clusters([pa('istio-system', 'default', 'DISABLE')]);
  assert.equal(transport(meshDisable.get(cluster(RATINGS))), 'plain');
  const overridden = clusters([pa('istio-system', 'default', 'DISABLE'), pa('shop', 'default', 'STRICT')]);
  assert.equal(transport(overridden.get(cluster(RATINGS))), 'auto');
  // Workload policies are not consulted (a client cannot know which workload it reaches).
  const workload = clusters([pa('shop', 'w', 'DISABLE', { selector: { matchLabels: { app: 'ratings' } } })]);
  assert.equal(transport(workload.get(cluster(RATINGS))), 'auto');
});

test('auto mTLS off by mesh config, mesh-external services, passthrough and proxyless gRPC: no TLS', () => {
  assert.equal(transport(clusters([], { autoMtls: false }).get(cluster(REVIEWS))), 'plain');
  assert.equal(transport(clusters().get(cluster(EXTERNAL, 80))), 'plain');
  const grpcOut = gen(build(), TYPE.cluster, { type: 'grpc' });
  assert.deepEqual(grpcClientErrors(TYPE.cluster, grpcOut), []);
  for (const c of grpcOut.values()) assert.equal(transport(c), 'plain', String(c.name));
});

test('gateways send auto mTLS to the mesh the same way', () => {
  const out = clusters([], {}, { type: 'router', labels: { istio: 'ingressgateway' } });
  assert.equal(transport(out.get(cluster(REVIEWS))), 'auto');
  assert.equal(transport(out.get(cluster(EXTERNAL, 80))), 'plain');
});

test('EDS marks sidecar endpoints with tlsMode istio, and only those', () => {
  const eds = gen(build([SUBSETS]), TYPE.endpoint);
  const meta = (name: string) =>
    Object.fromEntries(
      (eds.get(name).endpoints as Loose[]).flatMap((l: Loose) =>
        (l.lb_endpoints as Loose[]).map((e: Loose) => [
          String(e.endpoint.address.socket_address.address),
          e.metadata?.filter_metadata?.['envoy.transport_socket_match']?.fields?.tlsMode?.stringValue ?? '-',
        ]),
      ),
    );
  assert.deepEqual(meta(cluster(REVIEWS)), { '10.0.0.1': 'istio', '10.0.0.2': '-' });
  assert.deepEqual(meta(cluster(REVIEWS, 9080, 'v1')), { '10.0.0.1': 'istio', '10.0.0.2': '-' });
  // Only the exact label value counts: anything else is a workload without a sidecar.
  const odd = build([], {}, [
    endpoint(REVIEWS, '10.0.0.3', { labels: { 'security.istio.io/tlsMode': 'Istio' } }),
    endpoint(REVIEWS, '10.0.0.4', { labels: { 'security.istio.io/tlsMode': 'disabled' } }),
    endpoint(REVIEWS, '10.0.0.5', { labels: { tlsMode: 'istio' } }),
  ]);
  const oddEds = gen(odd, TYPE.endpoint);
  for (const l of oddEds.get(cluster(REVIEWS)).endpoints[0].lb_endpoints as Loose[])
    assert.equal(l.metadata, undefined, String(l.endpoint.address.socket_address.address));
});

test('CDS keys: destination namespace policies and identities push CDS; workload policies do not', () => {
  const client = proxy({ ipAddresses: ['10.9.9.9'], namespace: 'default', labels: { app: 'client' } });
  const base = build([], {}, ENDPOINTS, 1);
  const nsPolicy = build([pa('shop', 'default', 'DISABLE')], {}, ENDPOINTS, 2);
  assert.ok(affectedTypes(base, nsPolicy, client).has(TYPE.cluster));
  const wlPolicy = build(
    [pa('shop', 'w', 'STRICT', { selector: { matchLabels: { app: 'ratings' } } })],
    {},
    ENDPOINTS,
    2,
  );
  assert.equal(affectedTypes(base, wlPolicy, client).has(TYPE.cluster), false);
  const renamed = ENDPOINTS.map((e) => (e.hostname === RATINGS ? { ...e, serviceAccount: 'ratings-v2' } : e));
  const accounts = build([], {}, renamed, 2);
  assert.ok(affectedTypes(base, accounts, client).has(TYPE.cluster));
  const tls = tlsContext(
    gen(accounts, TYPE.cluster).get(cluster(RATINGS)).transport_socket_matches[0].transport_socket,
  );
  assert.deepEqual(
    tls.common_tls_context.combined_validation_context.default_validation_context.match_subject_alt_names.map(
      (m: Loose) => String(m.exact),
    ),
    ['spiffe://cluster.local/ns/shop/sa/ratings-v2'],
  );
});

test('defaultMtlsMode DISABLE: no auto mTLS to namespaces without a policy, auto mTLS where one asks', () => {
  const out = clusters([pa('shop', 'default', 'PERMISSIVE')], { defaultMtlsMode: 'DISABLE' });
  assert.equal(transport(out.get(cluster(REVIEWS))), 'plain');
  assert.equal(transport(out.get(cluster(RATINGS))), 'auto');
});

test('DNS-resolved mesh services: the inline assignment carries the tlsMode metadata the matches read', () => {
  const DNS = 'db.default.svc.cluster.local';
  const push = buildPushContext(
    config([]),
    registry(
      [service(DNS, [http(5432, 'http-db')], { resolution: 'DNS' })],
      [
        endpoint(DNS, 'db-0.example.internal', { labels: MESHED }),
        endpoint(DNS, 'db-1.example.internal', { labels: {} }),
      ],
    ),
  );
  const out = gen(push, TYPE.cluster);
  const c = out.get(cluster(DNS, 5432));
  assert.equal(c.type, 'STRICT_DNS');
  assert.equal(transport(c), 'auto');
  const marks = (c.load_assignment.endpoints as Loose[]).flatMap((l: Loose) =>
    (l.lb_endpoints as Loose[]).map(
      (e: Loose) =>
        `${String(e.endpoint.address.socket_address.address)}=${String(e.metadata?.filter_metadata?.['envoy.transport_socket_match']?.fields?.tlsMode?.stringValue ?? '-')}`,
    ),
  );
  assert.deepEqual(marks.sort(), ['db-0.example.internal=istio', 'db-1.example.internal=-']);
});

test('the control plane never serves the mesh secrets: SDS over ADS has no default or ROOTCA', () => {
  const push = build([pa('istio-system', 'default', 'STRICT'), dr({ mode: 'ISTIO_MUTUAL' })]);
  for (const p of [proxy(), proxy({ type: 'router', labels: { istio: 'ingressgateway' } })]) {
    assert.equal(generate(push, p, TYPE.secret, ['default', 'ROOTCA']).size, 0, p.type);
    assert.equal(generate(push, p, TYPE.secret).size, 0, p.type);
  }
});

test('passthrough services: mTLS on the cluster itself when every endpoint has a sidecar, else none', () => {
  const HEADLESS = 'headless.default.svc.cluster.local';
  const run = (labels: Record<string, string>[], resources: Resource[] = []): Loose => {
    const push = buildPushContext(
      config(resources),
      registry(
        [service(HEADLESS, [http(8080)], { resolution: 'NONE' })],
        labels.map((l, i) =>
          endpoint(HEADLESS, `10.0.3.${i + 1}`, { labels: l, serviceAccount: 'headless' }),
        ),
      ),
    );
    return gen(push, TYPE.cluster).get(cluster(HEADLESS, 8080));
  };
  const all = run([MESHED, MESHED]);
  assert.equal(all.type, 'ORIGINAL_DST');
  assert.equal(transport(all), 'tls envoy.transport_sockets.tls');
  assert.equal(tlsContext(all.transport_socket).sni, `outbound_.8080_._.${HEADLESS}`);
  assert.equal(transport(run([MESHED, {}])), 'plain');
  assert.equal(transport(run([])), 'plain');
  assert.equal(transport(run([MESHED], [pa('default', 'default', 'DISABLE')])), 'plain');
  const simple = res('DestinationRule', 'default', 'h', {
    host: HEADLESS,
    trafficPolicy: { tls: { mode: 'SIMPLE' } },
  });
  assert.equal(transport(run([MESHED], [simple])), 'plain', 'no SIMPLE origination to a dialled address');
});

test('proxyless gRPC accepts EDS with the tlsMode metadata (it ignores it)', () => {
  const eds = gen(build(), TYPE.endpoint, { type: 'grpc' });
  assert.ok([...eds.values()].some((c) => JSON.stringify(c).includes('envoy.transport_socket_match')));
  assert.deepEqual(grpcClientErrors(TYPE.endpoint, eds), []);
});
