/**
 * Proxyless gRPC with the agent, end to end: two `trellis agent` processes (a server workload
 * and a client workload) get certificates of a few seconds from the control plane's CA, write
 * Istio's PEM files and gRPC bootstraps; a grpc-js-xds server and client on those bootstraps
 * talk under a mesh-wide STRICT PeerAuthentication, the server sees the client's SPIFFE
 * identity, and calls keep working while both certificates rotate underneath (new connections
 * use the renewed files).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { validateBootstrapConfig } from '@grpc/grpc-js-xds/build/src/xds-bootstrap.js';
import { findKind, registerKind } from '../../../src/api/kinds.js';
import { parseAndValidate } from '../../../src/api/parse.js';
import { SECURITY_KINDS } from '../../../src/api/security/kinds.js';
import { validateResource } from '../../../src/api/validate.js';
import { MemoryConfigStore } from '../../../src/config/memory-store.js';
import { loadCaState } from '../../../src/controlplane/ca-service-state.js';
import { ControlPlane } from '../../../src/controlplane/control-plane.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import { callEcho, ECHO_SERVICE, EchoClient, type EchoClientInstance } from '../helpers/echo-grpc.js';
import { startTrellis, type RunningCommand } from '../helpers/process.js';
import { tempDir } from './ca-helpers.js';

for (const def of SECURITY_KINDS) if (findKind(def.kind) === undefined) registerKind(def);
grpcXds.register();

const BOOTSTRAP_KEY = 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config';
const TTL_SECONDS = 4;

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

let dir: string;
let cp: ControlPlane;
let xds: string;
let port: number;
let server: grpcXds.XdsServer;
const agents: RunningCommand[] = [];
const clients: grpc.Client[] = [];
const seen: { san: string; serial: string }[] = [];

function apply(store: MemoryConfigStore, yaml: string): void {
  for (const doc of parseAndValidate(yaml, 'test.yaml')) {
    assert.ok(doc.resource, JSON.stringify(doc.problems));
    store.apply(doc.resource);
  }
}

async function startAgent(
  name: string,
  serviceAccount: string,
  labels: string,
  state: Awaited<ReturnType<typeof loadCaState>>,
) {
  await fs.writeFile(
    path.join(dir, `${name}.jwt`),
    await state.credentials.issue({ namespace: 'default', serviceAccount, kind: 'workload' }),
  );
  const agent = startTrellis(
    [
      'agent',
      '--credential-file',
      `${name}.jwt`,
      '--xds-address',
      xds,
      '--grpc-bootstrap',
      `${name}.json`,
      '--cert-dir',
      `${name}-certs`,
      '--cert-ttl',
      String(TTL_SECONDS),
      '--labels',
      labels,
      '--workload',
      `${name}-1`,
    ],
    { cwd: dir },
  );
  agents.push(agent);
  await agent.waitForOutput(
    new RegExp(`agent ready: workload certificate spiffe://cluster\\.local/ns/default/sa/${serviceAccount}`),
  );
  return { agent, bootstrap: await fs.readFile(path.join(dir, `${name}.json`), 'utf8') };
}

let clientBootstrap: string;
let clientAgent: RunningCommand;
let serverAgent: RunningCommand;

before(async () => {
  dir = await tempDir('trellis-agent-grpc-');
  const state = await loadCaState({ stateDir: path.join(dir, 'state') });
  const store = new MemoryConfigStore((r) => validateResource(r));
  cp = new ControlPlane({
    config: store,
    debounce: { quietMs: 10, maxMs: 1000 },
    meshMtls: true,
    ca: { authority: state.authority, credentials: state.credentials },
  });
  const bound = await cp.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 });
  xds = `127.0.0.1:${bound.xds.port}`;
  port = await freePort();
  apply(
    store,
    `apiVersion: networking.istio.io/v1
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
`,
  );
  const s = await startAgent('echo', 'echo', 'app=echo,security.istio.io/tlsMode=istio', state);
  serverAgent = s.agent;
  const c = await startAgent('client', 'client', 'app=client', state);
  clientAgent = c.agent;
  clientBootstrap = c.bootstrap;

  server = new grpcXds.XdsServer({ [BOOTSTRAP_KEY]: s.bootstrap });
  server.addService(ECHO_SERVICE, {
    Call: (call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) => {
      const peer = call.getAuthContext()?.sslPeerCertificate;
      seen.push({ san: peer?.subjectaltname ?? '(plaintext)', serial: peer?.serialNumber ?? '' });
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
  server?.forceShutdown();
  for (const a of agents) await a.stop();
  await cp?.stop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
  // grpc-js-xds keeps one process-wide xDS client per bootstrap with no way to close it; its
  // connection to the stopped control plane can be left half-closed (client CLOSE-WAIT, server
  // FIN-WAIT-2), which would keep this test file's process alive for ever. Cut what is left on
  // the control plane's port.
  const xdsPort = Number(xds.split(':')[1]);
  for (const h of (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles())
    if (h instanceof net.Socket && (h.localPort === xdsPort || h.remotePort === xdsPort)) h.destroy();
});

function newClient(): EchoClientInstance {
  const c: EchoClientInstance = new EchoClient(
    'xds:///echo.default.svc.cluster.local:50051',
    new grpcXds.XdsChannelCredentials(grpc.credentials.createInsecure()),
    // A fresh connection each time: it handshakes with whatever the files hold now.
    { [BOOTSTRAP_KEY]: clientBootstrap, 'grpc.use_local_subchannel_pool': 1 },
  );
  clients.push(c);
  return c;
}

test("the agent-written bootstrap is one grpc-js-xds accepts, in Istio's shape", () => {
  const b = JSON.parse(clientBootstrap) as Record<string, unknown> & {
    node: { id: string; metadata: Record<string, unknown> };
    certificate_providers: { default: { plugin_name: string; config: Record<string, string> } };
  };
  validateBootstrapConfig(b);
  assert.equal(b.node.id, 'grpc~127.0.0.1~client-1.default~default.svc.cluster.local');
  assert.equal(b.node.metadata.GENERATOR, 'grpc');
  assert.deepEqual(b.node.metadata.LABELS, { app: 'client' });
  assert.equal(b.server_listener_resource_name_template, 'xds.istio.io/grpc/lds/inbound/%s');
  assert.equal(b.certificate_providers.default.plugin_name, 'file_watcher');
  assert.deepEqual(b.certificate_providers.default.config, {
    certificate_file: path.join(dir, 'client-certs', 'cert-chain.pem'),
    private_key_file: path.join(dir, 'client-certs', 'key.pem'),
    ca_certificate_file: path.join(dir, 'client-certs', 'root-cert.pem'),
    // A tenth of the 4 s lifetime, at least 1 s, so renewals are read long before expiry.
    refresh_interval: '1s',
  });
});

test('under STRICT a proxyless client reaches the server with mTLS; the server sees its SPIFFE identity', async () => {
  const c = newClient();
  await eventually(
    async () => {
      const r = await callEcho(c, {}, {}, 2000);
      assert.equal(r.code, grpc.status.OK, r.details);
    },
    { what: "an mTLS call through the agents' files", timeoutMs: 15_000 },
  );
  assert.match(seen.at(-1)?.san ?? '', /URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/client/);
  const plain = new EchoClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  clients.push(plain);
  const refused = await callEcho(plain, {}, {}, 2000);
  assert.notEqual(refused.code, grpc.status.OK, 'STRICT refuses plaintext');
});

test('calls keep working while both agents rotate their certificates; new connections use the new ones', async () => {
  const renewals = (a: RunningCommand) => (a.stdout().match(/agent: renewed /g) ?? []).length;
  const start = { server: renewals(serverAgent), client: renewals(clientAgent) };
  const serialsBefore = new Set(seen.map((s) => s.serial));
  let calls = 0;
  const failures: string[] = [];
  const pairingMisses: string[] = [];
  const steady = newClient();
  await eventually(
    async () => {
      // One call on a long-lived connection and one on a new connection, every round.
      for (const c of [steady, newClient()]) {
        const r = await callEcho(c, {}, {}, 3000);
        calls++;
        if (r.code === grpc.status.OK) continue;
        // KNOWN GAP (see cert-files.ts): gRPC's file_watcher reads the chain and the key as two
        // files; a read straddling a renewal pairs a new chain with the old key, and a *new*
        // connection fails with "Failed to load credentials" until the next refresh (1 s here).
        if (c !== steady && /Failed to load credentials/.test(r.details ?? ''))
          pairingMisses.push(r.details ?? '');
        else failures.push(`${grpc.status[r.code]}: ${r.details}`);
      }
      assert.ok(renewals(serverAgent) >= start.server + 2, 'the server agent renewed twice');
      assert.ok(renewals(clientAgent) >= start.client + 2, 'the client agent renewed twice');
      assert.ok(
        seen.some((s) => !serialsBefore.has(s.serial)),
        'the server saw a client certificate issued after the rotation began',
      );
    },
    { what: 'two rotations of each certificate under calls', timeoutMs: 30_000, intervalMs: 100 },
  );
  assert.deepEqual(failures, [], `${failures.length} of ${calls} calls failed`);
  assert.ok(
    pairingMisses.length <= calls / 4,
    `${pairingMisses.length} of ${calls} new connections hit the pairing window`,
  );
  // Each file on disk holds the newest certificate and the key that goes with it.
  const { X509Certificate, createPrivateKey } = await import('node:crypto');
  const chain = await fs.readFile(path.join(dir, 'client-certs', 'cert-chain.pem'), 'utf8');
  const key = await fs.readFile(path.join(dir, 'client-certs', 'key.pem'), 'utf8');
  assert.ok(new X509Certificate(chain).checkPrivateKey(createPrivateKey(key)));
});
