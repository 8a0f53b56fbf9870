import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Cluster, UpstreamTlsContext } from '../../../protocol/envoy-types.js';
import { TYPE, unpackAny } from '../../../protocol/protos.js';
import { adsConfigSource, pack } from '../envoy.js';
import { buildPushContext, generate } from '../index.js';
import {
  checkEncodes,
  config,
  endpoint,
  grpc,
  proxy,
  registry,
  res,
  service,
  type Loose,
} from '../testkit.js';
import { upstreamTlsSocket } from '../upstream-tls.js';
import { proxylessCluster, proxylessClusterSecurity } from './cluster-security.js';
import { grpcErrors } from './testkit.js';

const ECHO = 'echo.default.svc.cluster.local';
const NAME = `outbound|50051||${ECHO}`;

/** The config source mTLS sidecars use for the workload's own secrets (Istio's `sds-grpc`). */
const SDS_GRPC = {
  api_config_source: {
    api_type: 'GRPC' as const,
    grpc_services: [{ envoy_grpc: { cluster_name: 'sds-grpc' } }],
    set_node_on_first_message_only: true,
    transport_api_version: 'V3' as const,
  },
  resource_api_version: 'V3' as const,
};

/** An ISTIO_MUTUAL context as upstream-tls.ts writes it for Envoy, over either config source. */
function meshTls(sdsConfig: object, sans: string[] = []): UpstreamTlsContext {
  return {
    common_tls_context: {
      tls_certificate_sds_secret_configs: [{ name: 'default', sds_config: sdsConfig }],
      combined_validation_context: {
        default_validation_context:
          sans.length > 0 ? { match_subject_alt_names: sans.map((exact) => ({ exact })) } : {},
        validation_context_sds_secret_config: { name: 'ROOTCA', sds_config: sdsConfig },
      },
      alpn_protocols: ['istio', 'h2'],
    },
    sni: `outbound_.50051_._.${ECHO}`,
  };
}

function cluster(extra: Partial<Cluster> = {}): Cluster {
  return {
    name: NAME,
    type: 'EDS',
    eds_cluster_config: { eds_config: adsConfigSource(), service_name: NAME },
    ...extra,
  };
}

const tlsSocket = (ctx: UpstreamTlsContext) => ({
  name: 'envoy.transport_sockets.tls',
  typed_config: pack(TYPE.upstreamTls, ctx),
});

function tlsOf(c: Cluster): Loose {
  return unpackAny((c as Loose).transport_socket.typed_config);
}

function check(c: Cluster, providers?: string[]): string[] {
  const all = new Map([[c.name as string, c]]);
  checkEncodes(TYPE.cluster, all);
  return grpcErrors(TYPE.cluster, all, providers);
}

const PROVIDER_FORM = {
  tls_certificate_provider_instance: { instance_name: 'default', certificate_name: 'default' },
  validation_context: {
    ca_certificate_provider_instance: { instance_name: 'default', certificate_name: 'ROOTCA' },
  },
};

test('ISTIO_MUTUAL over ADS or sds-grpc becomes certificate provider references gRPC accepts', () => {
  for (const source of [adsConfigSource(), SDS_GRPC]) {
    const envoyForm = cluster({ transport_socket: tlsSocket(meshTls(source)) });
    assert.notDeepEqual(check(envoyForm), [], 'gRPC rejects the SDS form as it is');
    const out = proxylessClusterSecurity(envoyForm);
    const ctx = tlsOf(out);
    assert.deepEqual(ctx, {
      common_tls_context: { ...PROVIDER_FORM, validation_context_type: 'validation_context' },
    });
    assert.equal((ctx as Loose).sni, undefined);
    assert.deepEqual(check(out), []);
    assert.match(
      check(out, []).join(';'),
      /Unmatched .*instance_name: default/,
      'needs the bootstrap instance',
    );
  }
});

test('SAN matchers are kept for gRPC to check', () => {
  const sans = [
    'spiffe://cluster.local/ns/default/sa/echo',
    'spiffe://cluster.local/ns/default/sa/echo-canary',
  ];
  const out = proxylessClusterSecurity(cluster({ transport_socket: tlsSocket(meshTls(SDS_GRPC, sans)) }));
  assert.deepEqual(
    (tlsOf(out).common_tls_context.validation_context.match_subject_alt_names as { exact: string }[]).map(
      (m) => m.exact,
    ),
    sans,
  );
  assert.deepEqual(check(out), []);
});

