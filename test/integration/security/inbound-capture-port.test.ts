/**
 * The inbound capture port (`--inbound-port`, where iptables sends a workload's inbound traffic)
 * must not be a way around the workload's own inbound listener: found by review, a plaintext
 * request there with `Host: reviews:9080` used to go straight to `inbound|9080||`, with no TLS
 * and no HTTP filters, past STRICT mTLS and every AuthorizationPolicy.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { eventually } from '../../../src/core/testing/eventually.js';
import { staticCertificateSource } from '../../../src/proxy/identity/workload-certificate.js';
import type { TrellisProxy } from '../../../src/proxy/proxy.js';
import type { FakeAds } from '../../../src/proxy/testing/fake-ads.js';
import { startProxy } from '../../../src/proxy/testing/harness.js';
import { CertificateAuthority, workloadCertificate } from '../../../src/proxy/testing/mesh-tls.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

let mesh: TestMesh;
let reviews: TrellisProxy;
let app: http.Server;
let appPort: number;

function get(port: number, host: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/', headers: { host } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (e) => resolve(`error ${e.message}`));
    req.end();
  });
}

const service = (port: number) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews }
spec:
  hosts: [reviews.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP, targetPort: ${port} }]
  endpoints:
  - address: 127.0.0.1
    labels: { app: reviews, security.istio.io/tlsMode: istio }
    serviceAccount: reviews
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: only-productpage, namespace: default }
spec:
  selector: { matchLabels: { app: reviews } }
  action: ALLOW
  rules:
  - from: [{ source: { principals: ["cluster.local/ns/default/sa/productpage"] } }]
`;

before(async () => {
  app = http.createServer((_req, res) => res.end('app'));
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  appPort = (app.address() as { port: number }).port;
  mesh = await startMesh({ debounceMs: 10, meshMtls: true });
  mesh.apply(service(appPort));
  const ca = await CertificateAuthority.create();
  reviews = await startProxy({ address: `127.0.0.1:${mesh.xdsPort}` } as FakeAds, {
    bootstrap: {
      nodeId: 'sidecar~127.0.0.1~reviews-1.default~default.svc.cluster.local',
      cluster: 'reviews.default',
      mode: 'sidecar',
      namespace: 'default',
      workloadName: 'reviews-1',
      labels: { app: 'reviews' },
      instanceIps: ['127.0.0.1'],
      locality: '',
    },
    workloadCertificates: staticCertificateSource(await workloadCertificate(ca, 'reviews')),
  });
});

after(async () => {
  await reviews.stop(100);
  await mesh.stop();
  await new Promise((r) => app.close(r));
});

const inboundListener = () =>
  [...reviews.snapshot().listeners.values()].find((l) => l.name === 'inbound|9080||');

test('PERMISSIVE: a plaintext request on the capture port goes through the listener, and RBAC denies it', async () => {
  await eventually(
    () => inboundListener()?.filterChains.some((c) => c.transportProtocol === 'raw_buffer') === true,
    {
      what: 'a PERMISSIVE inbound listener',
    },
  );
  // No principal (plaintext): the ALLOW policy for productpage's identity does not match.
  assert.equal(await get(reviews.listeners.ports.inbound, 'reviews:9080'), 403);
});

test('STRICT: the capture port does not serve a port whose listener takes only mTLS', async () => {
  mesh.apply(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec:
  mtls: { mode: STRICT }
`);
  await eventually(
    () => inboundListener()?.filterChains.every((c) => c.transportProtocol === 'tls') === true,
    { what: 'a STRICT inbound listener' },
  );
  assert.equal(await get(reviews.listeners.ports.inbound, 'reviews:9080'), 404);
  // Without policies the same request would reach the app: remove the ALLOW and it still may not.
  mesh.remove('AuthorizationPolicy', 'only-productpage');
  await eventually(async () => (await get(reviews.listeners.ports.inbound, 'reviews:9080')) === 404, {
    what: 'still refused without the policy',
  });
});
