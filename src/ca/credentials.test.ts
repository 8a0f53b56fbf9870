import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SignJWT, UnsecuredJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import { CredentialAuthority, CredentialError, type CredentialKind } from './credentials.js';
import { CREDENTIAL_KEY_FILE, loadCredentialKey, loadOrCreateCredentialKey } from './credentials-key.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const p256 = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

function clockAt(ms: number) {
  const c = { t: ms, wallNow: () => c.t };
  return c;
}

async function refusedWith(p: Promise<unknown>, reason: CredentialError['reason'], message?: RegExp) {
  await assert.rejects(p, (err) => {
    assert.ok(err instanceof CredentialError, `expected a CredentialError, got ${String(err)}`);
    assert.equal(err.reason, reason, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

test('a workload credential names the SPIFFE identity, ns/sa, audience trellis-ca and an expiry', async () => {
  const clock = clockAt(T0);
  const ca = await CredentialAuthority.fromKey(p256(), { clock, trustDomain: 'mesh.example' });
  const token = await ca.issue({ namespace: 'shop', serviceAccount: 'cart', kind: 'workload' });
  const claims = decodeJwt(token);
  assert.equal(claims.sub, 'spiffe://mesh.example/ns/shop/sa/cart');
  assert.equal(claims.aud, 'trellis-ca');
  assert.equal(claims.ns, 'shop');
  assert.equal(claims.sa, 'cart');
  assert.equal(claims.kind, 'workload');
  assert.equal(claims.exp, T0 / 1000 + 365 * 86_400);
  assert.equal(decodeProtectedHeader(token).alg, 'ES256');
  assert.equal(decodeProtectedHeader(token).kid, ca.keyId);

  const v = await ca.verify(token);
  assert.deepEqual(v.identity, { trustDomain: 'mesh.example', namespace: 'shop', serviceAccount: 'cart' });
  assert.equal(v.spiffeId, 'spiffe://mesh.example/ns/shop/sa/cart');
  assert.equal(v.kind, 'workload');
  assert.equal(v.expiresAt.getTime(), T0 + 365 * 86_400_000);
});

test('expiry: a join token lives an hour by default; a small clock skew is tolerated, no more', async () => {
  const clock = clockAt(T0);
  const ca = await CredentialAuthority.fromKey(p256(), { clock });
  const join = await ca.issue({ namespace: 'ns1', serviceAccount: 'vm', kind: 'join' });
  clock.t = T0 + 3600_000 + 59_000; // 59 s past expiry: within the 60 s skew
  assert.equal((await ca.verify(join)).kind, 'join');
  clock.t = T0 + 3600_000 + 61_000;
  await refusedWith(ca.verify(join), 'expired', /expired/);
  // Not valid before it was issued (a credential from a clock far ahead).
  clock.t = T0 - 120_000;
  await refusedWith(ca.verify(join), 'expired', /not valid yet/);

  clock.t = T0;
  const short = await ca.issue({ namespace: 'ns1', serviceAccount: 'vm', kind: 'join', ttlSeconds: 5 });
  clock.t = T0 + 66_000;
  await refusedWith(ca.verify(short), 'expired');
  await assert.rejects(
    ca.issue({ namespace: 'ns1', serviceAccount: 'vm', kind: 'join', ttlSeconds: 8 * 86_400 }),
    /at most 7 days/,
  );
  await assert.rejects(
    ca.issue({ namespace: 'ns1', serviceAccount: 'vm', kind: 'join', ttlSeconds: 0 }),
    /positive/,
  );
  await assert.rejects(
    ca.issue({ namespace: 'a/b', serviceAccount: 'vm', kind: 'join' }),
    /SPIFFE path segment/,
  );
  await assert.rejects(
    ca.issue({ namespace: 'a', serviceAccount: 'vm', kind: 'root' as CredentialKind }),
    /expected workload or join/,
  );
});

test('the kind is checked: a verifier that takes only workload credentials refuses a join token', async () => {
  const ca = await CredentialAuthority.fromKey(p256());
  const join = await ca.issue({ namespace: 'a', serviceAccount: 'b', kind: 'join' });
  await refusedWith(ca.verify(join, ['workload']), 'kind', /a join credential is not accepted here/);
  assert.equal((await ca.verify(join, ['join'])).kind, 'join');
});

test('forgeries are refused: another key, a tampered payload, alg none, HS256 with the public key, no kid', async () => {
  const key = p256();
  const ca = await CredentialAuthority.fromKey(key);
  const other = await CredentialAuthority.fromKey(p256());
  const token = await ca.issue({ namespace: 'shop', serviceAccount: 'cart', kind: 'workload' });

  // Signed by another control plane's key.
  await refusedWith(
    ca.verify(await other.issue({ namespace: 'shop', serviceAccount: 'cart', kind: 'workload' })),
    'signature',
  );

  // Another key, but claiming this key's kid.
  const forgedKid = await new SignJWT({ ns: 'kube-system', sa: 'admin', kind: 'workload' })
    .setProtectedHeader({ alg: 'ES256', kid: ca.keyId })
    .setIssuer('trellis-control-plane')
    .setSubject('spiffe://cluster.local/ns/kube-system/sa/admin')
    .setAudience('trellis-ca')
    .setIssuedAt()
    .setExpirationTime('1h')
    .setJti('x')
    .sign(p256());
  await refusedWith(ca.verify(forgedKid), 'signature', /signature does not verify/);

  // The payload edited to name someone else, signature kept.
  const [h, , s] = token.split('.');
  const payload = { ...decodeJwt(token), sa: 'admin', sub: 'spiffe://cluster.local/ns/shop/sa/admin' };
  const tampered = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
  await refusedWith(ca.verify(tampered), 'signature');

  // alg none (kid set so it gets past the key check).
  const none = new UnsecuredJWT({ ns: 'shop', sa: 'cart', kind: 'workload' })
    .setSubject('spiffe://cluster.local/ns/shop/sa/cart')
    .setAudience('trellis-ca')
    .setIssuer('trellis-control-plane')
    .setExpirationTime('1h')
    .encode();
  const noneWithKid = `${Buffer.from(JSON.stringify({ alg: 'none', kid: ca.keyId })).toString('base64url')}.${none.split('.')[1]}.`;
  await refusedWith(ca.verify(noneWithKid), 'signature');
  await refusedWith(ca.verify(none), 'signature');

  // HS256 keyed with the public key's bytes (the classic algorithm confusion).
  const { createPublicKey } = await import('node:crypto');
  const pubPem = createPublicKey(key).export({ type: 'spki', format: 'pem' });
  const hs = await new SignJWT({ ns: 'shop', sa: 'cart', kind: 'workload' })
    .setProtectedHeader({ alg: 'HS256', kid: ca.keyId })
    .setIssuer('trellis-control-plane')
    .setSubject('spiffe://cluster.local/ns/shop/sa/cart')
    .setAudience('trellis-ca')
    .setExpirationTime('1h')
    .setJti('x')
    .sign(new TextEncoder().encode(String(pubPem)));
  await refusedWith(ca.verify(hs), 'signature', /not signed with ES256/);

  await refusedWith(ca.verify(''), 'missing');
  await refusedWith(ca.verify('not-a-jwt'), 'malformed');
  await refusedWith(ca.verify('a.b.c'), 'malformed');
});

test('claims are checked: audience, issuer, subject matching ns/sa, trust domain, required claims', async () => {
  const key = p256();
  const ca = await CredentialAuthority.fromKey(key);
  const sign = (claims: Record<string, unknown>, edit: (j: SignJWT) => SignJWT = (j) => j) =>
    edit(
      new SignJWT({ ns: 'shop', sa: 'cart', kind: 'workload', ...claims })
        .setProtectedHeader({ alg: 'ES256', kid: ca.keyId })
        .setIssuedAt()
        .setExpirationTime('1h'),
    ).sign(key);
  const full = (j: SignJWT) =>
    j.setIssuer('trellis-control-plane').setSubject('spiffe://cluster.local/ns/shop/sa/cart').setJti('1');

  assert.equal(
    (await ca.verify(await sign({}, (j) => full(j).setAudience('trellis-ca')))).spiffeId,
    'spiffe://cluster.local/ns/shop/sa/cart',
  );
  await refusedWith(ca.verify(await sign({}, (j) => full(j).setAudience('some-api'))), 'audience');
  await refusedWith(ca.verify(await sign({}, (j) => full(j))), 'audience'); // no aud
  await refusedWith(
    ca.verify(await sign({}, (j) => full(j).setAudience('trellis-ca').setIssuer('someone-else'))),
    'malformed',
    /iss/,
  );
  // The subject must be exactly the identity of the ns/sa claims.
  await refusedWith(
    ca.verify(await sign({ sa: 'admin' }, (j) => full(j).setAudience('trellis-ca'))),
    'malformed',
    /does not match its ns\/sa claims/,
  );
  await refusedWith(
    ca.verify(
      await sign({}, (j) =>
        full(j).setAudience('trellis-ca').setSubject('spiffe://other.example/ns/shop/sa/cart'),
      ),
    ),
    'trust-domain',
  );
  await refusedWith(
    ca.verify(await sign({ ns: 'a/b' }, (j) => full(j).setAudience('trellis-ca'))),
    'malformed',
  );
  await refusedWith(
    ca.verify(await sign({ kind: 'root' }, (j) => full(j).setAudience('trellis-ca'))),
    'kind',
  );
  // No jti / no exp.
  await refusedWith(
    ca.verify(
      await new SignJWT({ ns: 'shop', sa: 'cart', kind: 'workload' })
        .setProtectedHeader({ alg: 'ES256', kid: ca.keyId })
        .setIssuer('trellis-control-plane')
        .setSubject('spiffe://cluster.local/ns/shop/sa/cart')
        .setAudience('trellis-ca')
        .setJti('1')
        .sign(key),
    ),
    'malformed',
    /exp/,
  );
});

test('the signing key is made once and kept (mode 0600); racing creators agree on one key', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-cred-'));
  try {
    assert.equal(await loadCredentialKey(dir), undefined);
    const results = await Promise.all(
      [1, 2, 3, 4].map(() => loadOrCreateCredentialKey(path.join(dir, 'state'))),
    );
    assert.equal(results.filter((r) => r.created).length, 1);
    const pems = results.map((r) => r.key.export({ type: 'pkcs8', format: 'pem' }));
    assert.ok(pems.every((p) => p === pems[0]));
    const st = await fs.stat(path.join(dir, 'state', CREDENTIAL_KEY_FILE));
    assert.equal(st.mode & 0o777, 0o600);
    assert.deepEqual((await fs.readdir(path.join(dir, 'state'))).sort(), [CREDENTIAL_KEY_FILE]);

    // Credentials issued before a restart verify after it.
    const before = await CredentialAuthority.fromKey(results[0]!.key);
    const token = await before.issue({ namespace: 'a', serviceAccount: 'b', kind: 'workload' });
    const again = await loadOrCreateCredentialKey(path.join(dir, 'state'));
    assert.equal(again.created, false);
    assert.equal(
      (await (await CredentialAuthority.fromKey(again.key)).verify(token)).spiffeId,
      'spiffe://cluster.local/ns/a/sa/b',
    );

    await fs.writeFile(path.join(dir, 'state', CREDENTIAL_KEY_FILE), 'garbage');
    await assert.rejects(
      loadOrCreateCredentialKey(path.join(dir, 'state')),
      /credential signing key: no PEM private key/,
    );
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    await assert.rejects(CredentialAuthority.fromKey(rsa), /EC P-256/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
