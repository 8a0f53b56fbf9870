/**
 * Proxyless gRPC under STRICT: an xDS-enabled gRPC server (grpc-js-xds XdsServer with
 * XdsServerCredentials and a `file_watcher` certificate provider from the mesh CA) gets its
 * inbound listener from the control plane, and a mesh-wide STRICT PeerAuthentication makes it
 * require mesh mTLS. A proxyless client told ISTIO_MUTUAL by a DestinationRule gets through and
 * is seen with its SPIFFE identity; a plaintext client and a client with a certificate from
 * another root are refused.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { findKind, registerKind } from '../../../src/api/kinds.js';
import { SECURITY_KINDS } from '../../../src/api/security/kinds.js';
import { CertificateAuthority } from '../../../src/ca/authority.js';
import { generateKeyAndCsr } from '../../../src/ca/workload.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import { callEcho, ECHO_SERVICE, EchoClient, type EchoClientInstance } from '../helpers/echo-grpc.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

// Until the security kinds are registered by the control plane itself.
for (const def of SECURITY_KINDS) if (findKind(def.kind) === undefined) registerKind(def);
grpcXds.register();

const BOOTSTRAP_KEY = 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config';

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

async function writeCredential(dir: string, name: string, c: Credential): Promise<Record<string, string>> {
  const files = {
    certificate_file: path.join(dir, `${name}-chain.pem`),
    private_key_file: path.join(dir, `${name}-key.pem`),
    ca_certificate_file: path.join(dir, `${name}-root.pem`),
  };
  await writeFile(files.certificate_file, c.chain);
  await writeFile(files.private_key_file, c.key);
  await writeFile(files.ca_certificate_file, c.root);
  return files;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

let mesh: TestMesh;
let dir: string;
let port: number;
let server: grpcXds.XdsServer;
let rogue: Credential;
let root: string;
let clientFiles: Record<string, string>;
const peers: string[] = [];
const clients: grpc.Client[] = [];

function bootstrap(id: string, labels: Record<string, string>, files: Record<string, string>): string {
  return JSON.stringify({
    xds_servers: [
      {
        server_uri: `127.0.0.1:${mesh.xdsPort}`,
        channel_creds: [{ type: 'insecure' }],
        server_features: ['xds_v3'],
      },
    ],
    node: { id, locality: {}, metadata: { GENERATOR: 'grpc', NAMESPACE: 'default', LABELS: labels } },
    server_listener_resource_name_template: 'xds.istio.io/grpc/lds/inbound/%s',
    certificate_providers: {
      default: { plugin_name: 'file_watcher', config: { ...files, refresh_interval: '600s' } },
    },
  });
}

before(async () => {
  const ca = await CertificateAuthority.create();
  const other = await CertificateAuthority.create();
  dir = await mkdtemp(path.join(os.tmpdir(), 'trellis-mtls-grpc-server-'));
  const serverCred = await issue(ca, 'echo');
  const clientCred = await issue(ca, 'client');
  root = clientCred.root;
  rogue = await issue(other, 'client');
  const serverFiles = await writeCredential(dir, 'server', serverCred);
  clientFiles = await writeCredential(dir, 'client', clientCred);
  port = await freePort();

  mesh = await startMesh({ debounceMs: 10, meshMtls: true });
  mesh.apply(`apiVersion: networking.istio.io/v1
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
    serviceAccount: echo
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: echo }
spec:
  host: echo.default.svc.cluster.local
  trafficPolicy: { tls: { mode: ISTIO_MUTUAL } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec:
  mtls: { mode: STRICT }
`);

  server = new grpcXds.XdsServer({
    [BOOTSTRAP_KEY]: bootstrap(
      'grpc~127.0.0.1~echo-1.default~default.svc.cluster.local',
      { app: 'echo', 'security.istio.io/tlsMode': 'istio' },
      serverFiles,
    ),
  });
  server.addService(ECHO_SERVICE, {
    Call: (call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) => {
      peers.push(call.getAuthContext()?.sslPeerCertificate?.subjectaltname ?? '(plaintext)');
      callback(null, { backend: 'echo', headers: {} });
    },
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(
      `127.0.0.1:${port}`,
      new grpcXds.XdsServerCredentials(grpc.ServerCredentials.createInsecure()),
      (err) => (err ? reject(err) : resolve()),
    ),
  );
});

after(async () => {
  for (const c of clients) c.close();
  if (server) server.forceShutdown();
  await mesh?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function track<T extends grpc.Client>(c: T): T {
  clients.push(c);
  return c;
}

test('a proxyless client with ISTIO_MUTUAL reaches the STRICT server, which sees its identity', async () => {
  const c: EchoClientInstance = track(
    new EchoClient(
      'xds:///echo.default.svc.cluster.local:50051',
      new grpcXds.XdsChannelCredentials(grpc.credentials.createInsecure()),
      {
        [BOOTSTRAP_KEY]: bootstrap(
          'grpc~127.0.0.2~client-1.default~default.svc.cluster.local',
          { app: 'client' },
          clientFiles,
        ),
      },
    ),
  );
  await eventually(
    async () => {
      const r = await callEcho(c, {}, {}, 2000);
      assert.equal(r.code, grpc.status.OK, r.details);
    },
    { what: 'an mTLS call to the xDS server', timeoutMs: 10_000 },
  );
  assert.match(peers.at(-1) ?? '', /URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/client/);
});

test('a plaintext client and a client with a certificate from another root are refused', async () => {
  const before = peers.length;
  const plain: EchoClientInstance = track(
    new EchoClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure()),
  );
  const r1 = await callEcho(plain, {}, {}, 2000);
  assert.notEqual(r1.code, grpc.status.OK, 'plaintext refused');
  const foreign: EchoClientInstance = track(
    new EchoClient(
      `127.0.0.1:${port}`,
      grpc.credentials.createSsl(Buffer.from(root), Buffer.from(rogue.key), Buffer.from(rogue.chain), {
        checkServerIdentity: () => undefined,
      }),
    ),
  );
  const r2 = await callEcho(foreign, {}, {}, 2000);
  assert.notEqual(r2.code, grpc.status.OK, 'foreign root refused');
  // A client of the right root without a client certificate is refused too.
  const anonymous: EchoClientInstance = track(
    new EchoClient(
      `127.0.0.1:${port}`,
      grpc.credentials.createSsl(Buffer.from(root), null, null, { checkServerIdentity: () => undefined }),
    ),
  );
  const r3 = await callEcho(anonymous, {}, {}, 2000);
  assert.notEqual(r3.code, grpc.status.OK, 'no client certificate refused');
  assert.equal(peers.length, before, 'none of them reached the service');
});

test('the control plane drives it: with the mesh DISABLE the same server takes plaintext', async () => {
  mesh.apply(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec:
  mtls: { mode: DISABLE }
`);
  // Its own subchannel: the earlier refused one may still be backing off.
  const plain: EchoClientInstance = track(
    new EchoClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
    }),
  );
  await eventually(
    async () => {
      const r = await callEcho(plain, {}, {}, 2000);
      assert.equal(r.code, grpc.status.OK, r.details);
    },
    { what: 'plaintext to be served', timeoutMs: 10_000 },
  );
  assert.equal(peers.at(-1), '(plaintext)');
});
