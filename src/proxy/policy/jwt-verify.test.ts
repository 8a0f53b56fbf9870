import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exportJWK, generateKeyPair, generateSecret, SignJWT } from 'jose';
import { isTrellisError } from '../../core/errors.js';
import { compileJwks, verifyJwt, type JwtCheck } from './jwt-verify.js';
import { tamperedToken, testIssuer, unsignedToken } from './jwt-testing.js';

const NOW = 1_800_000_000;

test('a token is checked in Envoy order: form, issuer, time (with skew), audience, signature', async () => {
  const idp = await testIssuer();
  const other = await testIssuer('https://evil.example.com', 'k1');
  const check: JwtCheck = {
    issuer: idp.iss,
    audiences: ['shop'],
    clockSkewSeconds: 60,
    keys: compileJwks(idp.jwks, 'p'),
  };
  const good = { aud: 'shop', sub: 'alice', exp: NOW + 3600 };
  const cases: [string, Promise<string> | string, string][] = [
    ['valid', idp.sign(good), 'ok'],
    ['valid, aud list', idp.sign({ ...good, aud: ['x', 'shop'] }), 'ok'],
    ['expired', idp.sign({ ...good, exp: NOW - 61 }), 'expired'],
    ['expired within the skew', idp.sign({ ...good, exp: NOW - 59 }), 'ok'],
    ['not yet valid', idp.sign({ ...good, nbf: NOW + 61 }), 'notYetValid'],
    ['nbf within the skew', idp.sign({ ...good, nbf: NOW + 59 }), 'ok'],
    // Time is checked before the audience and the signature, as Envoy does.
    ['expired and wrong audience', idp.sign({ ...good, aud: 'x', exp: NOW - 100 }), 'expired'],
    ['wrong audience', idp.sign({ ...good, aud: 'other' }), 'audienceNotAllowed'],
    ['no audience', idp.sign({ sub: 'alice', exp: NOW + 10 }), 'audienceNotAllowed'],
    ['another issuer', other.sign(good), 'unknownIssuer'],
    ['no issuer', idp.sign({ ...good, iss: undefined }), 'unknownIssuer'],
    ['signed by another key with our iss and kid', other.sign({ ...good, iss: idp.iss }), 'verificationFail'],
    [
      'payload swapped after signing',
      idp.sign(good).then((t) => tamperedToken(t, { ...good, iss: idp.iss, sub: 'admin' })),
      'verificationFail',
    ],
    ['alg none', unsignedToken({ ...good, iss: idp.iss }), 'headerAlgNotImplemented'],
    ['a kid the JWKS does not have', idp.sign(good, { kid: 'k2' }), 'kidAlgMismatch'],
    ['no kid: any key that fits', idp.sign(good, { kid: null }), 'ok'],
    ['two parts', 'a.b', 'badFormat'],
    ['four parts', 'a.b.c.d', 'badFormat'],
    ['header not JSON', `${Buffer.from('nope').toString('base64url')}.e30.sig`, 'headerParse'],
    [
      'payload not JSON',
      `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.bm9wZQ.sig`,
      'payloadParse',
    ],
    [
      'payload an array',
      `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.${Buffer.from('[1]').toString('base64url')}.sig`,
      'payloadParse',
    ],
    ['alg not a string', `${Buffer.from('{"alg":5}').toString('base64url')}.e30.sig`, 'headerBadAlg'],
    [
      'kid not a string',
      `${Buffer.from('{"alg":"ES256","kid":1}').toString('base64url')}.e30.sig`,
      'headerBadKid',
    ],
    ['empty signature', `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.e30.`, 'signatureParse'],
  ];
  for (const [what, token, want] of cases) {
    const r = await verifyJwt(await token, check, NOW);
    assert.equal(r.ok ? 'ok' : r.status, want, what);
  }
});

test('no audiences configured: any audience, or none; no issuer configured: any issuer', async () => {
  const idp = await testIssuer();
  const open: JwtCheck = { issuer: '', audiences: [], clockSkewSeconds: 0, keys: compileJwks(idp.jwks, 'p') };
  for (const claims of [{ aud: 'anything' }, {}, { iss: 'whoever' }]) {
    const r = await verifyJwt(await idp.sign(claims), open, NOW);
    assert.equal(r.ok, true, JSON.stringify(claims));
  }
  // No exp: the token does not expire (Envoy without require_expiration).
  const r = await verifyJwt(await idp.sign({}), open, NOW);
  assert.equal(r.ok && r.payload.iss, idp.iss);
});

