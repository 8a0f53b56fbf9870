import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { CertificateAuthority } from '../ca/authority.js';
import { writeCertFiles, writeFileAtomic } from './cert-files.js';
import { issueWorkloadCertificate } from './testing/certificates.js';

let dir: string;
let ca: CertificateAuthority;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-certfiles-'));
  ca = await CertificateAuthority.create();
});
after(() => fs.rm(dir, { recursive: true, force: true }));

test("Istio's three files, the key readable only by this user; unchanged files are left alone", async () => {
  const out = path.join(dir, 'a', 'certs');
  const first = await issueWorkloadCertificate(ca);
  assert.deepEqual(await writeCertFiles(out, first), ['root-cert.pem', 'key.pem', 'cert-chain.pem']);
  assert.equal(await fs.readFile(path.join(out, 'cert-chain.pem'), 'utf8'), first.certChainPem);
  assert.equal(await fs.readFile(path.join(out, 'key.pem'), 'utf8'), first.privateKeyPem);
  assert.equal(await fs.readFile(path.join(out, 'root-cert.pem'), 'utf8'), first.rootCertsPem);
  assert.equal((await fs.stat(path.join(out, 'key.pem'))).mode & 0o777, 0o600);
  assert.equal((await fs.stat(path.join(out, 'cert-chain.pem'))).mode & 0o777, 0o644);
  const rootInode = (await fs.stat(path.join(out, 'root-cert.pem'))).ino;

  const second = await issueWorkloadCertificate(ca);
  assert.deepEqual(
    await writeCertFiles(out, second),
    ['key.pem', 'cert-chain.pem'],
    'same roots: not rewritten',
  );
  assert.equal((await fs.stat(path.join(out, 'root-cert.pem'))).ino, rootInode);
  assert.equal(await fs.readFile(path.join(out, 'key.pem'), 'utf8'), second.privateKeyPem);
  assert.deepEqual(
    (await fs.readdir(out)).sort(),
    ['cert-chain.pem', 'key.pem', 'root-cert.pem'],
    'no temporary files left',
  );
});

test('a key file someone loosened gets its mode back; a reader never sees a partial file', async () => {
  const out = path.join(dir, 'b');
  const cert = await issueWorkloadCertificate(ca);
  await writeCertFiles(out, cert);
  await fs.chmod(path.join(out, 'key.pem'), 0o644);
  await writeCertFiles(out, cert);
  assert.equal((await fs.stat(path.join(out, 'key.pem'))).mode & 0o777, 0o600);

  // Readers racing the writer see one whole version or the other.
  const file = path.join(out, 'race.pem');
  const versions = ['A'.repeat(200_000), 'B'.repeat(300_000)];
  await writeFileAtomic(file, versions[0] as string, 0o644);
  const reads: Promise<string>[] = [];
  const writes: Promise<boolean>[] = [];
  for (let i = 0; i < 20; i++) {
    writes.push(writeFileAtomic(file, versions[i % 2] as string, 0o644));
    reads.push(fs.readFile(file, 'utf8'));
  }
  await Promise.all(writes);
  for (const r of await Promise.all(reads))
    assert.ok(versions.includes(r), `a partial read of ${r.length} bytes`);
});

test('a directory that cannot be written is an error naming --cert-dir', async () => {
  const blocked = path.join(dir, 'blocked');
  await fs.writeFile(blocked, 'a file where the directory should be');
  await assert.rejects(
    writeCertFiles(path.join(blocked, 'certs'), await issueWorkloadCertificate(ca)),
    /--cert-dir .*blocked\/certs: cannot write the certificate files \(ENOTDIR\); choose a directory this user can write/,
  );
});
