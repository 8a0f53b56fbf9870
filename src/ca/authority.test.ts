import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, webcrypto } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { isTrellisError } from '../core/errors.js';
import { CertificateAuthority, PLUGIN_FILES } from './authority.js';
import { generateKeyAndCsr } from './workload.js';
import { x509 } from './x509.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const fixedClock = { wallNow: () => T0 };
const bookinfo = { namespace: 'bookinfo', serviceAccount: 'reviews' };

async function tmpDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'trellis-ca-'));
}

function certs(chain: { certChainPem: string[]; rootPem: string }) {
  return {
    leaf: new X509Certificate(chain.certChainPem[0] as string),
    inter: new X509Certificate(chain.certChainPem[1] as string),
    root: new X509Certificate(chain.rootPem),
  };
}

test('a workload certificate chains leaf -> intermediate -> root and names the SPIFFE identity', async () => {
  const ca = await CertificateAuthority.create();
  const { csrPem, privateKeyPem } = await generateKeyAndCsr();
  const chain = await ca.signCsr(csrPem, { identity: bookinfo });
  assert.equal(chain.certChainPem.length, 2);
  const { leaf, inter, root } = certs(chain);
  assert.ok(leaf.checkIssued(inter) && leaf.verify(inter.publicKey), 'leaf signed by the intermediate');
  assert.ok(inter.checkIssued(root) && inter.verify(root.publicKey), 'intermediate signed by the root');
  assert.ok(root.checkIssued(root) && root.verify(root.publicKey), 'root is self-signed');
  assert.ok(inter.ca && root.ca && !leaf.ca);
  assert.equal(leaf.subjectAltName, 'URI:spiffe://cluster.local/ns/bookinfo/sa/reviews');
  assert.ok(leaf.checkPrivateKey(createPrivateKey(privateKeyPem)), 'the leaf carries the workload key');
  assert.deepEqual([...(leaf.keyUsage ?? [])].sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  const ku = new x509.X509Certificate(chain.certChainPem[0] as string).getExtension(x509.KeyUsagesExtension);
  assert.equal(ku?.usages, x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment);
  assert.equal(leaf.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.equal(inter.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.deepEqual(ca.trustBundle(), [chain.rootPem]);
});

test("the CA decides the identity: the SANs in the CSR are ignored; the trust domain is the CA's", async () => {
  const ca = await CertificateAuthority.create({ trustDomain: 'mesh.example' });
  const { csrPem } = await generateKeyAndCsr({
    identity: { namespace: 'kube-system', serviceAccount: 'admin' },
  });
  const { leaf } = certs(
    await ca.signCsr(csrPem, { identity: { namespace: 'shop', serviceAccount: 'cart' } }),
  );
  assert.equal(leaf.subjectAltName, 'URI:spiffe://mesh.example/ns/shop/sa/cart');
  await assert.rejects(
    ca.signCsr(csrPem, { identity: { namespace: 'a/b', serviceAccount: 'cart' } }),
    (err) => isTrellisError(err, 'TRELLIS_INVALID_ARGUMENT') && err.path === 'identity.namespace',
  );
  // Another mesh's trust domain is refused, not signed.
  await assert.rejects(
    ca.signCsr(csrPem, {
      identity: { trustDomain: 'other.example', namespace: 'shop', serviceAccount: 'cart' },
    }),
    (err) => isTrellisError(err, 'TRELLIS_INVALID_ARGUMENT') && err.path === 'identity.trustDomain',
  );
  const same = certs(
    await ca.signCsr(csrPem, {
      identity: { trustDomain: 'mesh.example', namespace: 'shop', serviceAccount: 'cart' },
    }),
  );
  assert.equal(same.leaf.subjectAltName, 'URI:spiffe://mesh.example/ns/shop/sa/cart');
});

test('lifetimes: 24 h by default, backdated for skew, configurable to seconds, capped by the intermediate', async () => {
  const ca = await CertificateAuthority.create({ clock: fixedClock, intermediateTtlSeconds: 7 * 86_400 });
  const { csrPem } = await generateKeyAndCsr();
  const { leaf, inter, root } = certs(await ca.signCsr(csrPem, { identity: bookinfo }));
  assert.equal(Date.parse(leaf.validFrom), T0 - 300_000);
  assert.equal(Date.parse(leaf.validTo), T0 + 86_400_000);
  assert.equal(Date.parse(inter.validTo), T0 + 7 * 86_400_000);
  assert.equal(Date.parse(root.validTo), T0 + 3650 * 86_400_000);

  const short = certs(await ca.signCsr(csrPem, { identity: bookinfo, ttlSeconds: 20 })).leaf;
  assert.equal(Date.parse(short.validFrom), T0 - 2000, 'backdating is at most a tenth of the lifetime');
  assert.equal(Date.parse(short.validTo), T0 + 20_000);

  const capped = certs(await ca.signCsr(csrPem, { identity: bookinfo, ttlSeconds: 30 * 86_400 })).leaf;
  assert.equal(capped.validTo, inter.validTo, 'never outlives the intermediate');

  await assert.rejects(ca.signCsr(csrPem, { identity: bookinfo, ttlSeconds: 91 * 86_400 }), (err) =>
    isTrellisError(err, 'TRELLIS_INVALID_ARGUMENT'),
  );
  await assert.rejects(ca.signCsr(csrPem, { identity: bookinfo, ttlSeconds: 0 }), (err) =>
    isTrellisError(err, 'TRELLIS_INVALID_ARGUMENT'),
  );
  const configured = await CertificateAuthority.create({ clock: fixedClock, workloadTtlSeconds: 5 });
  assert.equal(
    Date.parse(certs(await configured.signCsr(csrPem, { identity: bookinfo })).leaf.validTo),
    T0 + 5000,
  );
});

test('a CSR whose signature does not verify is refused, and so is one that is not a CSR', async () => {
  const ca = await CertificateAuthority.create();
  const { csrPem } = await generateKeyAndCsr();
  const der = Buffer.from(x509.PemConverter.decodeFirst(csrPem));
  der.writeUInt8((der.at(-1) as number) ^ 0x01, der.length - 1); // the last byte of the signature
  const tampered = x509.PemConverter.encode(der, 'CERTIFICATE REQUEST');
  await assert.rejects(
    ca.signCsr(tampered, { identity: bookinfo }),
    (err) => isTrellisError(err, 'TRELLIS_INVALID_ARGUMENT') && /signature does not verify/.test(err.message),
  );
  await assert.rejects(
    ca.signCsr('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', {
      identity: bookinfo,
    }),
    (err) => isTrellisError(err, 'TRELLIS_INVALID_ARGUMENT') && err.path === 'csr',
  );
});

test('two workloads with CA-issued certificates complete a mutual TLS handshake', async () => {
  const ca = await CertificateAuthority.create();
  const issue = async (sa: string) => {
    const k = await generateKeyAndCsr();
    const c = await ca.signCsr(k.csrPem, { identity: { namespace: 'default', serviceAccount: sa } });
    return { key: k.privateKeyPem, cert: c.certChainPem.join(''), ca: ca.trustBundle() };
  };
  const [server, client] = await Promise.all([issue('server'), issue('client')]);
  const srv = tls.createServer({ ...server, requestCert: true, rejectUnauthorized: true }, (s) => {
    s.end((s.getPeerCertificate().subjectaltname ?? '') + '\n');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const port = (srv.address() as AddressInfo).port;
    const seen = await new Promise<{ authorized: boolean; peer: string; body: string }>((resolve, reject) => {
      const sock = tls.connect({ ...client, host: '127.0.0.1', port, checkServerIdentity: () => undefined });
      let body = '';
      sock.on('secureConnect', () => {
        const peer = sock.getPeerCertificate().subjectaltname ?? '';
        sock.on('data', (d: Buffer) => (body += d.toString()));
        sock.on('end', () => resolve({ authorized: sock.authorized, peer, body }));
      });
      sock.on('error', reject);
    });
    assert.equal(seen.authorized, true);
    assert.equal(seen.peer, 'URI:spiffe://cluster.local/ns/default/sa/server');
    assert.equal(seen.body.trim(), 'URI:spiffe://cluster.local/ns/default/sa/client');
  } finally {
    srv.close();
  }
});

test('trust bundle: the current root first, further roots kept for rotation, no duplicates', async () => {
  const ca = await CertificateAuthority.create();
  const next = await CertificateAuthority.create();
  const [current] = ca.trustBundle();
  const [nextRoot] = next.trustBundle();
  ca.addTrustedRoot(nextRoot as string);
  ca.addTrustedRoot(nextRoot as string);
  assert.deepEqual(ca.trustBundle(), [current, nextRoot]);
  assert.throws(
    () => ca.addTrustedRoot('not pem'),
    (err) => isTrellisError(err, 'TRELLIS_INVALID_ARGUMENT'),
  );
});

test("plug-in CA: loads Istio's layout and issues certificates that chain to root-cert.pem", async () => {
  const dir = await tmpDir();
  const source = await CertificateAuthority.create({ clusterId: 'east' });
  await source.writePluginDirectory(dir);
  assert.equal((await fs.stat(path.join(dir, PLUGIN_FILES.caKey))).mode & 0o777, 0o600);
  const ca = await CertificateAuthority.fromPluginDirectory(dir);
  assert.deepEqual(ca.trustBundle(), source.trustBundle());
  const { csrPem } = await generateKeyAndCsr();
  const chain = await ca.signCsr(csrPem, { identity: bookinfo });
  const { leaf, inter, root } = certs(chain);
  assert.equal(chain.certChainPem.length, 2);
  assert.equal(chain.certChainPem[1], source.issuerPem);
  assert.ok(leaf.verify(inter.publicKey) && inter.verify(root.publicKey));
  assert.match(inter.subject, /Trellis Intermediate CA east/);
  await fs.rm(dir, { recursive: true });
});

test('plug-in CA: a key that does not match ca-cert.pem is refused naming ca-key.pem', async () => {
  const [dir, other] = [await tmpDir(), await tmpDir()];
  await (await CertificateAuthority.create()).writePluginDirectory(dir);
  await (await CertificateAuthority.create()).writePluginDirectory(other);
  await fs.copyFile(path.join(other, PLUGIN_FILES.caKey), path.join(dir, PLUGIN_FILES.caKey));
  await assert.rejects(CertificateAuthority.fromPluginDirectory(dir), (err) => {
    assert.ok(isTrellisError(err, 'TRELLIS_INVALID_CONFIG'));
    assert.equal(err.file, path.join(dir, PLUGIN_FILES.caKey));
    assert.match(err.describe(), /ca-key\.pem: the private key does not match the certificate/);
    return true;
  });
  await Promise.all([fs.rm(dir, { recursive: true }), fs.rm(other, { recursive: true })]);
});

test('plug-in CA: ca-cert that does not chain to root-cert.pem, a missing file, a non-PEM file', async () => {
  const [dir, other] = [await tmpDir(), await tmpDir()];
  await (await CertificateAuthority.create()).writePluginDirectory(dir);
  await (await CertificateAuthority.create()).writePluginDirectory(other);
  const rootFile = path.join(dir, PLUGIN_FILES.rootCert);
  const chainFile = path.join(dir, PLUGIN_FILES.certChain);
  const intermediateOnly = await fs.readFile(path.join(dir, PLUGIN_FILES.caCert), 'utf8');

  await fs.copyFile(path.join(other, PLUGIN_FILES.rootCert), rootFile);
  await fs.writeFile(chainFile, intermediateOnly);
  await assert.rejects(
    CertificateAuthority.fromPluginDirectory(dir),
    (err) =>
      isTrellisError(err, 'TRELLIS_INVALID_CONFIG') &&
      err.file === chainFile &&
      /does not chain to a root/.test(err.message),
  );

  await fs.copyFile(path.join(other, PLUGIN_FILES.certChain), chainFile);
  await assert.rejects(
    CertificateAuthority.fromPluginDirectory(dir),
    (err) =>
      isTrellisError(err, 'TRELLIS_INVALID_CONFIG') &&
      err.file === chainFile &&
      /must be ca-cert\.pem/.test(err.message),
  );

  await fs.writeFile(rootFile, 'hello');
  await assert.rejects(
    CertificateAuthority.fromPluginDirectory(dir),
    (err) =>
      isTrellisError(err, 'TRELLIS_INVALID_CONFIG') &&
      err.file === rootFile &&
      /no PEM certificate/.test(err.message),
  );

  await fs.rm(path.join(dir, PLUGIN_FILES.caKey));
  await assert.rejects(
    CertificateAuthority.fromPluginDirectory(dir),
    (err) => isTrellisError(err, 'TRELLIS_NOT_FOUND') && err.file === path.join(dir, PLUGIN_FILES.caKey),
  );
  await Promise.all([fs.rm(dir, { recursive: true }), fs.rm(other, { recursive: true })]);
});

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

test(
  "plug-in CA made by openssl with RSA keys (Istio's sample layout); openssl verifies the leaf",
  { skip: !hasOpenssl },
  async () => {
    const dir = await tmpDir();
    const run = (...args: string[]) => {
      const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    await fs.writeFile(
      path.join(dir, 'ext.cnf'),
      '[inter]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\n' +
        'subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n',
    );
    run(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'root-key.pem',
      '-out',
      'root-cert.pem',
      '-days',
      '30',
      '-subj',
      '/O=Istio/CN=Root CA',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
    run(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca-key.pem',
      '-out',
      'ca.csr',
      '-subj',
      '/O=Istio/CN=Intermediate CA/L=cluster1',
    );
    run(
      'x509',
      '-req',
      '-in',
      'ca.csr',
      '-CA',
      'root-cert.pem',
      '-CAkey',
      'root-key.pem',
      '-CAcreateserial',
      '-days',
      '10',
      '-extfile',
      'ext.cnf',
      '-extensions',
      'inter',
      '-out',
      'ca-cert.pem',
    );
    const caCert = await fs.readFile(path.join(dir, 'ca-cert.pem'), 'utf8');
    const rootCert = await fs.readFile(path.join(dir, 'root-cert.pem'), 'utf8');
    await fs.writeFile(path.join(dir, 'cert-chain.pem'), caCert + rootCert);

    const ca = await CertificateAuthority.fromPluginDirectory(dir);
    const { csrPem } = await generateKeyAndCsr();
    const chain = await ca.signCsr(csrPem, { identity: bookinfo });
    assert.equal(chain.certChainPem.length, 2, 'the root is not repeated in the chain');
    await fs.writeFile(path.join(dir, 'leaf.pem'), chain.certChainPem[0] as string);
    await fs.writeFile(path.join(dir, 'root-out.pem'), chain.rootPem);
    assert.match(
      run(
        'verify',
        '-CAfile',
        'root-out.pem',
        '-untrusted',
        'ca-cert.pem',
        '-purpose',
        'sslclient',
        'leaf.pem',
      ),
      /leaf\.pem: OK/,
    );
    assert.match(
      run(
        'verify',
        '-CAfile',
        'root-out.pem',
        '-untrusted',
        'ca-cert.pem',
        '-purpose',
        'sslserver',
        'leaf.pem',
      ),
      /OK/,
    );
    const { leaf, inter } = certs(chain);
    assert.ok(leaf.verify(inter.publicKey));
    assert.equal(leaf.subjectAltName, 'URI:spiffe://cluster.local/ns/bookinfo/sa/reviews');
    await fs.rm(dir, { recursive: true });
  },
);

test('weak or unsupported keys in a CSR are refused: RSA under 2048 bits, curves other than P-256/P-384', async () => {
  const ca = await CertificateAuthority.create();
  const identity = { namespace: 'default', serviceAccount: 'app' };
  const csrFor = async (
    algorithm: webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams,
    signing: webcrypto.Algorithm | webcrypto.EcdsaParams,
  ) => {
    const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({ keys, signingAlgorithm: signing });
    return csr.toString('pem');
  };
  const rsa = (bits: number) =>
    csrFor(
      {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: bits,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      },
      { name: 'RSASSA-PKCS1-v1_5' },
    );
  await assert.rejects(
    ca.signCsr(await rsa(1024), { identity }),
    (err) => isTrellisError(err, 'TRELLIS_INVALID_ARGUMENT') && /2048/.test(err.message),
  );
  await assert.rejects(
    ca.signCsr(await csrFor({ name: 'ECDSA', namedCurve: 'P-521' }, { name: 'ECDSA', hash: 'SHA-512' }), {
      identity,
    }),
    (err) => isTrellisError(err) && /not supported/.test(err.message),
  );
  // A 2048-bit RSA key is certified.
  const ok = await ca.signCsr(await rsa(2048), { identity });
  assert.equal(ok.certChainPem.length >= 2, true);
});