test('a JWKS with several keys and algorithms: kid and alg pick the key; HMAC and RSA keys work', async () => {
  const ec = await testIssuer('https://idp', 'ec');
  const rsa = await testIssuer('https://idp', 'rsa', 'RS256');
  const secret = (await generateSecret('HS256', { extractable: true })) as Parameters<typeof exportJWK>[0];
  const oct = { ...(await exportJWK(secret)), kid: 'hmac', alg: 'HS256' };
  const keys = compileJwks(JSON.stringify({ keys: [ec.publicJwk, rsa.publicJwk, oct] }), 'p');
  const check: JwtCheck = { issuer: 'https://idp', audiences: [], clockSkewSeconds: 60, keys };
  assert.equal((await verifyJwt(await ec.sign({}), check, NOW)).ok, true);
  assert.equal((await verifyJwt(await rsa.sign({}), check, NOW)).ok, true);
  const hs = await new SignJWT({ iss: 'https://idp' })
    .setProtectedHeader({ alg: 'HS256', kid: 'hmac' })
    .sign(secret);
  assert.equal((await verifyJwt(hs, check, NOW)).ok, true);
  // An RSA-signed token claiming HS256 with the RSA key's kid: no HMAC key of that kid, refused.
  const confused = await new SignJWT({ iss: 'https://idp' })
    .setProtectedHeader({ alg: 'HS256', kid: 'rsa' })
    .sign(Buffer.from(JSON.stringify(rsa.publicJwk)));
  const r = await verifyJwt(confused, check, NOW);
  assert.equal(r.ok ? 'ok' : r.status, 'kidAlgMismatch');
  // A key for P-384 does not verify ES256 tokens.
  const p384 = await generateKeyPair('ES384', { extractable: true });
  const only384 = compileJwks(
    JSON.stringify({ keys: [{ ...(await exportJWK(p384.publicKey)), kid: 'ec' }] }),
    'p',
  );
  const r2 = await verifyJwt(await ec.sign({}), { ...check, keys: only384 }, NOW);
  assert.equal(r2.ok ? 'ok' : r2.status, 'kidAlgMismatch');
});

test('bad JWKS are refused with the field path', () => {
  const bad = [
    'not json',
    '{}',
    '{"keys":{}}',
    '{"keys":[]}',
    '{"keys":[{"kty":"XYZ"}]}',
    '{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}',
    '{"keys":[{"kty":"oct"}]}',
  ];
  for (const jwks of bad) {
    assert.throws(
      () => compileJwks(jwks, 'providers["a"].local_jwks'),
      (e: unknown) => isTrellisError(e) && (e.path ?? '').startsWith('providers["a"].local_jwks'),
      jwks,
    );
  }
});

test('a private JWK in the JWKS only ever verifies', async () => {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const priv = { ...(await exportJWK(privateKey)), kid: 'k' };
  const keys = compileJwks(JSON.stringify({ keys: [priv] }), 'p');
  assert.equal(keys[0]!.key.type, 'public');
});

test('a verified signature is remembered per key set only, and claims are still checked each time', async () => {
  const idp = await testIssuer('https://idp', 'k');
  const other = await testIssuer('https://idp', 'k');
  const keys = compileJwks(idp.jwks, 'p');
  const check: JwtCheck = { issuer: 'https://idp', audiences: [], clockSkewSeconds: 0, keys };
  const token = await idp.sign({ exp: NOW + 10 });
  assert.equal((await verifyJwt(token, check, NOW)).ok, true);
  assert.equal((await verifyJwt(token, check, NOW)).ok, true);
  // Later, the same token has expired: the remembered signature does not skip the time check.
  const later = await verifyJwt(token, check, NOW + 100);
  assert.equal(later.ok ? 'ok' : later.status, 'expired');
  // Another key set with the same kid (a rotation to a new key) verifies afresh, and refuses.
  const rotated: JwtCheck = { ...check, keys: compileJwks(other.jwks, 'p') };
  const r = await verifyJwt(token, rotated, NOW);
  assert.equal(r.ok ? 'ok' : r.status, 'verificationFail');
});
