/**
 * Mesh mTLS between proxyless gRPC workloads (gRFC A29, Istio's arrangement): certificates in
 * files named by a `file_watcher` certificate provider in the bootstrap; Trellis refers to them
 * in the server's Listener (DownstreamTlsContext, client certificate required) and in the
 * client's Cluster (UpstreamTlsContext, from a DestinationRule ISTIO_MUTUAL). The workloads use
 * XdsServerCredentials / XdsChannelCredentials, without which grpc-js-xds ignores xDS security.
 *
 * The server is STRICT through Istio's rule for proxyless servers: PERMISSIVE (no
 * PeerAuthentication yet) plus the `security.istio.io/tlsMode: istio` label.
 */
import { X509Certificate } from 'node:crypto';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { CertificateAuthority } from '../../../src/ca/authority.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import { callEcho, EchoClient, type EchoClientInstance } from '../helpers/echo-grpc.js';
import { grpcBootstrap, startMesh, type TestMesh } from '../helpers/mesh.js';
import { nacksOf, nodeId, serviceAt, syncOf } from '../helpers/proxyless.js';
import { writeWorkloadCerts, type WorkloadCerts } from '../helpers/workload-certs.js';
import { freePort, startXdsEchoServer, type XdsEchoServer } from '../helpers/xds-echo-server.js';

let mesh: TestMesh;
let dir: string;
let ca: CertificateAuthority;
let server: XdsEchoServer;
const certs: Record<'server' | 'client' | 'rogue' | 'expired', WorkloadCerts> = {} as never;
const clients: EchoClientInstance[] = [];
const HOST = 'secure.default.svc.cluster.local';

before(async () => {
  mesh = await startMesh({ meshMtls: true });
  dir = await mkdtemp(path.join(tmpdir(), 'trellis-proxyless-'));
  // The CA's clock starts three days back, to issue one certificate that has since expired.
  const DAY = 24 * 3600 * 1000;
  const clock = { at: Date.now() - 3 * DAY, wallNow: () => clock.at };
  ca = await CertificateAuthority.create({ clock });
  certs.expired = await writeWorkloadCerts(
    ca,
    path.join(dir, 'expired'),
    { namespace: 'default', serviceAccount: 'client' },
    ca,
    3600,
  );
  clock.at = Date.now();
  const otherCa = await CertificateAuthority.create({ clusterId: 'elsewhere' });
  certs.server = await writeWorkloadCerts(ca, path.join(dir, 'server'), {
    namespace: 'default',
    serviceAccount: 'secure',
  });
  certs.client = await writeWorkloadCerts(ca, path.join(dir, 'client'), {
    namespace: 'default',
    serviceAccount: 'client',
  });
  // Same identity, another root; it trusts ours, so only the server can be the one refusing.
  certs.rogue = await writeWorkloadCerts(
    otherCa,
    path.join(dir, 'rogue'),
    { namespace: 'default', serviceAccount: 'client' },
    ca,
  );
  const port = await freePort();
  mesh.apply(serviceAt('secure', port));
  mesh.apply(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: secure }
spec:
  host: ${HOST}
  trafficPolicy: { tls: { mode: ISTIO_MUTUAL } }
`);
  server = await startXdsEchoServer({
    name: 'secure',
    port,
    bootstrap: grpcBootstrap(
      mesh.xdsPort,
      nodeId('secure-1'),
      { app: 'secure', 'security.istio.io/tlsMode': 'istio' },
      { instanceIps: '127.0.0.1', certDir: certs.server.dir },
    ),
  });
});

after(async () => {
  for (const c of clients) c.close();
  server?.close();
  await mesh.stop();
  await rm(dir, { recursive: true, force: true });
});

/** An xDS client of `host` as workload `workload`, with xDS credentials unless told otherwise. */
function xdsClient(workload: string, certDir: string, host = HOST, xdsCreds = true): EchoClientInstance {
  const insecure = grpc.credentials.createInsecure();
  const c = new EchoClient(
    `xds:///${host}:50051`,
    xdsCreds ? new grpcXds.XdsChannelCredentials(insecure) : insecure,
    {
      'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config': grpcBootstrap(
        mesh.xdsPort,
        nodeId(workload),
        {},
        { certDir },
      ),
    },
  );
  clients.push(c);
  return c;
}

