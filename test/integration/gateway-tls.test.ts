/**
 * Gateway TLS termination end to end: Istio YAML in a config directory (a Gateway with
 * `tls.mode: SIMPLE` / `MUTUAL` and credentialName, a VirtualService, the Kubernetes Secrets
 * holding the certificates), the control plane serving them over SDS, and a Trellis gateway
 * proxy terminating HTTPS for node's own clients (HTTP/1.1 and h2 by ALPN). Secrets are
 * rotated and broken by rewriting the file, as a user would.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { parseAndValidate } from '../../src/api/parse.js';
import { DirectoryConfigStore } from '../../src/config/directory-store.js';
import { ControlPlane } from '../../src/controlplane/control-plane.js';
import { formatProblem } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { seededRandom } from '../../src/core/random.js';
import { issueCertificate, type TestCertificate } from '../../src/core/testing/certificates.js';
import { TrellisProxy } from '../../src/proxy/proxy.js';
import { startBackend, type Backend } from '../../src/proxy/testing/harness.js';
import { h2Get, httpsGet } from '../../src/proxy/testing/https-client.js';
import { eventually } from '../../src/core/testing/eventually.js';

const GATEWAY_ID = 'router~127.0.0.1~ingressgateway.istio-system~istio-system.svc.cluster.local';
const ca = issueCertificate({ commonName: 'Test CA', ca: true });
const shop = issueCertificate({ commonName: 'shop', dnsNames: ['shop.example.com'], issuer: ca });
const admin = issueCertificate({ commonName: 'admin', dnsNames: ['admin.example.com'], issuer: ca });
const client = issueCertificate({ commonName: 'client', issuer: ca });

let dir: string;
let store: DirectoryConfigStore;
let cp: ControlPlane;
let httpUrl: string;
let proxy: TrellisProxy;
let backend: Backend;
let port: number;

const b64 = (s: string) => Buffer.from(s).toString('base64');

function secretsYaml(shopCert: TestCertificate, shopKey = shopCert.keyPem): string {
  return `apiVersion: v1
kind: Secret
metadata: { name: shop-cert, namespace: istio-system }
type: kubernetes.io/tls
data:
  tls.crt: ${b64(shopCert.certPem)}
  tls.key: ${b64(shopKey)}
---
apiVersion: v1
kind: Secret
metadata: { name: admin-cert, namespace: istio-system }
type: kubernetes.io/tls
data:
  tls.crt: ${b64(admin.certPem)}
  tls.key: ${b64(admin.keyPem)}
  ca.crt: ${b64(ca.certPem)}
`;
}

function meshYaml(): string {
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: public, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: ${port}, name: https, protocol: HTTPS }
    hosts: [shop.example.com]
    tls: { mode: SIMPLE, credentialName: shop-cert }
  - port: { number: ${port}, name: https-admin, protocol: HTTPS }
    hosts: [admin.example.com]
    tls: { mode: MUTUAL, credentialName: admin-cert }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: shop, namespace: default }
spec:
  hosts: [shop.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: ${backend.port}, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1 }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: shop, namespace: default }
spec:
  hosts: [shop.example.com, admin.example.com]
  gateways: [istio-system/public]
  http:
  - route: [{ destination: { host: shop.default.svc.cluster.local, port: { number: ${backend.port} } } }]
`;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

async function writeSecrets(yaml: string): Promise<void> {
  await writeFile(path.join(dir, 'secrets.yaml'), yaml);
  await store.reload();
}

const shopGet = () => httpsGet(port, { servername: 'shop.example.com', ca: ca.certPem });

before(async () => {
  backend = await startBackend('shop');
  port = await freePort();
  dir = await mkdtemp(path.join(os.tmpdir(), 'trellis-gateway-tls-'));
  await writeFile(path.join(dir, 'mesh.yaml'), meshYaml());
  await writeFile(path.join(dir, 'secrets.yaml'), secretsYaml(shop));
  store = new DirectoryConfigStore(dir, { parse: parseAndValidate, rescanMs: 0 });
  await store.start();
  assert.deepEqual(store.errors(), []);
  cp = new ControlPlane({ config: store, debounce: { quietMs: 10, maxMs: 200 } });
  const bound = await cp.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 });
  httpUrl = `http://127.0.0.1:${bound.http.port}`;
  proxy = new TrellisProxy({
    xds: `127.0.0.1:${bound.xds.port}`,
    bootstrap: {
      nodeId: GATEWAY_ID,
      cluster: 'ingressgateway.istio-system',
      mode: 'gateway',
      namespace: 'istio-system',
      workloadName: 'ingressgateway',
      labels: { istio: 'ingressgateway' },
      instanceIps: ['127.0.0.1'],
      locality: '',
    },
    version: 'e2e',
    bindAddress: '127.0.0.1',
    adminAddress: '127.0.0.1',
    adminPort: 0,
    outboundPort: 0,
    inboundPort: 0,
    bindListeners: [port],
    clock: { now: () => performance.now(), wallNow: () => Date.now(), setTimeout: realSetTimeout },
    random: seededRandom(3),
    logger: silentLogger,
    accessLogStdout: { write: () => true },
    xdsBackoff: { baseMs: 20, maxMs: 200 },
  });
  await proxy.start();
  await eventually(async () => (await shopGet()).status === 200, 'HTTPS through the gateway');
});

after(async () => {
  await proxy?.stop(100);
  await cp?.stop();
  store?.close();
  await backend?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function realSetTimeout(fn: () => void, ms: number) {
  const t = setTimeout(fn, ms);
  return { cancel: () => clearTimeout(t) };
}

test('HTTPS through the gateway: HTTP/1.1 and h2 by ALPN reach the backend with the SDS certificate', async () => {
  const h1 = await shopGet();
  assert.equal(h1.status, 200);
  assert.equal(h1.serverCommonName, 'shop');
  assert.equal(h1.alpn, 'http/1.1');
  assert.equal((JSON.parse(h1.body) as { backend: string }).backend, 'shop');
  const h2 = await h2Get(port, { servername: 'shop.example.com', ca: ca.certPem });
  assert.equal(h2.status, 200);
  assert.equal(h2.alpn, 'h2');
  assert.equal(h2.serverCommonName, 'shop');
});

test('MUTUAL: a client without a certificate is refused; one signed by the CA gets through', async () => {
  await assert.rejects(httpsGet(port, { servername: 'admin.example.com', ca: ca.certPem }));
  const ok = await httpsGet(port, {
    servername: 'admin.example.com',
    ca: ca.certPem,
    cert: client.certPem,
    key: client.keyPem,
  });
  assert.equal(ok.status, 200);
  assert.equal(ok.serverCommonName, 'admin');
  const stranger = issueCertificate({ commonName: 'stranger' });
  const refused = await new Promise<boolean>((resolve) => {
    const s = tls.connect(
      {
        port,
        host: '127.0.0.1',
        servername: 'admin.example.com',
        ca: ca.certPem,
        cert: stranger.certPem,
        key: stranger.keyPem,
      },
      () => s.write('GET / HTTP/1.1\r\nhost: admin.example.com\r\n\r\n'),
    );
    s.once('data', () => resolve(false));
    s.on('error', () => resolve(true));
    s.on('close', () => resolve(true));
  });
  assert.equal(refused, true, 'a certificate from another CA is refused');
});

test('secrets never leave the control plane in clear: API, trellis get and config dump redact keys', async () => {
  const listed = (await (await fetch(`${httpUrl}/v1/config/secrets?namespace=istio-system`)).json()) as {
    items: { metadata: { name: string }; type: string; data: Record<string, string> }[];
  };
  const shopSecret = listed.items.find((s) => s.metadata.name === 'shop-cert');
  assert.equal(shopSecret?.type, 'kubernetes.io/tls');
  assert.deepEqual(shopSecret?.data, { 'tls.crt': b64(shop.certPem), 'tls.key': '[redacted]' });
  const dumpText = await (
    await fetch(`${httpUrl}/debug/config_dump?proxy=${encodeURIComponent(GATEWAY_ID)}`)
  ).text();
  assert.ok(!dumpText.includes(b64(shop.keyPem)) && !dumpText.includes(b64(admin.keyPem)));
  const dump = JSON.parse(dumpText) as { configs: { '@type': string; dynamic_active_secrets?: unknown[] }[] };
  const secrets = dump.configs.find((c) => c['@type'].endsWith('SecretsConfigDump'))
    ?.dynamic_active_secrets as {
    name: string;
    resource: { tlsCertificate?: { privateKey: { inlineBytes: string } } };
  }[];
  assert.deepEqual(secrets.map((s) => s.name).sort(), ['admin-cert', 'admin-cert-cacert', 'shop-cert']);
  assert.equal(
    secrets.find((s) => s.name === 'shop-cert')?.resource.tlsCertificate?.privateKey.inlineBytes,
    b64('[redacted]'),
  );
});

test('rotating the Secret serves the new certificate; a bad Secret is rejected with file and field, the last good one keeps serving', async () => {
  const rotated = issueCertificate({ commonName: 'shop v2', dnsNames: ['shop.example.com'], issuer: ca });
  await writeSecrets(secretsYaml(rotated));
  await eventually(async () => (await shopGet()).serverCommonName === 'shop v2', 'rotated certificate');

  const revision = store.revision;
  await writeSecrets(secretsYaml(rotated, shop.keyPem));
  const errors = store.errors();
  assert.equal(errors.length, 1);
  const source = errors[0]!.source as { file: string; doc: number };
  assert.equal(path.basename(source.file), 'secrets.yaml');
  assert.equal(source.doc, 1);
  assert.deepEqual(errors[0]!.problems.map(formatProblem), [
    'data.tls.key: the private key does not match the certificate (CN=shop v2)',
  ]);
  // The rejected file changes nothing: the store publishes no new revision (so nothing can be
  // pushed later), and the rotated certificate is still what is served.
  assert.equal(store.revision, revision, 'no new config revision from a rejected file');
  const still = await shopGet();
  assert.equal(still.status, 200);
  assert.equal(still.serverCommonName, 'shop v2');
  const configErrors = (await (await fetch(`${httpUrl}/debug/config_errors`)).json()) as unknown[];
  assert.equal(configErrors.length, 1);
});
