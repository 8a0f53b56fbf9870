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

/**
 * grpc-js-xds's own validation of a Cluster (or a Listener), with a bootstrap that defines these
 * certificate providers.
 */
function grpcErrors(
  c: Loose,
  providers: Record<string, unknown>,
  type: typeof TYPE.cluster | typeof TYPE.listener = TYPE.cluster,
): string | undefined {
  const require = createRequire(import.meta.url);
  (require('@grpc/grpc-js-xds') as { register(): void }).register();
  const [file, cls] =
    type === TYPE.cluster
      ? ['cluster-resource-type.js', 'ClusterResourceType']
      : ['listener-resource-type.js', 'ListenerResourceType'];
  const mod = require(`@grpc/grpc-js-xds/build/src/xds-resource-type/${file}`) as Record<
    string,
    { get(): ClusterType }
  >;
  const context = { server: {}, bootstrap: { certificateProviders: providers } };
  return mod[cls]!.get().decode(context, packAny(type, c)).error;
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

const SERVER = 'xds.istio.io/grpc/lds/inbound/0.0.0.0:8080';

function serverListener(resources: Resource[], labels: Record<string, string> = {}): Loose {
  const push = buildPushContext(
    config(resources),
    registry(
      [service(ECHO, [grpc(7070)])],
      [endpoint(ECHO, '10.0.0.9', { ports: { 'grpc-7070': 8080 }, labels: { app: 'echo' } })],
    ),
  );
  const server = proxy({ type: 'grpc', ipAddresses: ['10.0.0.9'], labels: { app: 'echo', ...labels } });
  const out = generate(push, server, TYPE.listener, [SERVER, 'xds.istio.io/grpc/lds/inbound/0.0.0.0:9999']);
  checkEncodes(TYPE.listener, out);
  for (const l of out.values()) assert.equal(grpcErrors(l, { default: {} }, TYPE.listener), undefined);
  assert.equal(out.has('xds.istio.io/grpc/lds/inbound/0.0.0.0:9999'), false, 'a port it does not serve');
  return out.get(SERVER);
}

const pa = (mode: string) => res('PeerAuthentication', 'istio-system', 'default', { mtls: { mode } });

test('proxyless gRPC servers: STRICT requires a mesh client certificate from the bootstrap provider', () => {
  const l = serverListener([pa('STRICT')]);
  assert.deepEqual(l.address.socket_address, { address: '0.0.0.0', port_value: 8080 });
  assert.equal(l.listener_filters, undefined);
  assert.equal(l.filter_chains.length, 1);
  const ctx: Loose = unpackAny(l.filter_chains[0].transport_socket.typed_config as AnyMessage);
  assert.equal(ctx.require_client_certificate.value, true);
  assert.equal(ctx.common_tls_context.tls_certificate_provider_instance.instance_name, 'default');
  assert.equal(
    ctx.common_tls_context.validation_context.ca_certificate_provider_instance.certificate_name,
    'ROOTCA',
  );
  // Without the provider in its bootstrap, the server NACKs it.
  assert.match(grpcErrors(l, {}, TYPE.listener) ?? '', /Unmatched .*instance_name: default/);
  const hcm: Loose = unpackAny(l.filter_chains[0].filters[0].typed_config as AnyMessage);
  assert.deepEqual(Object.keys(hcm.route_config.virtual_hosts[0].routes[0].non_forwarding_action), []);
});

/** `mtls` or `plain`: its one filter chain, with or without an mTLS transport socket. */
function serverShape(l: Loose): string {
  const chains = (l.filter_chains ?? []) as Loose[];
  if (chains.length !== 1 || l.default_filter_chain !== undefined) return `unexpected ${JSON.stringify(l)}`;
  return chains[0].transport_socket !== undefined ? 'mtls' : 'plain';
}

test('proxyless gRPC servers: PERMISSIVE is STRICT with the tlsMode label, plaintext without; DISABLE plaintext', () => {
  assert.equal(serverShape(serverListener([pa('STRICT')])), 'mtls');
  assert.equal(serverShape(serverListener([])), 'plain');
  assert.equal(serverShape(serverListener([], { 'security.istio.io/tlsMode': 'istio' })), 'mtls');
  assert.equal(
    serverShape(serverListener([pa('DISABLE')], { 'security.istio.io/tlsMode': 'istio' })),
    'plain',
  );
});

test('grpc-js-xds sees a STRICT <-> DISABLE change as a different listener (it compares the HCM bytes)', () => {
  const require = createRequire(import.meta.url);
  const server = require('@grpc/grpc-js-xds/build/src/server-listener.js') as {
    listenersEquivalent: (this: void, a: object, b: object) => boolean;
  };
  const resources = require('@grpc/grpc-js-xds/build/src/resources.js') as {
    decodeSingleResource: (this: void, typeUrl: string, bytes: Uint8Array) => object;
  };
  const { listenersEquivalent } = server;
  // Decoded the way the client decodes it (defaults filled in).
  const decoded = (l: Loose): object =>
    resources.decodeSingleResource(TYPE.listener, packAny(TYPE.listener, l).value);
  const strict = decoded(serverListener([pa('STRICT')]));
  const plain = decoded(serverListener([pa('DISABLE')]));
  assert.equal(listenersEquivalent(strict, plain), false);
  assert.equal(listenersEquivalent(plain, strict), false);
});
