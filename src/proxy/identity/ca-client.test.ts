import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CertificateAuthority } from '../../ca/authority.js';
import { FakeClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { eventually } from '../../core/testing/eventually.js';
import type { CreateCertificateRequest, CreateCertificateResponse } from '../../protocol/trellis/ca-types.js';
import { CaClient, certificateFromResponse } from './ca-client.js';
import type { CertificateRequester } from './ca-client-transport.js';
import { fileCredential, fixedCredential } from './credential-source.js';
import { generateKeyAndCsr } from '../../ca/workload.js';
import { EC_P256, generateP256, x509 } from '../../ca/x509.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const identity = { namespace: 'shop', serviceAccount: 'cart' };

/** A requester backed by a real CA, with switches to make it fail or lie. */
function fakeCa(ca: CertificateAuthority) {
  const r = {
    calls: [] as { req: CreateCertificateRequest; credential: string }[],
    down: false,
    answer: undefined as ((res: CreateCertificateResponse) => CreateCertificateResponse) | undefined,
    exchange: undefined as string | undefined,
    closed: false,
    async request(req: CreateCertificateRequest, credential: string): Promise<CreateCertificateResponse> {
      r.calls.push({ req, credential });
      if (r.down) throw new Error('UNAVAILABLE: connect ECONNREFUSED');
      const chain = await ca.signCsr(req.csr ?? '', {
        identity,
        ...(req.validity_duration ? { ttlSeconds: req.validity_duration } : {}),
      });
      const res: CreateCertificateResponse = {
        cert_chain: chain.certChainPem,
        trust_bundle: ca.trustBundle(),
        ...(r.exchange ? { credential: r.exchange } : {}),
      };
      return r.answer ? r.answer(res) : res;
    },
    close() {
      r.closed = true;
    },
  };
  return r satisfies CertificateRequester;
}

async function setup(ttlSeconds = 10, random = () => 0) {
  const clock = new FakeClock(T0);
  const ca = await CertificateAuthority.create({ clock, workloadTtlSeconds: ttlSeconds });
  const requester = fakeCa(ca);
  const credential = fixedCredential('cred-1');
  const client = new CaClient({
    requester,
    credential,
    clock,
    random,
    logger: silentLogger,
    backoff: { baseMs: 1000, maxMs: 8000 },
  });
  return { clock, ca, requester, credential, client };
}

test('the first certificate: the key is made here, the CA names the identity, ready() resolves', async () => {
  const { client, requester } = await setup();
  const changes: string[] = [];
  client.onChange((c) => changes.push(c.identity));
  assert.equal(client.current(), undefined);
  client.start();
  client.start(); // idempotent
  const cert = await client.ready();
  assert.equal(requester.calls.length, 1);
  assert.equal(requester.calls[0]?.credential, 'cred-1');
  assert.equal(requester.calls[0]?.req.validity_duration, 0, "asks for the CA's default");
  assert.equal(cert.identity, 'spiffe://cluster.local/ns/shop/sa/cart');
  assert.deepEqual(changes, [cert.identity]);
  assert.equal(cert.notAfter.getTime(), T0 + 10_000);
  assert.equal(cert.notBefore.getTime(), T0 - 1000, 'backdated a tenth of the lifetime');
  assert.match(cert.privateKeyPem, /BEGIN PRIVATE KEY/);
  assert.equal(new X509Certificate(cert.certChainPem).subjectAltName, `URI:${cert.identity}`);
  assert.equal(client.current(), cert);
  assert.deepEqual(await client.ready(), cert);
  client.close();
  assert.ok(requester.closed);
});

test('renewal at half the lifetime (FakeClock), with a new key each time; jitter only makes it earlier', async () => {
  const { client, requester, clock } = await setup(10, () => 0);
  client.start();
  const first = await client.ready();
  // notBefore T0-1s, notAfter T0+10s: half life is 5.5 s after notBefore, i.e. T0+4.5s.
  assert.equal(client.status.nextAttemptAt, T0 + 4500);
  clock.advance(4499);
  assert.equal(requester.calls.length, 1, 'not before half life');
  const renewed = new Promise((resolve) => client.onChange(resolve));
  clock.advance(1);
  await renewed;
  assert.equal(requester.calls.length, 2);
  const second = client.current();
  assert.ok(second !== undefined && second !== first);
  assert.notEqual(second.privateKeyPem, first.privateKeyPem, 'a fresh key per certificate');
  // X.509 times have whole seconds: issued at T0+4.5s for 10 s, it ends at T0+14s.
  assert.equal(second.notAfter.getTime(), T0 + 14_000);
  client.close();
  assert.equal(clock.pendingTimers(), 0, 'close cancels the renewal');

  // Full jitter: 40% of the lifetime instead of 50%.
  const j = await setup(10, () => 1);
  j.client.start();
  await j.client.ready();
  assert.equal(j.client.status.nextAttemptAt, T0 - 1000 + 4400);
  j.client.close();
});

test('a CA outage: the current certificate is kept, retries back off, the next success renews', async () => {
  const { client, requester, clock } = await setup(10, () => 0.5);
  client.start();
  const first = await client.ready();
  requester.down = true;
  const renewAtMs = client.status.nextAttemptAt as number;
  clock.advance(renewAtMs - clock.wallNow());
  await eventually(() => assert.equal(client.status.failures, 1));
  assert.equal(client.current(), first, 'kept');
  assert.match(client.status.lastError ?? '', /ECONNREFUSED/);
  // Backoff: full jitter, never below half the base, growing to the cap (8 s).
  const delays: number[] = [];
  for (let i = 2; i <= 6; i++) {
    const next = client.status.nextAttemptAt as number;
    delays.push(next - clock.wallNow());
    clock.advance(next - clock.wallNow());
    await eventually(() => assert.equal(client.status.failures, i));
  }
  // random() = 0.5 of a ceiling doubling from 1 s to the 8 s cap.
  assert.deepEqual(delays, [500, 1000, 2000, 4000, 4000], String(delays));
  assert.equal(client.current(), first, 'even past its expiry, nothing better exists');

  requester.down = false;
  const next = client.status.nextAttemptAt as number;
  clock.advance(next - clock.wallNow());
  await eventually(() => assert.equal(client.status.issued, 2));
  assert.notEqual(client.current(), first);
  assert.equal(client.status.lastError, undefined);
  // Backoff was reset: the next renewal is at half life again.
  const cur = client.current();
  assert.ok(cur);
  assert.equal(
    client.status.nextAttemptAt,
    cur.notBefore.getTime() + Math.floor((cur.notAfter.getTime() - cur.notBefore.getTime()) * 0.45),
  );
  client.close();
});

test('an unusable answer is never installed: another key, a chain to another root, no SAN, garbage', async () => {
  const { client, requester, clock } = await setup();
  const other = await CertificateAuthority.create({ clock });
  const otherChain = await other.signCsr((await generateKeyAndCsr()).csrPem, { identity });
  const lies: [string, (r: CreateCertificateResponse) => CreateCertificateResponse, RegExp][] = [
    [
      "someone else's key",
      () => ({ cert_chain: otherChain.certChainPem, trust_bundle: other.trustBundle() }),
      /not for the key this proxy generated/,
    ],
    [
      'another root',
      (r) => ({ ...r, trust_bundle: other.trustBundle() }),
      /does not lead to a root of trust_bundle/,
    ],
    ['no chain', (r) => ({ ...r, cert_chain: [] }), /cert_chain: no PEM certificate/],
    ['no bundle', (r) => ({ ...r, trust_bundle: [] }), /trust_bundle: no PEM certificate/],
    [
      'garbage',
      (r) => ({ ...r, cert_chain: ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'] }),
      /not valid X\.509/,
    ],
    [
      'a broken chain',
      (r) => ({ ...r, cert_chain: [r.cert_chain?.[0] ?? '', ...otherChain.certChainPem.slice(1)] }),
      /certificate 1 is not signed by certificate 2/,
    ],
  ];
  client.start();
  for (const [i, [name, lie, message]] of lies.entries()) {
    requester.answer = lie;
    if (i > 0) clock.advance((client.status.nextAttemptAt as number) - clock.wallNow());
    await eventually(() => assert.equal(client.status.failures, i + 1, name));
    assert.match(client.status.lastError ?? '', message, name);
    assert.equal(client.current(), undefined, name);
  }
  requester.answer = undefined;
  clock.advance((client.status.nextAttemptAt as number) - clock.wallNow());
  await client.ready();
  client.close();
});

test('certificateFromResponse: a certificate for our key but without a SPIFFE URI SAN is refused', async () => {
  const { keys, privateKeyPem } = await generateP256();
  const make = (extensions: x509.Extension[]) =>
    x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=workload',
      notBefore: new Date(T0 - 1000),
      notAfter: new Date(T0 + 3600_000),
      keys,
      signingAlgorithm: EC_P256,
      extensions,
    });
  const answer = (c: x509.X509Certificate) => ({
    cert_chain: [c.toString('pem')],
    trust_bundle: [c.toString('pem')],
  });
  const noSan = certificateFromResponse(answer(await make([])), privateKeyPem, T0);
  assert.deepEqual(noSan, { ok: false, error: 'the certificate has no SPIFFE URI SAN' });
  const dnsOnly = await make([
    new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'spiffe.example' }]),
  ]);
  assert.equal(certificateFromResponse(answer(dnsOnly), privateKeyPem, T0).ok, false);
  const https = await make([
    new x509.SubjectAlternativeNameExtension([{ type: 'url', value: 'https://x/ns/a/sa/b' }]),
  ]);
  assert.equal(certificateFromResponse(answer(https), privateKeyPem, T0).ok, false);
  const good = await make([
    new x509.SubjectAlternativeNameExtension([{ type: 'url', value: 'spiffe://td/ns/a/sa/b' }]),
  ]);
  const ok = certificateFromResponse(answer(good), privateKeyPem, T0);
  assert.ok(ok.ok);
  assert.equal(ok.cert.identity, 'spiffe://td/ns/a/sa/b');
  assert.equal(certificateFromResponse(answer(good), privateKeyPem, T0 + 3600_000).ok, false, 'expired');
});

