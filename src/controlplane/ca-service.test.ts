/**
 * CaService without the network: seeded mutations of a CSR never crash it nor yield INTERNAL,
 * and a mutated CSR is never signed for an identity other than the credential's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { CertificateAuthority } from '../ca/authority.js';
import { CredentialAuthority } from '../ca/credentials.js';
import { generateKeyAndCsr } from '../ca/workload.js';
import { x509 } from '../ca/x509.js';
import { MetricsRegistry } from '../core/metrics.js';
import { seededRandom } from '../core/random.js';
import { CaRequestError, CaService, bearerToken } from './ca-service.js';

test('bearerToken: exactly one "Bearer <token>"', () => {
  assert.equal(bearerToken(['Bearer abc.def.ghi']), 'abc.def.ghi');
  assert.equal(bearerToken(['bearer  abc ']), 'abc');
  assert.equal(bearerToken([Buffer.from('Bearer abc')]), 'abc');
  for (const bad of [
    [],
    ['Basic abc'],
    ['Bearer'],
    ['Bearer a b'],
    ['Bearerabc'],
    ['Bearer a', 'Bearer b'],
    ['Bearer ' + 'x'.repeat(9000)],
  ])
    assert.throws(
      () => bearerToken(bad),
      (err) => err instanceof CaRequestError && err.status === grpc.status.UNAUTHENTICATED,
      JSON.stringify(bad).slice(0, 40),
    );
});

test('mutated CSRs: refused with INVALID_ARGUMENT or PERMISSION_DENIED, or signed for the caller only', async () => {
  const ca = await CertificateAuthority.create();
  const credentials = await CredentialAuthority.fromKey(
    generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
  );
  const metrics = new MetricsRegistry();
  const service = new CaService({ authority: ca, credentials, metrics });
  const token = await credentials.issue({ namespace: 'shop', serviceAccount: 'cart', kind: 'workload' });
  const auth = [`Bearer ${token}`];
  const { csrPem } = await generateKeyAndCsr({ identity: { namespace: 'shop', serviceAccount: 'cart' } });
  const der = Buffer.from(x509.PemConverter.decodeFirst(csrPem));
  const random = seededRandom(12);
  const outcomes = new Map<string, number>();
  for (let i = 0; i < 300; i++) {
    const m = Buffer.from(der);
    const flips = 1 + Math.floor(random() * 3);
    for (let f = 0; f < flips; f++) m[Math.floor(random() * m.length)] = Math.floor(random() * 256);
    const pem = x509.PemConverter.encode(m, 'CERTIFICATE REQUEST');
    try {
      const res = await service.createCertificate({ csr: pem }, auth);
      const leaf = new X509Certificate(res.cert_chain?.[0] as string);
      assert.equal(leaf.subjectAltName, 'URI:spiffe://cluster.local/ns/shop/sa/cart', `mutation ${i}`);
      outcomes.set('signed', (outcomes.get('signed') ?? 0) + 1);
    } catch (err) {
      assert.ok(err instanceof CaRequestError, `mutation ${i}: ${String(err)}`);
      assert.ok(
        err.status === grpc.status.INVALID_ARGUMENT || err.status === grpc.status.PERMISSION_DENIED,
        `mutation ${i}: ${grpc.status[err.status]} ${err.message}`,
      );
      outcomes.set(grpc.status[err.status], (outcomes.get(grpc.status[err.status]) ?? 0) + 1);
    }
  }
  assert.ok((outcomes.get('INVALID_ARGUMENT') ?? 0) > 200, JSON.stringify([...outcomes]));
  assert.match(
    metrics.render(),
    /trellis_ca_certificate_requests_total\{result="refused",reason="invalid_csr"\} \d+/,
  );
});
