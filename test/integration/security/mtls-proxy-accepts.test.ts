/**
 * The contract between the control plane's mTLS translation and the Trellis proxy: real proxies
 * (with a workload certificate source) subscribed to the real control plane ACK what it sends for
 * PERMISSIVE and STRICT sidecars and auto-mTLS clients, and compile it into the TLS model
 * (inbound chains by transport protocol and Istio's ALPN, workload secrets through sds-grpc,
 * transport_socket_matches with tlsMode endpoint metadata).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { findKind, registerKind } from '../../../src/api/kinds.js';
import { SECURITY_KINDS } from '../../../src/api/security/kinds.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import { staticCertificateSource } from '../../../src/proxy/identity/workload-certificate.js';
import type { TrellisProxy } from '../../../src/proxy/proxy.js';
import type { FakeAds } from '../../../src/proxy/testing/fake-ads.js';
import { startProxy } from '../../../src/proxy/testing/harness.js';
import { CertificateAuthority, workloadCertificate } from '../../../src/proxy/testing/mesh-tls.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

for (const def of SECURITY_KINDS) if (findKind(def.kind) === undefined) registerKind(def);

let mesh: TestMesh;
let reviews: TrellisProxy;
let productpage: TrellisProxy;
const REVIEWS_CLUSTER = 'outbound|9080||reviews.default.svc.cluster.local';

before(async () => {
  mesh = await startMesh({ debounceMs: 10, meshMtls: true });
  mesh.apply(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews }
spec:
  hosts: [reviews.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP, targetPort: 8080 }]
  endpoints:
  - address: 10.0.0.1
    labels: { app: reviews, security.istio.io/tlsMode: istio }
    serviceAccount: reviews
  - address: 10.0.0.2
    labels: { app: reviews }
`);
  const ca = await CertificateAuthority.create();
  const xds = { address: `127.0.0.1:${mesh.xdsPort}` } as FakeAds;
  const node = (name: string, ip: string, app: string) => ({
    nodeId: `sidecar~${ip}~${name}.default~default.svc.cluster.local`,
    cluster: `${app}.default`,
    mode: 'sidecar' as const,
    namespace: 'default',
    workloadName: name,
    labels: { app },
    instanceIps: [ip],
    locality: '',
  });
  reviews = await startProxy(xds, {
    bootstrap: node('reviews-1', '10.0.0.1', 'reviews'),
    workloadCertificates: staticCertificateSource(await workloadCertificate(ca, 'reviews')),
  });
  productpage = await startProxy(xds, {
    bootstrap: node('productpage-1', '10.1.0.1', 'productpage'),
    workloadCertificates: staticCertificateSource(await workloadCertificate(ca, 'productpage')),
  });
});

after(async () => {
  await reviews.stop(100);
  await productpage.stop(100);
  await mesh.stop();
});

/** Each inbound chain of the reviews sidecar as `transport[alpn]:mtls(secrets)|plain`. */
function inboundShape(): string[] {
  const l = [...reviews.snapshot().listeners.values()].find((x) => x.direction === 'INBOUND');
  assert.ok(l, 'an inbound listener');
  return l.filterChains.map((c) => {
    const alpn = (c.applicationProtocols ?? []).length > 0 ? '[istio...]' : '';
    const secrets = c.tls
      ? `(${[...c.tls.certificateSecrets, ...(c.tls.validationSecret ? [c.tls.validationSecret] : [])]
          .map((r) => `${r.name}@${r.source}`)
          .join(',')}${c.tls.requireClientCertificate ? ',client-cert' : ''})`
      : '';
    return `${c.transportProtocol ?? '*'}${alpn}:${c.tls ? `mtls${secrets}` : 'plain'}`;
  });
}

test('PERMISSIVE by default: the proxies ACK the mTLS config and compile it', async () => {
  await eventually(() => reviews.ready && productpage.ready, 'both proxies ready');
  await eventually(
    () =>
      assert.deepEqual(inboundShape(), [
        'tls[istio...]:mtls(default@workload,ROOTCA@workload,client-cert)',
        'raw_buffer:plain',
      ]),
    'PERMISSIVE inbound chains',
  );
  const cluster = productpage.snapshot().clusters.get(REVIEWS_CLUSTER);
  assert.ok(cluster);
  const istio = cluster.transportSocketMatches?.[0];
  assert.deepEqual(istio?.match, { tlsMode: 'istio' });
  assert.deepEqual(istio?.tls?.certificate, { name: 'default', source: 'workload' });
  assert.equal(istio?.tls?.sni, 'outbound_.9080_._.reviews.default.svc.cluster.local');
  await eventually(() => {
    const eps =
      productpage
        .snapshot()
        .endpoints.get(REVIEWS_CLUSTER)
        ?.localities.flatMap((l) => l.endpoints) ?? [];
    assert.deepEqual(
      eps.map((e) => `${e.host}=${JSON.stringify(e.transportSocketMatch?.tlsMode ?? '-')}`).sort(),
      ['10.0.0.1="istio"', '10.0.0.2="-"'],
    );
  }, 'EDS tlsMode metadata');
  assert.equal(reviews.ads.stats.nacks, 0, reviews.ads.stats.lastNack);
  assert.equal(productpage.ads.stats.nacks, 0, productpage.ads.stats.lastNack);
});

test('STRICT mesh-wide: the sidecar compiles mTLS-only chains, nothing NACKed', async () => {
  mesh.apply(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec:
  mtls: { mode: STRICT }
`);
  await eventually(
    // Istio's STRICT chain matches TLS by transport alone (no ALPN list): any mesh client gets in.
    () => assert.deepEqual(inboundShape(), ['tls:mtls(default@workload,ROOTCA@workload,client-cert)']),
    'STRICT inbound chains',
  );
  assert.equal(reviews.ads.stats.nacks, 0, reviews.ads.stats.lastNack);
  assert.equal(productpage.ads.stats.nacks, 0, productpage.ads.stats.lastNack);
});
