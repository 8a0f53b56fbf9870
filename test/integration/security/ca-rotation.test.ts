/**
 * Root rotation with the control plane's CA: first the next root is added to the trust bundle
 * (--trusted-roots), then the CA switches to the next root's intermediate (a plug-in directory
 * whose root-cert.pem still holds the old root). At every step a workload with a certificate
 * from the old root and one from the new root complete mutual TLS with the bundles they got.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { CertificateAuthority } from '../../../src/ca/authority.js';
import { silentLogger } from '../../../src/core/logger.js';
import { CaClient } from '../../../src/proxy/identity/ca-client.js';
import { grpcCertificateRequester } from '../../../src/proxy/identity/ca-client-transport.js';
import { fixedCredential } from '../../../src/proxy/identity/credential-source.js';
import type { WorkloadCertificate } from '../../../src/proxy/identity/workload-certificate.js';
import { startCaMesh, tempDir, type CaMesh } from './ca-helpers.js';
import { systemClock } from '../../../src/core/clock.js';

async function certificateFrom(mesh: CaMesh, sa: string): Promise<WorkloadCertificate> {
  const credential = await mesh.ca.credentials.issue({
    namespace: 'shop',
    serviceAccount: sa,
    kind: 'workload',
  });
  const client = new CaClient({
    requester: grpcCertificateRequester(mesh.address),
    credential: fixedCredential(credential),
    clock: systemClock,
    random: () => 0,
    logger: silentLogger,
  });
  client.start();
  try {
    return await client.ready();
  } finally {
    client.close();
  }
}

/** Mutual TLS between two workloads, each trusting the bundle it got; resolves with the peer SAN the server saw. */
async function mtls(server: WorkloadCertificate, client: WorkloadCertificate): Promise<string> {
  const srv = tls.createServer(
    {
      cert: server.certChainPem,
      key: server.privateKeyPem,
      ca: server.rootCertsPem,
      requestCert: true,
      rejectUnauthorized: true,
    },
    (socket) => {
      socket.end(socket.getPeerCertificate().subjectaltname ?? '');
    },
  );
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    return await new Promise<string>((resolve, reject) => {
      const s = tls.connect({
        host: '127.0.0.1',
        port: (srv.address() as AddressInfo).port,
        cert: client.certChainPem,
        key: client.privateKeyPem,
        ca: client.rootCertsPem,
        // SPIFFE certificates name no host: the identity check is the SAN, done by the caller.
        checkServerIdentity: () => undefined,
      });
      let data = '';
      s.on('data', (d: Buffer) => (data += d.toString()));
      s.on('end', () => resolve(data));
      s.on('error', reject);
    });
  } finally {
    srv.close();
  }
}

test('root rotation: bundle with both roots, then the switch; old and new workloads keep talking', async () => {
  const stateDir = await tempDir();
  const work = await tempDir('trellis-rotation-');
  try {
    // Before: one root.
    let mesh = await startCaMesh({ stateDir });
    const port = Number(mesh.address.split(':')[1]);
    const oldRoot = mesh.ca.authority.trustBundle()[0] as string;
    const before = await certificateFrom(mesh, 'old');
    await mesh.stop();

    // The next root, made offline; the control plane trusts it before anyone uses it.
    const next = await CertificateAuthority.create({ clusterId: 'next' });
    const nextRoot = next.trustBundle()[0] as string;
    await fs.writeFile(path.join(work, 'next-root.pem'), nextRoot);
    mesh = await startCaMesh({ stateDir, port, trustedRootsFile: path.join(work, 'next-root.pem') });
    assert.deepEqual(mesh.ca.authority.trustBundle(), [oldRoot, nextRoot]);
    const step1 = await certificateFrom(mesh, 'step1');
    assert.equal(step1.rootCertsPem, oldRoot + nextRoot, 'the bundle a proxy gets has both roots');
    await mesh.stop();

    // The switch: the CA signs with the next root's intermediate; root-cert.pem keeps the old root.
    const nextDir = path.join(work, 'cacerts');
    await next.writePluginDirectory(nextDir);
    await fs.writeFile(path.join(nextDir, 'root-cert.pem'), nextRoot + oldRoot);
    mesh = await startCaMesh({ stateDir, port, caDir: nextDir });
    const after = await certificateFrom(mesh, 'new');
    assert.equal(after.rootCertsPem, nextRoot + oldRoot);
    await mesh.stop();

    // Old-root and new-root workloads, each with the bundle it received at step 1 or after the switch.
    assert.equal(await mtls(step1, after), 'URI:spiffe://cluster.local/ns/shop/sa/new');
    assert.equal(await mtls(after, step1), 'URI:spiffe://cluster.local/ns/shop/sa/step1');
    // A workload that never got the new bundle refuses the new root's certificates: why step 1
    // must reach every proxy (a renewal, i.e. half a certificate lifetime) before the switch.
    await assert.rejects(mtls(after, before), /certificate/);
    // As a server it refuses them too: the handshake ends before it sees (and echoes) a peer.
    assert.equal(await mtls(before, after).catch(() => ''), '');
  } finally {
    await fs.rm(stateDir, { recursive: true, force: true });
    await fs.rm(work, { recursive: true, force: true });
  }
});

test('--trusted-roots that is not PEM stops the start with the file and the reason', async () => {
  const stateDir = await tempDir();
  try {
    await fs.writeFile(path.join(stateDir, 'roots.pem'), 'hello');
    await assert.rejects(
      startCaMesh({ stateDir, trustedRootsFile: path.join(stateDir, 'roots.pem') }),
      /trusted root: no PEM certificate/,
    );
  } finally {
    await fs.rm(stateDir, { recursive: true, force: true });
  }
});