test('auto mTLS transport_socket_matches are dropped: gRPC ignores them and Istio sends none', () => {
  const matches = [
    {
      name: 'tlsMode-istio',
      match: { fields: { tlsMode: { stringValue: 'istio' } } },
      transport_socket: tlsSocket(meshTls(SDS_GRPC)),
    },
    { name: 'tlsMode-disabled', match: {}, transport_socket: { name: 'envoy.transport_sockets.raw_buffer' } },
  ];
  const out = proxylessClusterSecurity(cluster({ transport_socket_matches: matches }));
  assert.equal((out as Loose).transport_socket_matches, undefined);
  assert.equal(
    (out as Loose).transport_socket,
    undefined,
    'plaintext unless a DestinationRule says ISTIO_MUTUAL',
  );
  const explicit = proxylessClusterSecurity(
    cluster({ transport_socket_matches: matches, transport_socket: tlsSocket(meshTls(SDS_GRPC)) }),
  );
  assert.equal((explicit as Loose).transport_socket_matches, undefined);
  assert.deepEqual(
    tlsOf(explicit).common_tls_context.tls_certificate_provider_instance,
    PROVIDER_FORM.tls_certificate_provider_instance,
  );
  assert.deepEqual(check(explicit), []);
});

test('other TLS contexts are left alone, and gRPC refuses them instead of going plaintext', () => {
  const cases: [string, UpstreamTlsContext][] = [
    ['SIMPLE with credentialName', upstreamCtx({ mode: 'SIMPLE', credentialName: 'api-cert' })],
    [
      'MUTUAL with files',
      upstreamCtx({
        mode: 'MUTUAL',
        clientCertificate: '/c.pem',
        privateKey: '/k.pem',
        caCertificates: '/ca.pem',
      }),
    ],
    ['SIMPLE without verification', upstreamCtx({ mode: 'SIMPLE', insecureSkipVerify: true })],
    [
      'mesh names with a pinned hash',
      (() => {
        const ctx = meshTls(SDS_GRPC);
        ctx.common_tls_context!.combined_validation_context!.default_validation_context = {
          verify_certificate_hash: ['ab'.repeat(32)],
        };
        return ctx;
      })(),
    ],
    [
      'two workload certificates',
      (() => {
        const ctx = meshTls(SDS_GRPC);
        ctx.common_tls_context!.tls_certificate_sds_secret_configs!.push({ name: 'other' });
        return ctx;
      })(),
    ],
  ];
  for (const [what, ctx] of cases) {
    const c = cluster({ transport_socket: tlsSocket(ctx) });
    assert.equal(proxylessClusterSecurity(c), c, what);
    assert.notDeepEqual(check(c), [], what);
  }
});

function upstreamCtx(tls: Parameters<typeof upstreamTlsSocket>[0]): UpstreamTlsContext {
  const socket = upstreamTlsSocket(tls, { host: ECHO, port: 50051, subset: '', http2: true });
  return unpackAny(socket!.typed_config as Loose);
}

test('no TLS and the provider form itself pass through unchanged', () => {
  const plain = cluster();
  assert.equal(proxylessClusterSecurity(plain), plain);
  const done = proxylessClusterSecurity(cluster({ transport_socket: tlsSocket(meshTls(SDS_GRPC)) }));
  assert.equal(proxylessClusterSecurity(done), done, 'idempotent');
});

test('proxylessCluster adds ISTIO_MUTUAL only: SIMPLE and MUTUAL stay plaintext as in Istio', () => {
  const target = { host: ECHO, port: 50051, subset: '' };
  assert.deepEqual(
    tlsOf(proxylessCluster(cluster(), { mode: 'ISTIO_MUTUAL' }, target)).common_tls_context
      .tls_certificate_provider_instance,
    PROVIDER_FORM.tls_certificate_provider_instance,
  );
  for (const mode of ['DISABLE', 'SIMPLE', 'MUTUAL'] as const)
    assert.equal((proxylessCluster(cluster(), { mode }, target) as Loose).transport_socket, undefined, mode);
  assert.equal((proxylessCluster(cluster(), undefined, target) as Loose).transport_socket, undefined);
});

