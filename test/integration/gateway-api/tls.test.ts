/**
 * HTTPS listeners of a Gateway API Gateway end to end: certificateRefs to Kubernetes Secrets
 * served over SDS to a real Trellis gateway proxy; a Secret in another namespace is served only
 * once a ReferenceGrant there allows the Gateway to read it, and stops when the grant goes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { eventually } from '../../../src/core/testing/eventually.js';
import { issueCertificate, type TestCertificate } from '../../../src/core/testing/certificates.js';
import { silentLogger } from '../../../src/core/logger.js';
import { seededRandom } from '../../../src/core/random.js';
import { TrellisProxy } from '../../../src/proxy/proxy.js';
import { httpsGet } from '../../../src/proxy/testing/https-client.js';
import { startBackend, type Backend } from '../../../src/proxy/testing/harness.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { realClock } from '../helpers/sidecar.js';

const ca = issueCertificate({ commonName: 'Test CA', ca: true });
const shop = issueCertificate({ commonName: 'shop', dnsNames: ['shop.example.com'], issuer: ca });
const admin = issueCertificate({ commonName: 'admin', dnsNames: ['admin.example.com'], issuer: ca });

let mesh: TestMesh;
let gateway: TrellisProxy;
let backend: Backend;
let port: number;
let passthroughPort: number;
let tlsBackend: tls.Server;
let tlsBackendPort: number;
const secure = issueCertificate({ commonName: 'secure', dnsNames: ['secure.example.com'], issuer: ca });
// One listener, two certificates for the same name: RSA and ECDSA (Istio serves up to two).
const dualRsa = issueCertificate({
  commonName: 'dual-rsa',
  dnsNames: ['dual.example.com'],
  issuer: ca,
  keyType: 'rsa',
});
const dualEc = issueCertificate({
  commonName: 'dual-ec',
  dnsNames: ['dual.example.com'],
  issuer: ca,
  keyType: 'ec',
});

const b64 = (s: string) => Buffer.from(s).toString('base64');
const secret = (name: string, ns: string, cert: TestCertificate) => `---
apiVersion: v1
kind: Secret
metadata: { name: ${name}, namespace: ${ns} }
type: kubernetes.io/tls
data:
  tls.crt: ${b64(cert.certPem)}
  tls.key: ${b64(cert.keyPem)}
`;
const GRANT = `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: { name: gateways-read-certs, namespace: certs }
spec:
  from: [{ group: gateway.networking.k8s.io, kind: Gateway, namespace: infra }]
  to: [{ group: "", kind: Secret }]
`;

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

const getAs = (servername: string) => httpsGet(port, { servername, ca: ca.certPem });
const reachable = async (servername: string) => {
  try {
    return (await getAs(servername)).status === 200;
  } catch {
    return false;
  }
};

before(async () => {
  backend = await startBackend('shop');
  port = await freePort();
  passthroughPort = await freePort();
  // A backend terminating its own TLS: the gateway passes the bytes through, chosen by SNI.
  tlsBackend = tls.createServer({ cert: secure.certPem, key: secure.keyPem }, (s) =>
    s.on('data', (d) => s.write(`secure:${d.toString()}`)),
  );
  await new Promise<void>((r) => tlsBackend.listen(0, '127.0.0.1', () => r()));
  tlsBackendPort = (tlsBackend.address() as net.AddressInfo).port;
  mesh = await startMesh();
  mesh.apply(
    secret('shop-cert', 'infra', shop) +
      secret('admin-cert', 'certs', admin) +
      secret('dual-rsa', 'infra', dualRsa) +
      secret('dual-ec', 'infra', dualEc) +
      `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: shop, namespace: shop }
spec:
  hosts: [shop.shop.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: ${backend.port}, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: web, namespace: infra }
spec:
  gatewayClassName: istio
  listeners:
  - name: shop
    port: ${port}
    protocol: HTTPS
    hostname: shop.example.com
    tls: { mode: Terminate, certificateRefs: [{ kind: Secret, name: shop-cert }] }
    allowedRoutes: { namespaces: { from: All } }
  - name: admin
    port: ${port}
    protocol: HTTPS
    hostname: admin.example.com
    tls: { certificateRefs: [{ name: admin-cert, namespace: certs }] }
    allowedRoutes: { namespaces: { from: All } }
  - name: dual
    port: ${port}
    protocol: HTTPS
    hostname: dual.example.com
    tls: { certificateRefs: [{ name: dual-rsa }, { name: dual-ec } ] }
    allowedRoutes: { namespaces: { from: All } }
  - name: passthrough
    port: ${passthroughPort}
    protocol: TLS
    hostname: "*.example.com"
    tls: { mode: Passthrough }
    allowedRoutes: { namespaces: { from: All } }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: secure, namespace: shop }
spec:
  hosts: [secure.shop.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: ${tlsBackendPort}, name: tls, protocol: TLS }]
  endpoints: [{ address: 127.0.0.1 }]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: { name: secure, namespace: shop }
spec:
  parentRefs: [{ name: web, namespace: infra, sectionName: passthrough }]
  hostnames: [secure.example.com]
  rules: [{ backendRefs: [{ name: secure, port: ${tlsBackendPort} }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: shop, namespace: shop }
spec:
  parentRefs: [{ name: web, namespace: infra }]
  rules: [{ backendRefs: [{ name: shop, port: ${backend.port} }] }]
`,
  );
  gateway = new TrellisProxy({
    xds: `127.0.0.1:${mesh.xdsPort}`,
    bootstrap: {
      nodeId: 'router~127.0.0.1~web-gw-1.infra~infra.svc.cluster.local',
      cluster: 'web-gw.infra',
      mode: 'gateway',
      namespace: 'infra',
      workloadName: 'web-gw',
      labels: { 'gateway.networking.k8s.io/gateway-name': 'web' },
      instanceIps: ['127.0.0.1'],
      locality: '',
    },
    version: 'test',
    bindAddress: '127.0.0.1',
    adminAddress: '127.0.0.1',
    adminPort: 0,
    outboundPort: 0,
    inboundPort: 0,
    bindListeners: [port, passthroughPort],
    clock: realClock,
    random: seededRandom(5),
    logger: silentLogger,
    accessLogStdout: { write: () => true },
    xdsBackoff: { baseMs: 20, maxMs: 200 },
  });
  await gateway.start();
  await eventually(() => reachable('shop.example.com'), {
    what: 'HTTPS through the Gateway API listener',
    timeoutMs: 20_000,
  });
});

after(async () => {
  await gateway?.stop(100);
  await mesh?.stop();
  await backend?.close();
  await new Promise<void>((r) => (tlsBackend ? tlsBackend.close(() => r()) : r()));
});

/** One exchange over TLS to the passthrough listener: the backend's certificate CN and reply. */
async function passthrough(servername: string): Promise<{ cn: string; reply: string } | undefined> {
  return await new Promise((resolve) => {
    const s = tls.connect({ port: passthroughPort, host: '127.0.0.1', servername, ca: ca.certPem }, () =>
      s.write('hi'),
    );
    s.setTimeout(3000, () => s.destroy());
    s.once('data', (d) => {
      const cn = s.getPeerCertificate().subject?.CN;
      resolve({ cn: Array.isArray(cn) ? (cn[0] ?? '') : (cn ?? ''), reply: d.toString() });
      s.destroy();
    });
    s.on('error', () => resolve(undefined));
    s.on('close', () => resolve(undefined));
  });
}

