import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Resource } from '../../../api/resource.js';
import type { MutualTLSMode } from '../../../api/security/types.js';
import { SHORT_TYPE, TYPE, unpackAny, type AnyMessage } from '../../../protocol/protos.js';
import { affectedTypes, buildPushContext, generate, type PushContext } from '../index.js';
import {
  checkEncodes,
  config,
  endpoint,
  http,
  proxy,
  registry,
  res,
  service,
  tcp,
  type Loose,
} from '../testkit.js';

const REVIEWS = 'reviews.default.svc.cluster.local';
const DB = 'db.default.svc.cluster.local';
const SERVICES = [service(REVIEWS, [http(9080)]), service(DB, [tcp(5432)])];
const ENDPOINTS = [
  endpoint(REVIEWS, '10.0.0.1', { ports: { 'http-9080': 8080 }, labels: { app: 'reviews' } }),
  endpoint(DB, '10.0.0.1', { labels: { app: 'reviews' } }),
  endpoint(REVIEWS, '10.0.0.2', { ports: { 'http-9080': 8080 }, labels: { app: 'other' } }),
];
const SIDECAR = { ipAddresses: ['10.0.0.1'], labels: { app: 'reviews' } };
const OTHER = {
  id: 'sidecar~10.0.0.2~other.default~default.svc.cluster.local',
  ipAddresses: ['10.0.0.2'],
  labels: { app: 'other' },
};

function pa(namespace: string, name: string, mode: MutualTLSMode, extra: object = {}): Resource {
  return res('PeerAuthentication', namespace, name, { mtls: { mode }, ...extra });
}

function build(resources: Resource[], revision = 1): PushContext {
  return buildPushContext(config(resources, revision), registry(SERVICES, ENDPOINTS, revision));
}

function listeners(resources: Resource[], p = SIDECAR): Map<string, Loose> {
  const out = generate(build(resources), proxy(p), TYPE.listener);
  checkEncodes(TYPE.listener, out);
  return out as Map<string, Loose>;
}

const HTTP_IN = 'inbound|9080||';
const TCP_IN = 'inbound|5432||';

/** Each chain as `transport[alpn...]:tls|plain`. */
function shape(l: Loose): string[] {
  return (l.filter_chains as Loose[]).map((c: Loose): string => {
    const m: Loose = c.filter_chain_match ?? {};
    const alpn = (m.application_protocols ?? []).length > 0 ? `[${m.application_protocols.join(',')}]` : '';
    return `${m.transport_protocol ?? '*'}${alpn}:${c.transport_socket ? 'mtls' : 'plain'}`;
  });
}

const ISTIO_ALPN = '[istio,istio-peer-exchange,istio-http/1.0,istio-http/1.1,istio-h2]';

const cases: { name: string; policies: Resource[]; http: string[]; tcp: string[]; inspector: boolean }[] = [
  {
    name: 'no policy: PERMISSIVE (Istio default)',
    policies: [],
    http: [`tls${ISTIO_ALPN}:mtls`, 'raw_buffer:plain'],
    tcp: [`tls${ISTIO_ALPN}:mtls`, 'tls:plain', 'raw_buffer:plain'],
    inspector: true,
  },
  {
    name: 'mesh STRICT: TLS only, no plaintext chain',
    policies: [pa('istio-system', 'default', 'STRICT')],
    http: ['tls:mtls'],
    tcp: ['tls:mtls'],
    inspector: true,
  },
  {
    name: 'namespace DISABLE: plaintext only, as before mTLS',
    policies: [pa('istio-system', 'default', 'STRICT'), pa('default', 'default', 'DISABLE')],
    http: ['*:plain'],
    tcp: ['*:plain'],
    inspector: false,
  },
  {
    name: 'port level: STRICT workload, DISABLE on the HTTP target port 8080',
    policies: [
      pa('default', 'reviews', 'STRICT', {
        selector: { matchLabels: { app: 'reviews' } },
        portLevelMtls: { '8080': { mode: 'DISABLE' } },
      }),
    ],
    http: ['*:plain'],
    tcp: ['tls:mtls'],
    inspector: true,
  },
  {
    name: 'port level keyed by target port: the service port 9080 is not it',
    policies: [
      pa('default', 'reviews', 'STRICT', {
        selector: { matchLabels: { app: 'reviews' } },
        portLevelMtls: { '9080': { mode: 'DISABLE' } },
      }),
    ],
    http: ['tls:mtls'],
    tcp: ['tls:mtls'],
    inspector: true,
  },
];