test('a join token is exchanged for a workload credential, written back to the credential file', async () => {
  const { ca, clock } = await setup();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-cred-'));
  try {
    const file = path.join(dir, 'credential');
    await fs.writeFile(file, 'join-token\n');
    const requester = fakeCa(ca);
    requester.exchange = 'workload-credential';
    const client = new CaClient({
      requester,
      credential: fileCredential(file),
      clock,
      random: () => 0,
      logger: silentLogger,
    });
    client.start();
    await client.ready();
    assert.equal(requester.calls[0]?.credential, 'join-token');
    await eventually(async () => assert.equal(await fs.readFile(file, 'utf8'), 'workload-credential\n'));
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
    requester.exchange = undefined;
    clock.advance((client.status.nextAttemptAt as number) - clock.wallNow());
    await eventually(() => assert.equal(requester.calls.length, 2));
    assert.equal(requester.calls[1]?.credential, 'workload-credential');
    // An operator replacing the file is picked up at the next request.
    await fs.writeFile(file, 'rotated\n');
    clock.advance((client.status.nextAttemptAt as number) - clock.wallNow());
    await eventually(() => assert.equal(requester.calls.length, 3));
    assert.equal(requester.calls[2]?.credential, 'rotated');
    // An empty or missing file is a failed attempt, not a crash.
    await fs.writeFile(file, '\n');
    clock.advance((client.status.nextAttemptAt as number) - clock.wallNow());
    await eventually(() => assert.match(client.status.lastError ?? '', /credential file is empty/));
    await fs.rm(file);
    clock.advance((client.status.nextAttemptAt as number) - clock.wallNow());
    await eventually(() =>
      assert.match(client.status.lastError ?? '', /cannot read the credential file: ENOENT/),
    );
    client.close();
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('fileCredential: when the file cannot be written the exchanged credential is kept in memory', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-cred-'));
  try {
    const file = path.join(dir, 'credential');
    await fs.writeFile(file, 'join-token\n');
    // A directory where the temporary file would go: the write fails, even as root.
    await fs.mkdir(path.join(dir, `.credential.${process.pid}.tmp`));
    const source = fileCredential(file);
    await assert.rejects(
      source.replace('workload'),
      /cannot write the credential file \(EISDIR\); .* kept in memory/,
    );
    assert.equal(await source.read(), 'workload');
    assert.equal(await fs.readFile(file, 'utf8'), 'join-token\n');
    await fs.writeFile(file, 'new-from-operator\n');
    assert.equal(await source.read(), 'new-from-operator', 'a changed file wins over the kept credential');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('a CA clock far ahead or behind: an expired certificate is not installed; a late half life is no request loop', async () => {
  const clock = new FakeClock(T0);
  // The CA dates certificates two minutes in the past: they are expired on arrival (10 s lifetime).
  const behind = await CertificateAuthority.create({
    clock: { wallNow: () => clock.wallNow() - 120_000 },
    workloadTtlSeconds: 10,
  });
  const requester = fakeCa(behind);
  const client = new CaClient({
    requester,
    credential: fixedCredential('c'),
    clock,
    random: () => 0,
    logger: silentLogger,
  });
  client.start();
  await eventually(() => assert.equal(client.status.failures, 1));
  assert.match(client.status.lastError ?? '', /the certificate expired on .* \(check the clocks\)/);
  assert.equal(client.current(), undefined);
  assert.ok((client.status.nextAttemptAt as number) > clock.wallNow(), 'a backoff, not an immediate retry');
  client.close();

  // Behind by 8 s: valid for 2 more seconds, half life long past: renew after the minimum delay.
  const late = await CertificateAuthority.create({
    clock: { wallNow: () => clock.wallNow() - 8000 },
    workloadTtlSeconds: 10,
  });
  const r2 = fakeCa(late);
  const c2 = new CaClient({
    requester: r2,
    credential: fixedCredential('c'),
    clock,
    random: () => 0,
    logger: silentLogger,
  });
  c2.start();
  await c2.ready();
  assert.equal(c2.status.nextAttemptAt, clock.wallNow() + 1000);
  assert.equal(r2.calls.length, 1);
  c2.close();
});

test('close() while a request is in flight: nothing is installed and nothing is scheduled', async () => {
  const { client, requester, clock } = await setup();
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  let entered = false;
  let answered: Promise<unknown> = Promise.resolve();
  const inner = requester.request.bind(requester);
  requester.request = (req, credential) => {
    entered = true;
    answered = gate.then(() => inner(req, credential));
    return answered as Promise<CreateCertificateResponse>;
  };
  const changes: unknown[] = [];
  client.onChange((c) => changes.push(c));
  client.start();
  await eventually(() => assert.ok(entered, 'the request is in flight'));
  client.close();
  release();
  await answered; // a valid answer arrives after close
  await new Promise((r) => setImmediate(r));
  assert.equal(requester.calls.length, 1);
  assert.equal(client.current(), undefined);
  assert.deepEqual(changes, []);
  assert.equal(clock.pendingTimers(), 0);
  assert.equal(client.status.nextAttemptAt, undefined);
});
