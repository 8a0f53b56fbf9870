/**
 * xDS and the CA over TLS, as istiod's port 15012: the control plane serves the same gRPC
 * services on a second port with a certificate its own CA issues. A proxy that trusts the root
 * joins over TLS and gets config and a workload certificate; a client with another root, or
 * plaintext on the TLS port, is refused (and told which flag to fix); the serving certificate
 * names what proxies dial and is renewed without dropping the streams already open.
 */
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import net from 'node:net';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { after, before, test } from 'node:test';
import { validateResource } from '../../../src/api/validate.js';
import { CertificateAuthority } from '../../../src/ca/authority.js';
import { MemoryConfigStore } from '../../../src/config/memory-store.js';
import { ControlPlane } from '../../../src/controlplane/control-plane.js';
import { loadCaState, type CaState } from '../../../src/controlplane/ca-service-state.js';
import { memoryLogger, silentLogger } from '../../../src/core/logger.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import { parseAndValidate } from '../../../src/api/parse.js';
import { CaClient } from '../../../src/proxy/identity/ca-client.js';
import { CaCallError, grpcCertificateRequester } from '../../../src/proxy/identity/ca-client-transport.js';
import { fixedCredential } from '../../../src/proxy/identity/credential-source.js';
import type { TrellisProxy } from '../../../src/proxy/proxy.js';
import { startSidecar } from '../helpers/sidecar.js';
import { tempDir } from './ca-helpers.js';

let ca: CaState;
let cp: ControlPlane;
let plainPort: number;
let securePort: number;
let rootPem: string;
const proxies: TrellisProxy[] = [];
/** The serving certificate's lifetime: renewed at about half of it. */
const SERVING_TTL_SECONDS = 6;

const rootTls = (pem: string) => ({ rootCertsPem: pem, source: '--xds-root-ca root.pem' });