/** A plain gRPC client straight to the server's port, with the TLS it is given. */
function directClient(creds: grpc.ChannelCredentials): EchoClientInstance {
  const c = new EchoClient(`127.0.0.1:${server.port}`, creds);
  clients.push(c);
  return c;
}

/** TLS with a client certificate from `from` (or none), trusting the mesh root; SAN not checked. */
async function tls(from: WorkloadCerts | undefined): Promise<grpc.ChannelCredentials> {
  const root = await readFile(path.join(certs.client.dir, 'root-cert.pem'));
  const key = from === undefined ? null : await readFile(path.join(from.dir, 'key.pem'));
  const chain = from === undefined ? null : await readFile(path.join(from.dir, 'cert-chain.pem'));
  // The server's certificate names a SPIFFE URI, not 127.0.0.1; that check is not under test here.
  return grpc.credentials.createSsl(root, key, chain, { checkServerIdentity: () => undefined });
}

/** Waits until the control plane sees `workload` holding its clusters (ACKed, no NACK). */
async function configured(workload: string): Promise<void> {
  await eventually(
    async () => (await syncOf(mesh, nodeId(workload))).CDS?.status === 'SYNCED',
    `${workload} ACKed CDS`,
  );
  assert.deepEqual(await nacksOf(mesh, nodeId(workload)), []);
}

test('a proxyless client reaches a STRICT proxyless server over mTLS; the server sees its SPIFFE identity', async () => {
  const c = xdsClient('client-1', certs.client.dir);
  await eventually(async () => (await callEcho(c)).backend === 'secure', 'an mTLS call through Trellis');
  assert.equal(server.peers.at(-1), certs.client.spiffe);
  assert.equal(certs.client.spiffe, 'spiffe://cluster.local/ns/default/sa/client');
  assert.deepEqual(await nacksOf(mesh, nodeId('secure-1')), [], 'the server ACKed its Listener');
  assert.deepEqual(await nacksOf(mesh, nodeId('client-1')), [], 'the client ACKed its Cluster');
});

test('the server refuses plaintext, no client certificate, another root, an expired certificate', async () => {
  const expired = new X509Certificate(await readFile(path.join(certs.expired.dir, 'cert-chain.pem')));
  assert.ok(new Date(expired.validTo).getTime() < Date.now(), `expired at ${expired.validTo}`);
  // The same path with the mesh certificate works, so each refusal is about what differs.
  const good = directClient(await tls(certs.client));
  await eventually(async () => (await callEcho(good)).backend === 'secure', 'a direct mTLS call');
  assert.equal(server.peers.at(-1), certs.client.spiffe);
  const attempts: [string, grpc.ChannelCredentials][] = [
    ['plaintext', grpc.credentials.createInsecure()],
    ['TLS, no client certificate', await tls(undefined)],
    ['client certificate from another root', await tls(certs.rogue)],
    ['expired client certificate from the mesh CA', await tls(certs.expired)],
  ];
  for (const [what, creds] of attempts) {
    const before = server.peers.length;
    const r = await callEcho(directClient(creds), {}, {}, 3000);
    assert.equal(r.code, grpc.status.UNAVAILABLE, `${what}: ${JSON.stringify(r)}`);
    assert.equal(server.peers.length, before, `${what}: the handler never ran`);
  }
});