test('CDS for a proxyless client: a DestinationRule with ISTIO_MUTUAL gives every cluster of the host mTLS', () => {
  const push = buildPushContext(
    config([
      res('DestinationRule', 'default', 'echo', {
        host: ECHO,
        trafficPolicy: {
          tls: { mode: 'ISTIO_MUTUAL', subjectAltNames: ['spiffe://cluster.local/ns/default/sa/echo'] },
        },
        subsets: [{ name: 'v1', labels: { version: 'v1' } }],
      }),
    ]),
    registry([service(ECHO, [grpc(50051)])], [endpoint(ECHO, '10.0.0.9', { labels: { version: 'v1' } })]),
  );
  const grpcOut = generate(push, proxy({ type: 'grpc' }), TYPE.cluster);
  checkEncodes(TYPE.cluster, grpcOut);
  assert.deepEqual(grpcErrors(TYPE.cluster, grpcOut), []);
  for (const name of [NAME, `outbound|50051|v1|${ECHO}`]) {
    const ctx = tlsOf(grpcOut.get(name) as Cluster).common_tls_context;
    assert.deepEqual(
      ctx.tls_certificate_provider_instance,
      PROVIDER_FORM.tls_certificate_provider_instance,
      name,
    );
    assert.equal(
      ctx.validation_context.match_subject_alt_names[0].exact,
      'spiffe://cluster.local/ns/default/sa/echo',
    );
  }
  // Sidecars keep the SDS form.
  const envoyOut = generate(push, proxy(), TYPE.cluster);
  const sidecar = tlsOf(envoyOut.get(NAME) as Cluster).common_tls_context;
  assert.equal(sidecar.tls_certificate_sds_secret_configs[0].name, 'default');
  assert.equal(sidecar.tls_certificate_provider_instance, undefined);
});

test('whatever the DestinationRule TLS (mode, port level, subset), proxyless CDS is one gRPC accepts', () => {
  const tlsModes = [
    { mode: 'DISABLE' },
    { mode: 'ISTIO_MUTUAL' },
    {
      mode: 'ISTIO_MUTUAL',
      sni: 'custom.sni',
      subjectAltNames: ['spiffe://cluster.local/ns/default/sa/echo'],
    },
    { mode: 'SIMPLE', credentialName: 'echo-cacert' },
    { mode: 'SIMPLE', insecureSkipVerify: true },
    { mode: 'MUTUAL', clientCertificate: '/c.pem', privateKey: '/k.pem', caCertificates: '/ca.pem' },
  ];
  for (const tls of tlsModes) {
    const push = buildPushContext(
      config([
        res('DestinationRule', 'default', 'echo', {
          host: ECHO,
          trafficPolicy: {
            tls,
            portLevelSettings: [{ port: { number: 50052 }, tls: { mode: 'ISTIO_MUTUAL' } }],
          },
          subsets: [
            { name: 'v1', labels: { version: 'v1' } },
            { name: 'plain', labels: { version: 'v2' }, trafficPolicy: { tls: { mode: 'DISABLE' } } },
          ],
        }),
      ]),
      registry([service(ECHO, [grpc(50051), grpc(50052)])], [endpoint(ECHO, '10.0.0.9')]),
    );
    const out = generate(push, proxy({ type: 'grpc' }), TYPE.cluster);
    checkEncodes(TYPE.cluster, out);
    assert.deepEqual(grpcErrors(TYPE.cluster, out), [], JSON.stringify(tls));
    const secured = [...out].filter(([, c]) => (c as Loose).transport_socket !== undefined).map(([n]) => n);
    // Port-level ISTIO_MUTUAL wins on 50052; the subset's DISABLE wins for `plain`.
    assert.ok(secured.includes(`outbound|50052||${ECHO}`), `${JSON.stringify(tls)}: ${secured.join(',')}`);
    assert.ok(
      !secured.includes(`outbound|50051|plain|${ECHO}`),
      `${JSON.stringify(tls)}: ${secured.join(',')}`,
    );
    assert.equal(
      secured.includes(NAME),
      tls.mode === 'ISTIO_MUTUAL',
      `${JSON.stringify(tls)}: only ISTIO_MUTUAL gives gRPC TLS (${secured.join(',')})`,
    );
  }
});