before(async () => {
  ca = await loadCaState({ stateDir: await tempDir() });
  rootPem = ca.authority.trustBundle().join('\n');
  const store = new MemoryConfigStore((r) => validateResource(r));
  for (const doc of parseAndValidate(
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: shop, namespace: default }
spec:
  hosts: [shop.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 8080, name: http, protocol: HTTP }]
  endpoints: [{ address: 10.1.0.1 }]
`,
    'mesh.yaml',
  ))
    store.apply(doc.resource!);
  cp = new ControlPlane({
    config: store,
    debounce: { quietMs: 10, maxMs: 500 },
    ca: { authority: ca.authority, credentials: ca.credentials },
    // Plaintext between sidecars: the proxies here without a certificate still take the config.
    meshMtls: false,
    secureXds: {
      host: '127.0.0.1',
      port: 0,
      extraSans: ['cp.example.com', '10.9.8.7'],
      ttlSeconds: SERVING_TTL_SECONDS,
    },
  });
  const bound = await cp.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 });
  plainPort = bound.xds.port;
  assert.ok(bound.secureXds, 'the TLS port is bound');
  securePort = bound.secureXds.port;
  assert.notEqual(securePort, plainPort);
});

after(async () => {
  await Promise.all(proxies.map((p) => p.stop(50)));
  await cp.stop();
});

/** The certificate the TLS port presents, verified against `rootPem` for `servername`. */
async function serverCertificate(servername: string, ca = rootPem): Promise<tls.PeerCertificate> {
  return await new Promise((resolve, reject) => {
    const s = tls.connect(
      { host: '127.0.0.1', port: securePort, servername, ca, ALPNProtocols: ['h2'] },
      () => {
        const cert = s.getPeerCertificate();
        s.end();
        resolve(cert);
      },
    );
    s.on('error', reject);
  });
}

test('the serving certificate names istiod, trellis-control-plane, localhost, loopback and --secure-san', async () => {
  const cert = await serverCertificate('istiod.istio-system.svc');
  const sans = (cert.subjectaltname ?? '').split(', ').sort();
  assert.deepEqual(sans, [
    'DNS:cp.example.com',
    'DNS:istiod.istio-system.svc',
    'DNS:localhost',
    'DNS:trellis-control-plane',
    'IP Address:0:0:0:0:0:0:0:1',
    'IP Address:10.9.8.7',
    'IP Address:127.0.0.1',
  ]);
  // Chains to the CA's root through its intermediate, and is no SPIFFE workload identity.
  const leaf = new X509Certificate(cert.raw);
  assert.ok(!(leaf.subjectAltName ?? '').includes('spiffe://'));
  // A name it does not carry fails verification.
  await assert.rejects(serverCertificate('evil.example.com'), /Hostname\/IP does not match|altnames/);
});

test('a proxy joining over TLS gets its config and a workload certificate', async () => {
  const credential = await ca.credentials.issue({
    namespace: 'default',
    serviceAccount: 'shop',
    kind: 'join',
  });
  const certificates = new CaClient({
    requester: grpcCertificateRequester(`127.0.0.1:${securePort}`, {
      tls: rootTls(rootPem),
      deadlineMs: 3000,
    }),
    credential: fixedCredential(credential),
    clock: {
      now: () => performance.now(),
      wallNow: () => Date.now(),
      setTimeout: (fn, ms) => {
        const t = setTimeout(fn, ms);
        return { cancel: () => clearTimeout(t) };
      },
    },
    random: () => 0.5,
    logger: silentLogger,
  });
  certificates.start();
  const cert = await certificates.ready();
  assert.equal(cert.identity, 'spiffe://cluster.local/ns/default/sa/shop');

  const proxy = await startSidecar(securePort, {
    app: 'shop',
    xdsTls: rootTls(rootPem),
    workloadCertificates: certificates,
  });
  proxies.push(proxy);
  after(() => certificates.close());
  await eventually(() => proxy.ready, 'ready over TLS');
  await eventually(
    () => proxy.snapshot().clusters.has('outbound|8080||shop.default.svc.cluster.local'),
    'config over TLS',
  );
  assert.equal(proxy.ads.stats.connects, 1);
});

test('a client with another root is refused, and told to fix --xds-root-ca', async () => {
  const other = await CertificateAuthority.create({ trustDomain: 'other.local' });
  const otherRoot = other.trustBundle().join('\n');
  const requester = grpcCertificateRequester(`127.0.0.1:${securePort}`, {
    tls: rootTls(otherRoot),
    deadlineMs: 2000,
    reconnectMaxMs: 500,
  });
  try {
    const err = await requester.request({ csr: 'x' }, 'token').then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof CaCallError, String(err));
    assert.equal(err.code, grpc.status.UNAVAILABLE, err.message);
    assert.match(err.message, /did not verify against --xds-root-ca root\.pem/);
  } finally {
    requester.close();
  }
  const { logger, lines } = memoryLogger();
  const proxy = await startSidecar(securePort, {
    app: 'stranger',
    ip: '10.9.0.7',
    xdsTls: rootTls(otherRoot),
    logger,
  });
  proxies.push(proxy);
  await eventually(
    () => lines.some((l) => l.includes('did not verify against --xds-root-ca root.pem')),
    'a warning naming the flag',
  );
  assert.equal(proxy.ready, false);
  assert.equal(proxy.ads.stats.connects, 0);
});

test('plaintext on the TLS port fails cleanly; the TLS port keeps serving', async () => {
  const requester = grpcCertificateRequester(`127.0.0.1:${securePort}`, {
    deadlineMs: 2000,
    reconnectMaxMs: 500,
  });
  try {
    await assert.rejects(
      requester.request({ csr: 'x' }, 'token'),
      (e: unknown) => e instanceof CaCallError && e.code === grpc.status.UNAVAILABLE,
    );
  } finally {
    requester.close();
  }
  // A raw HTTP/2 preface in the clear: the server closes the connection, nothing else happens.
  const closed = await new Promise<boolean>((resolve) => {
    const s = net.connect(securePort, '127.0.0.1', () => s.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
    s.on('close', () => resolve(true));
    s.on('error', () => undefined);
    s.resume();
  });
  assert.equal(closed, true);
  // And TLS on the plaintext port does not pass for a control plane either.
  const tlsOnPlain = grpcCertificateRequester(`127.0.0.1:${plainPort}`, {
    tls: rootTls(rootPem),
    deadlineMs: 2000,
    reconnectMaxMs: 500,
  });
  try {
    await assert.rejects(
      tlsOnPlain.request({ csr: 'x' }, 'token'),
      (e: unknown) => e instanceof CaCallError && e.code === grpc.status.UNAVAILABLE,
    );
  } finally {
    tlsOnPlain.close();
  }
  assert.equal((await serverCertificate('localhost')).subjectaltname?.includes('DNS:localhost'), true);
});

test('the serving certificate is renewed before expiry; streams opened before carry on', async () => {
  const proxy = await startSidecar(securePort, { app: 'renew', ip: '10.9.0.8', xdsTls: rootTls(rootPem) });
  proxies.push(proxy);
  await eventually(() => proxy.snapshot().clusters.size > 0, 'connected');
  const first = cp.servingCertificate!.current()!;
  await eventually(() => cp.servingCertificate!.current()!.notAfter.getTime() > first.notAfter.getTime(), {
    what: 'a renewed serving certificate',
    timeoutMs: SERVING_TTL_SECONDS * 1000,
  });
  // New connections get the new certificate...
  const fresh = await serverCertificate('localhost');
  assert.equal(
    new Date(fresh.valid_to).getTime(),
    Math.floor(cp.servingCertificate!.current()!.notAfter.getTime() / 1000) * 1000,
  );
  // ...while the proxy's stream is the one it opened first, and still takes pushes.
  for (const doc of parseAndValidate(
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: cart, namespace: default }
spec:
  hosts: [cart.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 8080, name: http, protocol: HTTP }]
  endpoints: [{ address: 10.1.0.2 }]
`,
    'cart.yaml',
  ))
    (cp.config as MemoryConfigStore).apply(doc.resource!);
  await eventually(
    () => proxy.snapshot().clusters.has('outbound|8080||cart.default.svc.cluster.local'),
    'the push after renewal',
  );
  assert.equal(proxy.ads.stats.connects, 1);
});
