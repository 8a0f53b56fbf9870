/**
 * Mesh mTLS with a real data plane that speaks it today: a proxyless @grpc/grpc-js-xds client
 * with XdsChannelCredentials and Istio's bootstrap arrangement (a `file_watcher` certificate
 * provider named `default` over PEM files from the mesh CA), told by the control plane to use
 * ISTIO_MUTUAL by a DestinationRule. The server is a plain gRPC server requiring client
 * certificates from the same CA.
 *
 * Checked: the call succeeds and the server sees the client's SPIFFE identity; the client
 * refuses a server whose identity is not the destination's (the SANs come from the registry's
 * service accounts) and a server whose certificate comes from another root.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { CertificateAuthority } from '../../../src/ca/authority.js';
import { generateKeyAndCsr } from '../../../src/ca/workload.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import { callEcho, ECHO_SERVICE, EchoClient, type EchoClientInstance } from '../helpers/echo-grpc.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

grpcXds.register();

interface Credential {
  chain: string;
  key: string;
  root: string;
}

async function issue(ca: CertificateAuthority, serviceAccount: string): Promise<Credential> {
  const { privateKeyPem, csrPem } = await generateKeyAndCsr();
  const signed = await ca.signCsr(csrPem, { identity: { namespace: 'default', serviceAccount } });
  return { chain: signed.certChainPem.join(''), key: privateKeyPem, root: signed.rootPem };
}

interface TlsEcho {
  port: number;
  /** The client identities (URI SANs) the server saw, one per call. */
  peers: string[];
  close(): Promise<void>;
}

/** A gRPC echo server that requires a client certificate from `root`. */
async function startTlsEcho(server: Credential, root: string): Promise<TlsEcho> {
  const s = new grpc.Server();
  const out: TlsEcho = {
    port: 0,
    peers: [],
    close: () =>
      new Promise<void>((resolve) => {
        s.tryShutdown(() => resolve());
        setTimeout(() => s.forceShutdown(), 500).unref();
      }),
  };
  s.addService(ECHO_SERVICE, {
    Call: (call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) => {
      out.peers.push(call.getAuthContext()?.sslPeerCertificate?.subjectaltname ?? '');
      callback(null, { backend: 'echo', headers: {} });
    },
  });
  const creds = grpc.ServerCredentials.createSsl(
    Buffer.from(root),
    [{ cert_chain: Buffer.from(server.chain), private_key: Buffer.from(server.key) }],
    true,
  );
  out.port = await new Promise<number>((resolve, reject) =>
    s.bindAsync('127.0.0.1:0', creds, (err, port) => (err ? reject(err) : resolve(port))),
  );
  return out;
}

let mesh: TestMesh;
let dir: string;
let ca: CertificateAuthority;
let echo: TlsEcho;
let rogue: TlsEcho;
const clients: EchoClientInstance[] = [];

function serviceEntry(port: number, serviceAccount: string): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: echo }
spec:
  hosts: [echo.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 50051, name: grpc, protocol: GRPC }]
  endpoints:
  - address: 127.0.0.1
    ports: { grpc: ${port} }
    labels: { app: echo, security.istio.io/tlsMode: istio }
    serviceAccount: ${serviceAccount}
`;
}

before(async () => {
  ca = await CertificateAuthority.create();
  const other = await CertificateAuthority.create();
  dir = await mkdtemp(path.join(os.tmpdir(), 'trellis-mtls-grpc-'));
  const client = await issue(ca, 'client');
  await writeFile(path.join(dir, 'cert-chain.pem'), client.chain);
  await writeFile(path.join(dir, 'key.pem'), client.key);
  await writeFile(path.join(dir, 'root-cert.pem'), client.root);
  echo = await startTlsEcho(await issue(ca, 'echo'), client.root);
  // Same service account, another root: the client must not trust it.
  rogue = await startTlsEcho(await issue(other, 'echo'), client.root);
  mesh = await startMesh({ debounceMs: 10, meshMtls: true });
  mesh.apply(serviceEntry(echo.port, 'echo'));
  mesh.apply(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: echo }
spec:
  host: echo.default.svc.cluster.local
  trafficPolicy: { tls: { mode: ISTIO_MUTUAL } }
`);
});

after(async () => {
  for (const c of clients) c.close();
  await Promise.all([echo?.close(), rogue?.close(), mesh?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Istio's proxyless bootstrap: the xDS server and the `default` file_watcher provider. */
function bootstrap(): string {
  return JSON.stringify({
    xds_servers: [
      {
        server_uri: `127.0.0.1:${mesh.xdsPort}`,
        channel_creds: [{ type: 'insecure' }],
        server_features: ['xds_v3'],
      },
    ],
    node: {
      id: 'grpc~127.0.0.1~client.default~default.svc.cluster.local',
      locality: {},
      metadata: { GENERATOR: 'grpc', NAMESPACE: 'default', LABELS: { app: 'client' } },
    },
    certificate_providers: {
      default: {
        plugin_name: 'file_watcher',
        config: {
          certificate_file: path.join(dir, 'cert-chain.pem'),
          private_key_file: path.join(dir, 'key.pem'),
          ca_certificate_file: path.join(dir, 'root-cert.pem'),
          refresh_interval: '600s',
        },
      },
    },
  });
}

function client(): EchoClientInstance {
  const c = new EchoClient(
    'xds:///echo.default.svc.cluster.local:50051',
    new grpcXds.XdsChannelCredentials(grpc.credentials.createInsecure()),
    { 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config': bootstrap() },
  );
  clients.push(c);
  return c;
}

test('ISTIO_MUTUAL: the proxyless client presents its mesh identity and checks the server’s', async () => {
  const c = client();
  await eventually(
    async () => {
      const r = await callEcho(c, {}, {}, 2000);
      assert.equal(r.code, grpc.status.OK, r.details);
    },
    { what: 'an mTLS call to echo', timeoutMs: 10_000 },
  );
  assert.match(echo.peers.at(-1) ?? '', /URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/client/);
});

test('a server whose identity is not the destination’s is refused (SANs from the service accounts)', async () => {
  mesh.apply(serviceEntry(echo.port, 'someone-else'));
  const c = client();
  await eventually(
    async () => {
      const r = await callEcho(c, {}, {}, 2000);
      assert.equal(r.code, grpc.status.UNAVAILABLE, `${grpc.status[r.code]} ${r.details ?? ''}`);
    },
    { what: 'the SAN check to refuse echo', timeoutMs: 10_000 },
  );
  const calls = echo.peers.length;
  const r = await callEcho(c, {}, {}, 2000);
  assert.notEqual(r.code, grpc.status.OK);
  assert.equal(echo.peers.length, calls, 'no request reached the server');
  mesh.apply(serviceEntry(echo.port, 'echo'));
});

test('a server with a certificate from another root is refused', async () => {
  mesh.apply(serviceEntry(rogue.port, 'echo'));
  const c = client();
  await eventually(
    async () => {
      const r = await callEcho(c, {}, {}, 2000);
      assert.equal(r.code, grpc.status.UNAVAILABLE, `${grpc.status[r.code]} ${r.details ?? ''}`);
    },
    { what: 'the rogue server to be refused', timeoutMs: 10_000 },
  );
  assert.equal(rogue.peers.length, 0, 'no request reached the rogue server');
});
