// The control plane's TLS serving certificate on a FakeClock: the names it carries, renewal at
// half life (no jitter here) with a new key delivered to the listeners, and a failed renewal
// that keeps the current certificate and tries again.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { CertificateAuthority } from '../ca/authority.js';
import { FakeClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import { eventually } from '../core/testing/eventually.js';
import { ServingCertificate, servingNames } from './serving-certificate.js';

test('default names, extra names split into DNS and IP, no repeats', () => {
  assert.deepEqual(servingNames(['cp.example.com', '10.0.0.5', 'localhost', 'fd00::1']), {
    dnsNames: ['istiod.istio-system.svc', 'trellis-control-plane', 'localhost', 'cp.example.com'],
    ipAddresses: ['127.0.0.1', '::1', '10.0.0.5', 'fd00::1'],
  });
});

test('renewed at half life with a new key; a failed renewal keeps the certificate and retries', async () => {
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const authority = await CertificateAuthority.create({ clock, clockSkewSeconds: 0 });
  let failing = false;
  let calls = 0;
  const sign = authority.signServing.bind(authority);
  authority.signServing = async (...args) => {
    calls++;
    if (failing) throw new Error('signer unavailable');
    return sign(...args);
  };
  const cert = new ServingCertificate({
    authority,
    extraSans: ['cp.example.com'],
    ttlSeconds: 100,
    clock,
    random: () => 0,
    logger: silentLogger,
    retryMs: 7000,
  });
  await cert.start();
  const updates: string[] = [];
  cert.provider().addIdentityCertificateListener((u) => updates.push(u?.privateKey.toString() ?? 'null'));
  await eventually(() => updates.length === 1, 'the current certificate delivered');
  const first = cert.current()!;
  const leaf = new X509Certificate(first.certificatePem);
  assert.equal(leaf.subjectAltName?.includes('DNS:cp.example.com'), true);
  assert.equal(first.notAfter.getTime(), clock.wallNow() + 100_000);

  // No renewal timer is due yet: advancing fires nothing (FakeClock runs due timers synchronously).
  clock.advance(49_999);
  assert.equal(calls, 1, 'not before half life');
  clock.advance(1);
  await eventually(() => updates.length === 2, 'renewed at half life');
  assert.notEqual(updates[1], updates[0], 'a new key');
  const second = cert.current()!;
  assert.equal(second.notAfter.getTime(), clock.wallNow() + 100_000);

  failing = true;
  clock.advance(50_000);
  await eventually(() => calls === 3, 'the renewal attempt');
  assert.equal(cert.current()!.notAfter.getTime(), second.notAfter.getTime(), 'the current one stays');
  assert.equal(updates.length, 2);
  failing = false;
  clock.advance(7000);
  await eventually(() => updates.length === 3, 'the retry succeeds');
  cert.stop();
});
