/**
 * The CA and the credential key survive a control plane restart (the state directory), and a
 * plug-in CA directory (Istio's cacerts) is used as is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { CertificateAuthority } from '../../../src/ca/authority.js';
import { generateKeyAndCsr } from '../../../src/ca/workload.js';
import { grpcCertificateRequester } from '../../../src/proxy/identity/ca-client-transport.js';
import { startCaMesh, tempDir } from './ca-helpers.js';

test('a restarted control plane keeps its CA and credential key: old credentials and certificates stay valid', async () => {
  const stateDir = await tempDir();
  try {
    const first = await startCaMesh({ stateDir });
    assert.equal(first.ca.source, 'created');
    const port = Number(first.address.split(':')[1]);
    const credential = await first.ca.credentials.issue({
      namespace: 'shop',
      serviceAccount: 'cart',
      kind: 'workload',
    });
    const client = grpcCertificateRequester(first.address);
    const before = await client.request({ csr: (await generateKeyAndCsr()).csrPem }, credential);
    client.close();
    await first.stop();
    const files = (await fs.readdir(path.join(stateDir, 'ca'))).sort();
    assert.deepEqual(files, [
      'ca-cert.pem',
      'ca-key.pem',
      'cert-chain.pem',
      'credential-signing-key.pem',
      'root-cert.pem',
      'root-key.pem',
    ]);
    assert.equal((await fs.stat(path.join(stateDir, 'ca'))).mode & 0o777, 0o700);
    for (const secret of ['ca-key.pem', 'credential-signing-key.pem', 'root-key.pem'])
      assert.equal((await fs.stat(path.join(stateDir, 'ca', secret))).mode & 0o777, 0o600, secret);

    // Same port, same state directory: a restart.
    const second = await startCaMesh({ stateDir, port });
    const client2 = grpcCertificateRequester(second.address);
    try {
      assert.equal(second.ca.source, 'state');
      const after = await client2.request({ csr: (await generateKeyAndCsr()).csrPem }, credential);
      assert.deepEqual(after.trust_bundle, before.trust_bundle, 'same root');
      assert.equal(after.cert_chain?.[1], before.cert_chain?.[1], 'same intermediate');
      // The certificate issued before the restart verifies against the bundle served after it.
      const oldLeaf = new X509Certificate(before.cert_chain?.[0] as string);
      const inter = new X509Certificate(after.cert_chain?.[1] as string);
      const root = new X509Certificate(after.trust_bundle?.[0] as string);
      assert.ok(oldLeaf.verify(inter.publicKey) && inter.verify(root.publicKey));
    } finally {
      client2.close();
      await second.stop();
    }
  } finally {
    await fs.rm(stateDir, { recursive: true, force: true });
  }
});

test('--ca-dir: a plug-in CA is used as is and nothing of it is written to the state directory', async () => {
  const stateDir = await tempDir();
  const caDir = await tempDir('trellis-cacerts-');
  try {
    const plugged = await CertificateAuthority.create({ trustDomain: 'corp.example', clusterId: 'east' });
    await plugged.writePluginDirectory(caDir);
    const mesh = await startCaMesh({ stateDir, caDir, trustDomain: 'corp.example' });
    const client = grpcCertificateRequester(mesh.address);
    try {
      assert.equal(mesh.ca.source, 'plugin');
      const credential = await mesh.ca.credentials.issue({
        namespace: 'a',
        serviceAccount: 'b',
        kind: 'workload',
      });
      const res = await client.request({ csr: (await generateKeyAndCsr()).csrPem }, credential);
      assert.deepEqual(res.trust_bundle, plugged.trustBundle());
      assert.equal(res.cert_chain?.[1], plugged.issuerPem);
      assert.equal(
        new X509Certificate(res.cert_chain?.[0] as string).subjectAltName,
        'URI:spiffe://corp.example/ns/a/sa/b',
      );
      assert.deepEqual(await fs.readdir(path.join(stateDir, 'ca')), ['credential-signing-key.pem']);
    } finally {
      client.close();
      await mesh.stop();
    }
    // A broken plug-in directory stops the start with the file and the reason.
    await fs.rm(path.join(caDir, 'ca-key.pem'));
    await assert.rejects(startCaMesh({ stateDir, caDir }), /the plug-in CA file ca-key\.pem is missing/);
  } finally {
    await fs.rm(stateDir, { recursive: true, force: true });
    await fs.rm(caDir, { recursive: true, force: true });
  }
});