test('through Trellis too: a client without xDS credentials, or with another root, is refused', async () => {
  const plain = xdsClient('client-plain', certs.client.dir, HOST, false);
  const rogue = xdsClient('client-rogue', certs.rogue.dir);
  for (const [workload, c] of [
    ['client-plain', plain],
    ['client-rogue', rogue],
  ] as const) {
    // A call makes the channel subscribe; wait until its configuration is in place.
    await callEcho(c, {}, {}, 1000);
    await configured(workload);
    const before = server.peers.length;
    const r = await callEcho(c, {}, {}, 3000);
    assert.equal(r.code, grpc.status.UNAVAILABLE, `${workload}: ${JSON.stringify(r)}`);
    assert.equal(server.peers.length, before, `${workload}: the handler never ran`);
  }
});

test("the client checks the server's SAN when the DestinationRule lists subjectAltNames", async () => {
  // Two more names for the same workload port, one expecting the server's identity, one not.
  for (const [name, sa] of [
    ['secure-san-ok', 'secure'],
    ['secure-san-wrong', 'someone-else'],
  ] as const) {
    mesh.apply(serviceAt(name, server.port));
    mesh.apply(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${name} }
spec:
  host: ${name}.default.svc.cluster.local
  trafficPolicy: { tls: { mode: ISTIO_MUTUAL, subjectAltNames: [spiffe://cluster.local/ns/default/sa/${sa}] } }
`);
  }
  const ok = xdsClient('client-san-ok', certs.client.dir, 'secure-san-ok.default.svc.cluster.local');
  await eventually(async () => (await callEcho(ok)).backend === 'secure', 'the expected SAN');
  const wrong = xdsClient('client-san-wrong', certs.client.dir, 'secure-san-wrong.default.svc.cluster.local');
  await callEcho(wrong, {}, {}, 1000);
  await configured('client-san-wrong');
  const before = server.peers.length;
  const r = await callEcho(wrong, {}, {}, 3000);
  assert.equal(r.code, grpc.status.UNAVAILABLE, JSON.stringify(r));
  assert.equal(server.peers.length, before, 'no call reached the server');
});

test('root rotation on disk: a server trusting old and new roots takes both, then drops the old one', async () => {
  // A second server with its own files, so the rotation touches nothing else.
  const newCa = await CertificateAuthority.create({ clusterId: 'next' });
  const rotating = await writeWorkloadCerts(ca, path.join(dir, 'rotating'), {
    namespace: 'default',
    serviceAccount: 'secure',
  });
  const onNewRoot = await writeWorkloadCerts(newCa, path.join(dir, 'new-root'), {
    namespace: 'default',
    serviceAccount: 'client',
  });
  const port = await freePort();
  mesh.apply(serviceAt('rotating', port));
  const s = await startXdsEchoServer({
    name: 'rotating',
    port,
    bootstrap: grpcBootstrap(
      mesh.xdsPort,
      nodeId('rotating-1'),
      { app: 'rotating', 'security.istio.io/tlsMode': 'istio' },
      { instanceIps: '127.0.0.1', certDir: rotating.dir },
    ),
  });
  try {
    // A new channel per call: a connection keeps the trust it was made with.
    const call = async (from: WorkloadCerts) => {
      const c = new EchoClient(`127.0.0.1:${port}`, await tls(from));
      try {
        return await callEcho(c, {}, {}, 2000);
      } finally {
        c.close();
      }
    };
    assert.equal((await call(certs.client)).backend, 'rotating');
    assert.equal((await call(onNewRoot)).code, grpc.status.UNAVAILABLE, 'the new root is not trusted yet');
    const roots = path.join(rotating.dir, 'root-cert.pem');
    await writeFile(roots, [...ca.trustBundle(), ...newCa.trustBundle()].join(''));
    await eventually(async () => (await call(onNewRoot)).backend === 'rotating', 'the new root trusted');
    assert.equal((await call(certs.client)).backend, 'rotating', 'the old root still trusted');
    await writeFile(roots, newCa.trustBundle().join(''));
    await eventually(
      async () => (await call(certs.client)).code === grpc.status.UNAVAILABLE,
      'the old root dropped',
    );
    assert.equal((await call(onNewRoot)).backend, 'rotating');
  } finally {
    s.close();
  }
});