for (const c of cases) {
  test(`inbound listener shape: ${c.name}`, () => {
    const out = listeners(c.policies);
    assert.deepEqual(shape(out.get(HTTP_IN)), c.http);
    assert.deepEqual(shape(out.get(TCP_IN)), c.tcp);
    for (const name of [HTTP_IN, TCP_IN]) {
      const l = out.get(name);
      const inspectors = ((l.listener_filters ?? []) as Loose[]).map((f: Loose) => String(f.name));
      const wantInspector = l.filter_chains.some((ch: Loose) => ch.filter_chain_match !== undefined);
      assert.deepEqual(inspectors, wantInspector ? ['envoy.filters.listener.tls_inspector'] : [], name);
      if (wantInspector) assert.equal(l.listener_filters[0].typed_config.type_url, TYPE.tlsInspector);
    }
    assert.equal(
      [HTTP_IN, TCP_IN].some((n) => (out.get(n).listener_filters ?? []).length > 0),
      c.inspector,
    );
  });
}

test('every chain of a listener carries the same network filters as the plaintext one', () => {
  const plain = listeners([pa('default', 'default', 'DISABLE')]);
  for (const mode of ['STRICT', 'PERMISSIVE'] as const) {
    const secured = listeners([pa('default', 'default', mode)]);
    for (const name of [HTTP_IN, TCP_IN]) {
      const want = JSON.stringify(plain.get(name).filter_chains[0].filters);
      for (const chain of secured.get(name).filter_chains) {
        assert.equal(JSON.stringify(chain.filters), want, `${mode} ${name}`);
      }
    }
  }
});

test('the mTLS chain requires a client certificate from the mesh, both secrets from the workload agent', () => {
  const out = listeners([pa('istio-system', 'default', 'STRICT')]);
  for (const [name, alpn] of [
    [HTTP_IN, ['h2', 'http/1.1']],
    [TCP_IN, ['istio-peer-exchange', 'h2', 'http/1.1']],
  ] as const) {
    const socket = out.get(name).filter_chains[0].transport_socket;
    assert.equal(socket.name, 'envoy.transport_sockets.tls');
    assert.equal(socket.typed_config.type_url, TYPE.downstreamTls);
    const ctx: Loose = unpackAny(socket.typed_config as AnyMessage);
    assert.equal(ctx.require_client_certificate.value, true);
    const common = ctx.common_tls_context;
    assert.deepEqual(common.alpn_protocols, alpn);
    assert.equal(common.tls_params.tls_minimum_protocol_version, 'TLSv1_2');
    assert.equal(common.tls_params.tls_maximum_protocol_version, 'TLSv1_3');
    const agent = {
      api_config_source: {
        api_type: 'GRPC',
        set_node_on_first_message_only: true,
        transport_api_version: 'V3',
        grpc_services: [{ envoy_grpc: { cluster_name: 'sds-grpc' }, target_specifier: 'envoy_grpc' }],
      },
      config_source_specifier: 'api_config_source',
      resource_api_version: 'V3',
    };
    assert.equal(common.tls_certificate_sds_secret_configs.length, 1);
    assert.equal(common.tls_certificate_sds_secret_configs[0].name, 'default');
    assert.deepEqual(stripDefaults(common.tls_certificate_sds_secret_configs[0].sds_config), agent);
    const combined = common.combined_validation_context;
    assert.equal(combined.validation_context_sds_secret_config.name, 'ROOTCA');
    assert.deepEqual(stripDefaults(combined.validation_context_sds_secret_config.sds_config), agent);
    // No secret of the mesh's own is ever sent by the control plane: nothing on ADS.
    assert.doesNotMatch(JSON.stringify(common), /"ads"/);
  }
});