test("a certificateRef in the Gateway's namespace terminates TLS with that Secret", async () => {
  const r = await getAs('shop.example.com');
  assert.equal(r.status, 200);
  assert.equal(r.serverCommonName, 'shop');
  assert.equal((JSON.parse(r.body) as { backend: string }).backend, 'shop');
});

test('a certificateRef into another namespace is served only while a ReferenceGrant allows it', async () => {
  assert.equal(await reachable('admin.example.com'), false, 'no grant: the listener is not served');
  const status = (await (await fetch(`${mesh.httpUrl}/v1/config/gtw/infra/web`)).json()) as {
    status: { listeners: { name: string; conditions: { type: string; reason: string }[] }[] };
  };
  const admin = status.status.listeners.find((l) => l.name === 'admin');
  assert.ok(admin?.conditions.some((c) => c.type === 'ResolvedRefs' && c.reason === 'RefNotPermitted'));

  mesh.apply(GRANT);
  await eventually(() => reachable('admin.example.com'), 'the granted certificate is served');
  assert.equal((await getAs('admin.example.com')).serverCommonName, 'admin');
  assert.equal(
    (await getAs('shop.example.com')).serverCommonName,
    'shop',
    'the other listener keeps its own',
  );

  mesh.remove('ReferenceGrant', 'gateways-read-certs', 'certs');
  await eventually(
    async () => !(await reachable('admin.example.com')),
    'withdrawing the grant stops serving it',
  );
  assert.equal(await reachable('shop.example.com'), true);
});

test('a TLSRoute passes TLS through to the backend chosen by SNI; other names get nothing', async () => {
  const got = await eventually(async () => (await passthrough('secure.example.com')) ?? false, {
    what: 'the passthrough listener serves the TLSRoute',
    timeoutMs: 20_000,
  });
  assert.deepEqual(
    got,
    { cn: 'secure', reply: 'secure:hi' },
    'the backend terminated TLS with its own certificate',
  );
  assert.equal(await passthrough('other.example.com'), undefined);
});

/** The CN of the certificate the gateway presents to a client accepting only `sigalgs`. */
async function presentedTo(sigalgs: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const s = tls.connect(
      { port, host: '127.0.0.1', servername: 'dual.example.com', ca: ca.certPem, sigalgs },
      () => {
        const cn = s.getPeerCertificate().subject?.CN;
        resolve(Array.isArray(cn) ? (cn[0] ?? '') : (cn ?? ''));
        s.destroy();
      },
    );
    s.setTimeout(3000, () => s.destroy(new Error('handshake timed out')));
    s.on('error', reject);
  });
}

test('several certificateRefs are all served: each client gets the one its key type allows', async () => {
  const status = (await (await fetch(`${mesh.httpUrl}/v1/config/gtw/infra/web`)).json()) as {
    status: { listeners: { name: string; conditions: { type: string; status: string }[] }[] };
  };
  const dual = status.status.listeners.find((l) => l.name === 'dual')!;
  assert.equal(dual.conditions.find((c) => c.type === 'ResolvedRefs')?.status, 'True');
  assert.equal(
    await eventually(async () => (await presentedTo('ecdsa_secp256r1_sha256').catch(() => '')) || false, {
      what: 'the dual listener serves',
      timeoutMs: 20_000,
    }),
    'dual-ec',
  );
  assert.equal(await presentedTo('rsa_pss_rsae_sha256:rsa_pkcs1_sha256'), 'dual-rsa');
  assert.equal((await getAs('dual.example.com')).status, 200, 'either way the route serves');
});
