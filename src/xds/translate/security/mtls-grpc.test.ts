import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import type { Resource } from '../../../api/resource.js';
import { packAny, TYPE, unpackAny, type AnyMessage } from '../../../protocol/protos.js';
import { buildPushContext, generate } from '../index.js';
import {
  checkEncodes,
  config,
  endpoint,
  grpc,
  grpcClientErrors,
  proxy,
  registry,
  res,
  service,
  type Loose,
} from '../testkit.js';

const ECHO = 'echo.default.svc.cluster.local';
const CLUSTER = `outbound|7070||${ECHO}`;

function clusters(resources: Resource[]): Map<string, Loose> {
  const push = buildPushContext(
    config(resources),
    registry(
      [service(ECHO, [grpc(7070)])],
      [
        endpoint(ECHO, '10.0.0.1', {
          labels: { 'security.istio.io/tlsMode': 'istio' },
          serviceAccount: 'echo',
        }),
      ],
    ),
  );
  const out = generate(push, proxy({ type: 'grpc' }), TYPE.cluster);
  checkEncodes(TYPE.cluster, out);
  return out as Map<string, Loose>;
}

const rule = (tls: object) =>
  res('DestinationRule', 'default', 'echo', { host: ECHO, trafficPolicy: { tls } });

interface ClusterType {
  decode(context: unknown, resource: AnyMessage): { name: string; error?: string };
}

/** grpc-js-xds's own CDS validation, with a bootstrap that defines these certificate providers. */
function grpcErrors(c: Loose, providers: Record<string, unknown>): string | undefined {
  const require = createRequire(import.meta.url);
  (require('@grpc/grpc-js-xds') as { register(): void }).register();
  const mod = require('@grpc/grpc-js-xds/build/src/xds-resource-type/cluster-resource-type.js') as {
    ClusterResourceType: { get(): ClusterType };
  };
  const context = { server: {}, bootstrap: { certificateProviders: providers } };
  return mod.ClusterResourceType.get().decode(context, packAny(TYPE.cluster, c)).error;
}

test('proxyless gRPC: no TLS without a rule (no auto mTLS, as in Istio)', () => {
  const c = clusters([]).get(CLUSTER);
  assert.equal(c.transport_socket, undefined);
  assert.equal(c.transport_socket_matches, undefined);
});

test('proxyless gRPC: ISTIO_MUTUAL refers to the bootstrap certificate provider `default`', () => {
  const c = clusters([rule({ mode: 'ISTIO_MUTUAL' })]).get(CLUSTER);
  assert.equal(c.transport_socket.name, 'envoy.transport_sockets.tls');
  const ctx: Loose = unpackAny(c.transport_socket.typed_config as AnyMessage);
  const common = ctx.common_tls_context;
  assert.equal(common.tls_certificate_provider_instance.instance_name, 'default');
  assert.equal(common.tls_certificate_provider_instance.certificate_name, 'default');
  const v = common.validation_context;
  assert.equal(v.ca_certificate_provider_instance.instance_name, 'default');
  assert.equal(v.ca_certificate_provider_instance.certificate_name, 'ROOTCA');
  assert.deepEqual(
    v.match_subject_alt_names.map((m: Loose) => String(m.exact)),
    ['spiffe://cluster.local/ns/default/sa/echo'],
  );
  // Nothing a gRPC client refuses: no SDS, no tls_params, no Istio ALPN.
  assert.deepEqual(common.tls_certificate_sds_secret_configs ?? [], []);
  assert.equal(common.tls_params ?? undefined, undefined);
  assert.deepEqual(common.alpn_protocols ?? [], []);
  // grpc-js-xds ACKs it when its bootstrap defines the provider, and NACKs it otherwise.
  assert.equal(grpcErrors(c, { default: {} }), undefined);
  assert.match(grpcErrors(c, {}) ?? '', /Unmatched .*instance_name: default/);
});

test('proxyless gRPC: rule SANs win; DISABLE, SIMPLE and MUTUAL send no TLS', () => {
  const own = clusters([rule({ mode: 'ISTIO_MUTUAL', subjectAltNames: ['spiffe://td/ns/a/sa/b'] })]).get(
    CLUSTER,
  );
  const ctx: Loose = unpackAny(own.transport_socket.typed_config as AnyMessage);
  assert.deepEqual(
    ctx.common_tls_context.validation_context.match_subject_alt_names.map((m: Loose) => String(m.exact)),
    ['spiffe://td/ns/a/sa/b'],
  );
  for (const mode of ['DISABLE', 'SIMPLE', 'MUTUAL']) {
    const out = clusters([rule({ mode })]);
    assert.equal(out.get(CLUSTER).transport_socket, undefined, mode);
    assert.deepEqual(grpcClientErrors(TYPE.cluster, out), [], mode);
  }
});
