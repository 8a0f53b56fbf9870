/**
 * Proxyless CDS under mesh mTLS: cluster.ts writes gRPC's certificate-provider TLS
 * (security/mtls-grpc.ts) and grpc-js-xds accepts what it gets.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Cluster } from '../../../protocol/envoy-types.js';
import { TYPE, unpackAny } from '../../../protocol/protos.js';
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
import { grpcErrors } from './testkit.js';

const ECHO = 'echo.default.svc.cluster.local';
const NAME = `outbound|50051||${ECHO}`;

function tlsOf(c: Cluster): Loose {
  return unpackAny((c as Loose).transport_socket.typed_config);
}

const PROVIDER_FORM = {
  tls_certificate_provider_instance: { instance_name: 'default', certificate_name: 'default' },
  validation_context: {
    ca_certificate_provider_instance: { instance_name: 'default', certificate_name: 'ROOTCA' },
  },
};

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
