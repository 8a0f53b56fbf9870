/**
 * The control plane's CA as a workload reaches it: CreateCertificate over gRPC on the xDS port,
 * authenticated by a credential the control plane issued. Every refusal is checked with the
 * status a client sees and the metric an operator sees.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, generateKeyPairSync, webcrypto } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { SignJWT } from 'jose';
import { CredentialAuthority } from '../../../src/ca/credentials.js';
import { generateKeyAndCsr } from '../../../src/ca/workload.js';
import { x509 } from '../../../src/ca/x509.js';
import { certificateService } from '../../../src/protocol/grpc-services.js';
import { CaCallError, grpcCertificateRequester } from '../../../src/proxy/identity/ca-client-transport.js';
import { startCaMesh, type CaMesh } from './ca-helpers.js';

const SHOP_CART = 'spiffe://cluster.local/ns/shop/sa/cart';

async function withMesh(
  fn: (mesh: CaMesh, call: ReturnType<typeof grpcCertificateRequester>) => Promise<void>,
  options: Parameters<typeof startCaMesh>[0] = {},
) {
  const mesh = await startCaMesh(options);
  const client = grpcCertificateRequester(mesh.address);
  try {
    await fn(mesh, client);
  } finally {
    client.close();
    await mesh.stop();
  }
}

async function refused(p: Promise<unknown>, code: grpc.status, message: RegExp) {
  await assert.rejects(p, (err) => {
    assert.ok(err instanceof CaCallError, String(err));
    assert.equal(grpc.status[err.code], grpc.status[code], err.message);
    assert.match(err.message, message);
    return true;
  });
}

function metric(mesh: CaMesh, line: string): number {
  const m = new RegExp(`^${line.replace(/[{}"|]/g, '\\$&')} (\\d+)$`, 'm').exec(mesh.cp.metrics.render());
  return m ? Number(m[1]) : 0;
}

test('CreateCertificate: the chain verifies to the trust bundle and names the credential identity', async () => {
  await withMesh(async (mesh, ca) => {
    const credential = await mesh.ca.credentials.issue({
      namespace: 'shop',
      serviceAccount: 'cart',
      kind: 'workload',
    });
    // As Istio's agent does, the CSR names the identity it expects; the CA checks it is the caller's.
    const { csrPem, privateKeyPem } = await generateKeyAndCsr({
      identity: { namespace: 'shop', serviceAccount: 'cart' },
    });
    const res = await ca.request({ csr: csrPem, validity_duration: 0 }, credential);
    assert.equal(res.cert_chain?.length, 2);
    assert.equal(res.trust_bundle?.length, 1);
    assert.equal(res.credential ?? '', '', 'no credential exchange for a workload credential');
    const [leaf, inter] = (res.cert_chain ?? []).map((p) => new X509Certificate(p)) as [
      X509Certificate,
      X509Certificate,
    ];
    const root = new X509Certificate(res.trust_bundle?.[0] as string);
    assert.ok(leaf.verify(inter.publicKey) && leaf.checkIssued(inter));
    assert.ok(inter.verify(root.publicKey) && inter.checkIssued(root));
    assert.equal(leaf.subjectAltName, `URI:${SHOP_CART}`);
    assert.ok(leaf.checkPrivateKey(createPrivateKey(privateKeyPem)));
    // Default lifetime 24 h.
    const life = Date.parse(leaf.validTo) - Date.now();
    assert.ok(life > 23.9 * 3600_000 && life <= 24 * 3600_000, String(life));

    // A CSR with no SAN at all gets the credential's identity too.
    const bare = await generateKeyAndCsr();
    const res2 = await ca.request({ csr: bare.csrPem }, credential);
    assert.equal(new X509Certificate(res2.cert_chain?.[0] as string).subjectAltName, `URI:${SHOP_CART}`);
    assert.equal(metric(mesh, 'citadel_server_success_cert_issuance_count'), 2);
    assert.equal(metric(mesh, 'trellis_ca_certificate_requests_total{result="issued",reason=""}'), 2);
    assert.equal(metric(mesh, 'citadel_server_root_cert_expiry_timestamp'), Date.parse(root.validTo) / 1000);
    assert.equal(
      metric(mesh, 'citadel_server_cert_chain_expiry_timestamp'),
      Date.parse(inter.validTo) / 1000,
    );
  });
});

test('a missing, malformed, forged, expired or wrong-audience credential is UNAUTHENTICATED', async () => {
  await withMesh(async (mesh, ca) => {
    const { csrPem } = await generateKeyAndCsr();
    // Raw clients: no authorization metadata, another scheme, a token with a space.
    const Client = grpc.makeGenericClientConstructor(certificateService(), 'CertificateService');
    const raw = new Client(mesh.address, grpc.credentials.createInsecure());
    const def = certificateService().CreateCertificate as grpc.MethodDefinition<object, object>;
    const rawCall = (auth: string[]) => {
      const md = new grpc.Metadata();
      for (const a of auth) md.add('authorization', a);
      return new Promise<grpc.ServiceError | null>((resolve) =>
        raw.makeUnaryRequest(
          def.path,
          def.requestSerialize,
          def.responseDeserialize,
          { csr: csrPem },
          md,
          (err) => resolve(err),
        ),
      );
    };
    try {
      const cases: [string[], RegExp][] = [
        [[], /no credential: send "authorization: Bearer <credential>"/],
        [['Basic dXNlcjpwYXNz'], /not "Bearer <credential>"/],
        [['Bearer a b'], /not "Bearer <credential>"/],
      ];
      for (const [auth, message] of cases) {
        const err = await rawCall(auth);
        assert.equal(err?.code, grpc.status.UNAUTHENTICATED, auth.join());
        assert.match(err?.details ?? '', message);
      }
    } finally {
      raw.close();
    }

    await refused(ca.request({ csr: csrPem }, ''), grpc.status.UNAUTHENTICATED, /no credential|not "Bearer/);
    await refused(ca.request({ csr: csrPem }, 'garbage'), grpc.status.UNAUTHENTICATED, /not a JWT/);

    const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const other = await CredentialAuthority.fromKey(otherKey);
    const forged = await other.issue({ namespace: 'shop', serviceAccount: 'cart', kind: 'workload' });
    await refused(
      ca.request({ csr: csrPem }, forged),
      grpc.status.UNAUTHENTICATED,
      /not signed by this control plane's key/,
    );

    // Same key, but issued two hours ago as a one-hour join token.
    const { loadOrCreateCredentialKey } = await import('../../../src/ca/credentials-key.js');
    const { key } = await loadOrCreateCredentialKey(`${mesh.stateDir}/ca`);
    const past = await CredentialAuthority.fromKey(key, {
      clock: { wallNow: () => Date.now() - 2 * 3600_000 },
    });
    const expired = await past.issue({ namespace: 'shop', serviceAccount: 'cart', kind: 'join' });
    await refused(
      ca.request({ csr: csrPem }, expired),
      grpc.status.UNAUTHENTICATED,
      /credential refused: the credential has expired/,
    );

    const wrongAudience = await new SignJWT({ ns: 'shop', sa: 'cart', kind: 'workload' })
      .setProtectedHeader({ alg: 'ES256', kid: mesh.ca.credentials.keyId })
      .setIssuer('trellis-control-plane')
      .setSubject(SHOP_CART)
      .setAudience('istio-ca')
      .setIssuedAt()
      .setExpirationTime('1h')
      .setJti('1')
      .sign(key);
    await refused(
      ca.request({ csr: csrPem }, wrongAudience),
      grpc.status.UNAUTHENTICATED,
      /not for trellis-ca/,
    );

    assert.equal(metric(mesh, 'citadel_server_authentication_failure_count'), 8);
    assert.equal(
      metric(mesh, 'trellis_ca_certificate_requests_total{result="refused",reason="unauthenticated"}'),
      8,
    );
    assert.equal(metric(mesh, 'citadel_server_success_cert_issuance_count'), 0);
  });
});

test('a CSR naming another identity is PERMISSION_DENIED; the credential decides who you are', async () => {
  await withMesh(async (mesh, ca) => {
    const credential = await mesh.ca.credentials.issue({
      namespace: 'shop',
      serviceAccount: 'cart',
      kind: 'workload',
    });
    const admin = await generateKeyAndCsr({
      identity: { namespace: 'kube-system', serviceAccount: 'admin' },
    });
    await refused(
      ca.request({ csr: admin.csrPem }, credential),
      grpc.status.PERMISSION_DENIED,
      /the CSR asks for spiffe:\/\/cluster\.local\/ns\/kube-system\/sa\/admin but the credential is for spiffe:\/\/cluster\.local\/ns\/shop\/sa\/cart/,
    );
    // The same identity in another trust domain is someone else too.
    const otherDomain = await generateKeyAndCsr({
      identity: { trustDomain: 'evil.example', namespace: 'shop', serviceAccount: 'cart' },
    });
    await refused(
      ca.request({ csr: otherDomain.csrPem }, credential),
      grpc.status.PERMISSION_DENIED,
      /evil\.example/,
    );
    // Two URI SANs, one of them ours: still refused (the certificate could not honour the other).
    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ]);
    const both = await x509.Pkcs10CertificateRequestGenerator.create({
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [
        new x509.SubjectAlternativeNameExtension([
          { type: 'url', value: SHOP_CART },
          { type: 'url', value: 'spiffe://cluster.local/ns/shop/sa/payments' },
        ]),
      ],
    });
    await refused(
      ca.request({ csr: both.toString('pem') }, credential),
      grpc.status.PERMISSION_DENIED,
      /sa\/payments/,
    );
    assert.equal(
      metric(mesh, 'trellis_ca_certificate_requests_total{result="refused",reason="identity_mismatch"}'),
      3,
    );
  });
});

test('bad CSRs are INVALID_ARGUMENT: weak RSA key, other curve, tampered signature, garbage, empty', async () => {
  await withMesh(async (mesh, ca) => {
    const credential = await mesh.ca.credentials.issue({
      namespace: 'shop',
      serviceAccount: 'cart',
      kind: 'workload',
    });
    const csrWith = async (alg: webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams, sign: object) => {
      const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
      return (await x509.Pkcs10CertificateRequestGenerator.create({ keys, signingAlgorithm: sign })).toString(
        'pem',
      );
    };
    const rsa1024 = await csrWith(
      {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: 1024,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      },
      { name: 'RSASSA-PKCS1-v1_5' },
    );
    await refused(
      ca.request({ csr: rsa1024 }, credential),
      grpc.status.INVALID_ARGUMENT,
      /RSA key has 1024 bits; at least 2048/,
    );
    const p521 = await csrWith({ name: 'ECDSA', namedCurve: 'P-521' }, { name: 'ECDSA', hash: 'SHA-512' });
    await refused(ca.request({ csr: p521 }, credential), grpc.status.INVALID_ARGUMENT, /not supported/);

    const { csrPem } = await generateKeyAndCsr();
    const der = Buffer.from(x509.PemConverter.decodeFirst(csrPem));
    der.writeUInt8((der.at(-1) as number) ^ 1, der.length - 1);
    await refused(
      ca.request({ csr: x509.PemConverter.encode(der, 'CERTIFICATE REQUEST') }, credential),
      grpc.status.INVALID_ARGUMENT,
      /signature does not verify/,
    );
    await refused(
      ca.request({ csr: 'hello' }, credential),
      grpc.status.INVALID_ARGUMENT,
      /not a PEM PKCS#10/,
    );
    await refused(ca.request({ csr: '' }, credential), grpc.status.INVALID_ARGUMENT, /csr: required/);
    await refused(
      ca.request({ csr: csrPem + 'A'.repeat(20_000) }, credential),
      grpc.status.INVALID_ARGUMENT,
      /a certificate request is at most 16384/,
    );
    // A CSR that parses but carries an unreadable subjectAltName extension.
    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ]);
    const junkSan = await x509.Pkcs10CertificateRequestGenerator.create({
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [new x509.Extension('2.5.29.17', false, new Uint8Array([0x04, 0x01, 0x00]))],
    });
    await refused(
      ca.request({ csr: junkSan.toString('pem') }, credential),
      grpc.status.INVALID_ARGUMENT,
      /subjectAltName extension cannot be read/,
    );
    await refused(
      ca.request({ csr: csrPem }, 'x'.repeat(9000)),
      grpc.status.UNAUTHENTICATED,
      /longer than 8192 bytes/,
    );
    await refused(
      ca.request({ csr: csrPem, validity_duration: -5 }, credential),
      grpc.status.INVALID_ARGUMENT,
      /validity_duration/,
    );
    assert.equal(metric(mesh, 'citadel_server_csr_parsing_err_count'), 7);
    assert.equal(metric(mesh, 'citadel_server_csr_count'), 9);
  });
});

test('validity: the CA default (configurable to seconds), the request, capped at the maximum', async () => {
  await withMesh(
    async (mesh, ca) => {
      const credential = await mesh.ca.credentials.issue({
        namespace: 'shop',
        serviceAccount: 'cart',
        kind: 'workload',
      });
      const lifetime = async (validity: number) => {
        const { csrPem } = await generateKeyAndCsr();
        const leaf = new X509Certificate(
          (await ca.request({ csr: csrPem, validity_duration: validity }, credential))
            .cert_chain?.[0] as string,
        );
        return Math.round((Date.parse(leaf.validTo) - Date.now()) / 1000);
      };
      assert.ok(Math.abs((await lifetime(0)) - 20) <= 1, 'default: the configured 20 s');
      assert.ok(Math.abs((await lifetime(7)) - 7) <= 1);
      assert.ok(Math.abs((await lifetime(10 * 86_400)) - 3600) <= 1, 'capped at the 1 h maximum');
    },
    { workloadTtlSeconds: 20, maxTtlSeconds: 3600 },
  );
});

test('a join token gets a certificate and a workload credential for the renewals after it expires', async () => {
  await withMesh(async (mesh, ca) => {
    const join = await mesh.ca.credentials.issue({
      namespace: 'vms',
      serviceAccount: 'billing',
      kind: 'join',
      ttlSeconds: 60,
    });
    const { csrPem } = await generateKeyAndCsr();
    const res = await ca.request({ csr: csrPem }, join);
    assert.equal(
      new X509Certificate(res.cert_chain?.[0] as string).subjectAltName,
      'URI:spiffe://cluster.local/ns/vms/sa/billing',
    );
    const exchanged = await mesh.ca.credentials.verify(res.credential ?? '');
    assert.equal(exchanged.kind, 'workload');
    assert.equal(exchanged.spiffeId, 'spiffe://cluster.local/ns/vms/sa/billing');
    const again = await ca.request({ csr: (await generateKeyAndCsr()).csrPem }, res.credential ?? '');
    assert.equal(again.credential ?? '', '');
  });
});

test('a burst of 100 proxies asking at once: every one gets its own certificate', async () => {
  await withMesh(async (mesh, ca) => {
    const csrs = await Promise.all(Array.from({ length: 100 }, () => generateKeyAndCsr()));
    const credentials = await Promise.all(
      csrs.map((_, i) =>
        mesh.ca.credentials.issue({ namespace: 'burst', serviceAccount: `w${i}`, kind: 'workload' }),
      ),
    );
    const answers = await Promise.all(
      csrs.map((c, i) => ca.request({ csr: c.csrPem }, credentials[i] as string)),
    );
    const leaves = answers.map((a) => new X509Certificate(a.cert_chain?.[0] as string));
    assert.deepEqual(
      leaves.map((l) => l.subjectAltName),
      csrs.map((_, i) => `URI:spiffe://cluster.local/ns/burst/sa/w${i}`),
    );
    assert.equal(new Set(leaves.map((l) => l.serialNumber)).size, 100, 'distinct serials');
    assert.ok(leaves.every((l, i) => l.checkPrivateKey(createPrivateKey(csrs[i]?.privateKeyPem as string))));
    assert.equal(metric(mesh, 'citadel_server_success_cert_issuance_count'), 100);
  });
});