/** The decoded form fills in defaults (empty lists, false); compare what was set. */
function stripDefaults(v: Loose): Loose {
  return JSON.parse(
    JSON.stringify(v, (_k, x: unknown) =>
      (Array.isArray(x) && x.length === 0) || x === false || x === '' ? undefined : x,
    ),
  );
}

test('a policy selecting another workload, or in another namespace, leaves the listener PERMISSIVE', () => {
  for (const policy of [
    pa('default', 'other', 'STRICT', { selector: { matchLabels: { app: 'other' } } }),
    pa('shop', 'default', 'STRICT'),
    pa('istio-system', 'selector', 'STRICT', { selector: { matchLabels: { app: 'reviews' } } }),
  ]) {
    assert.deepEqual(shape(listeners([policy]).get(HTTP_IN)), [`tls${ISTIO_ALPN}:mtls`, 'raw_buffer:plain']);
  }
});

test('gateways and outbound listeners are not touched by PeerAuthentication', () => {
  const strict = [pa('istio-system', 'default', 'STRICT')];
  const a = listeners(strict);
  const b = listeners([pa('istio-system', 'default', 'DISABLE')]);
  for (const name of a.keys()) {
    if (name.startsWith('inbound|')) continue;
    assert.deepEqual(a.get(name), b.get(name), name);
  }
});

test('a PeerAuthentication change pushes LDS to the sidecars it selects, and not to others', () => {
  const before = build([pa('istio-system', 'default', 'PERMISSIVE')], 1);
  const selecting = build(
    [
      pa('istio-system', 'default', 'PERMISSIVE'),
      pa('default', 'reviews', 'STRICT', { selector: { matchLabels: { app: 'reviews' } } }),
    ],
    2,
  );
  const names = (s: ReadonlySet<string>) =>
    [...s].map((t) => SHORT_TYPE[t as keyof typeof SHORT_TYPE]).sort();
  assert.deepEqual(names(affectedTypes(before, selecting, proxy(SIDECAR))), ['LDS']);
  assert.deepEqual(names(affectedTypes(before, selecting, proxy(OTHER))), []);
  assert.deepEqual(
    names(affectedTypes(before, selecting, proxy({ type: 'router', labels: { app: 'reviews' } }))),
    [],
  );
  // The sidecar really gets the new shape.
  const out = generate(selecting, proxy(SIDECAR), TYPE.listener) as Map<string, Loose>;
  assert.deepEqual(shape(out.get(HTTP_IN)), ['tls:mtls']);
});

test('a mesh-wide change reaches every sidecar', () => {
  const before = build([], 1);
  const after = build([pa('istio-system', 'default', 'STRICT')], 2);
  for (const p of [SIDECAR, OTHER]) assert.ok(affectedTypes(before, after, proxy(p)).has(TYPE.listener));
});

test('defaultMtlsMode DISABLE (no CA): plaintext unless a policy asks; STRICT still fails closed', () => {
  const gen = (resources: Resource[]) => {
    const push = buildPushContext(config(resources), registry(SERVICES, ENDPOINTS), {
      defaultMtlsMode: 'DISABLE',
      autoMtls: false,
    });
    const out = generate(push, proxy(SIDECAR), TYPE.listener);
    checkEncodes(TYPE.listener, out);
    return out as Map<string, Loose>;
  };
  assert.deepEqual(shape(gen([]).get(HTTP_IN)), ['*:plain']);
  assert.deepEqual(shape(gen([pa('istio-system', 'default', 'STRICT')]).get(HTTP_IN)), ['tls:mtls']);
});

/**
 * Envoy's filter chain selection for the two criteria these chains use: the chains naming the
 * connection's transport protocol if any, else those naming none; then among them those sharing
 * an ALPN value with the ClientHello if any, else those naming none. No chain left: closed.
 */
function envoyPick(l: Loose, conn: { transport: 'tls' | 'raw_buffer'; alpn: readonly string[] }): string {
  let chains = l.filter_chains as Loose[];
  const inspects = ((l.listener_filters ?? []) as Loose[]).some(
    (f: Loose) => f.name === 'envoy.filters.listener.tls_inspector',
  );
  // Without the TLS inspector Envoy knows nothing of TLS: every connection is raw_buffer.
  const transport = inspects ? conn.transport : 'raw_buffer';
  const alpn = inspects && conn.transport === 'tls' ? conn.alpn : [];
  const byTransport = chains.filter((c: Loose) => c.filter_chain_match?.transport_protocol === transport);
  chains =
    byTransport.length > 0
      ? byTransport
      : chains.filter((c: Loose) => !c.filter_chain_match?.transport_protocol);
  const protocols = (c: Loose): string[] => (c.filter_chain_match?.application_protocols ?? []) as string[];
  const byAlpn = chains.filter((c: Loose) => protocols(c).some((p) => alpn.includes(p)));
  chains = byAlpn.length > 0 ? byAlpn : chains.filter((c: Loose) => protocols(c).length === 0);
  const chosen: Loose = chains[0];
  if (chosen === undefined) return 'closed';
  if (chosen.transport_socket !== undefined) return 'mtls';
  return conn.transport === 'tls' ? 'tls-passthrough' : 'plain';
}

const CLIENTS = {
  plaintext: { transport: 'raw_buffer', alpn: [] },
  meshHttp1: { transport: 'tls', alpn: ['istio-peer-exchange', 'istio'] },
  meshH2: { transport: 'tls', alpn: ['istio-peer-exchange', 'istio', 'h2'] },
  istioHttp11: { transport: 'tls', alpn: ['istio-http/1.1'] },
  proxylessGrpc: { transport: 'tls', alpn: ['h2'] },
  appTls: { transport: 'tls', alpn: [] },
} as const;

const picks: { mode: MutualTLSMode; port: string; want: Record<keyof typeof CLIENTS, string> }[] = [
  {
    mode: 'STRICT',
    port: HTTP_IN,
    want: {
      plaintext: 'closed',
      meshHttp1: 'mtls',
      meshH2: 'mtls',
      istioHttp11: 'mtls',
      proxylessGrpc: 'mtls',
      appTls: 'mtls',
    },
  },
  {
    mode: 'STRICT',
    port: TCP_IN,
    want: {
      plaintext: 'closed',
      meshHttp1: 'mtls',
      meshH2: 'mtls',
      istioHttp11: 'mtls',
      proxylessGrpc: 'mtls',
      appTls: 'mtls',
    },
  },
  {
    mode: 'PERMISSIVE',
    port: HTTP_IN,
    // gRPC cannot send Istio's ALPN: like Istio, PERMISSIVE does not recognise its mTLS.
    want: {
      plaintext: 'plain',
      meshHttp1: 'mtls',
      meshH2: 'mtls',
      istioHttp11: 'mtls',
      proxylessGrpc: 'closed',
      appTls: 'closed',
    },
  },
  {
    mode: 'PERMISSIVE',
    port: TCP_IN,
    want: {
      plaintext: 'plain',
      meshHttp1: 'mtls',
      meshH2: 'mtls',
      istioHttp11: 'mtls',
      proxylessGrpc: 'tls-passthrough',
      appTls: 'tls-passthrough',
    },
  },
  {
    mode: 'DISABLE',
    port: HTTP_IN,
    want: {
      plaintext: 'plain',
      meshHttp1: 'tls-passthrough',
      meshH2: 'tls-passthrough',
      istioHttp11: 'tls-passthrough',
      proxylessGrpc: 'tls-passthrough',
      appTls: 'tls-passthrough',
    },
  },
];

for (const p of picks) {
  test(`which chain Envoy's matching gives each client: ${p.mode} ${p.port}`, () => {
    const l = listeners([pa('istio-system', 'default', p.mode)]).get(p.port);
    const got = Object.fromEntries(Object.entries(CLIENTS).map(([name, conn]) => [name, envoyPick(l, conn)]));
    assert.deepEqual(got, p.want);
  });
}
