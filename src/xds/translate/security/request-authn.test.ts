import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { test } from 'node:test';
import type { JWTRule, RequestAuthenticationSpec } from '../../../api/security/types.js';
import { TYPE } from '../../../protocol/protos.js';
import { validateRules } from '../../../protocol/validate-rules.js';
import { res, type Loose } from '../testkit.js';
import { JwksSnapshot, REJECT_ALL_JWKS, jwksSourceId } from './jwks-source.js';
import { inlineJwks, jwksSourcesOf, jwtAuthentication, jwtRulesOf } from './request-authn.js';

const JWKS = '{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b"}]}';

test('one rule: a provider with every field Istio maps, required as provider-or-missing', () => {
  const rule: JWTRule = {
    issuer: 'https://issuer.example',
    audiences: ['a1', 'a2'],
    jwks: JWKS,
    fromHeaders: [{ name: 'x-jwt', prefix: 'Token ' }, { name: 'x-raw' }],
    fromParams: ['token'],
    fromCookies: ['session'],
    forwardOriginalToken: true,
    outputPayloadToHeader: 'x-payload',
    outputClaimToHeaders: [{ header: 'x-sub', claim: 'sub' }],
    spaceDelimitedClaims: ['roles', 'scope'],
  };
  const c = jwtAuthentication([rule], new JwksSnapshot()) as Loose;
  assert.deepEqual(c.providers['origins-0'], {
    issuer: 'https://issuer.example',
    audiences: ['a1', 'a2'],
    local_jwks: { inline_string: JWKS },
    forward: true,
    forward_payload_header: 'x-payload',
    payload_in_metadata: 'payload',
    normalize_payload_in_metadata: { space_delimited_claims: ['permission', 'roles', 'scope'] },
    from_headers: [{ name: 'x-jwt', value_prefix: 'Token ' }, { name: 'x-raw' }],
    from_params: ['token'],
    from_cookies: ['session'],
    claim_to_headers: [{ header_name: 'x-sub', claim_name: 'sub' }],
  });
  assert.deepEqual(c.rules, [
    {
      match: { prefix: '/' },
      requires: { requires_any: { requirements: [{ provider_name: 'origins-0' }, { allow_missing: {} }] } },
    },
  ]);
  assert.equal(c.bypass_cors_preflight, true);
  assert.deepEqual(validateRules(TYPE.jwtAuthn, c), []);
});

test('no token locations: Envoy defaults (Authorization: Bearer) by leaving them out', () => {
  const c = jwtAuthentication([{ issuer: 'i', jwks: JWKS }], new JwksSnapshot()) as Loose;
  const p = c.providers['origins-0'];
  assert.equal(p.from_headers, undefined);
  assert.equal(p.from_params, undefined);
  assert.equal(p.forward, undefined);
});

test('several rules: a valid token of any provider, and a present token must verify', () => {
  const c = jwtAuthentication(
    [
      { issuer: 'a', jwks: JWKS },
      { issuer: 'b', jwks: JWKS },
    ],
    new JwksSnapshot(),
  ) as Loose;
  assert.deepEqual(Object.keys(c.providers), ['origins-0', 'origins-1']);
  assert.deepEqual(c.rules[0].requires, {
    requires_any: {
      requirements: [
        { provider_name: 'origins-0' },
        { provider_name: 'origins-1' },
        {
          requires_all: {
            requirements: [
              { requires_any: { requirements: [{ provider_name: 'origins-0' }, { allow_missing: {} }] } },
              { requires_any: { requirements: [{ provider_name: 'origins-1' }, { allow_missing: {} }] } },
            ],
          },
        },
      ],
    },
  });
  assert.deepEqual(validateRules(TYPE.jwtAuthn, c), []);
});

test('rules of several RequestAuthentications combine, sorted by issuer (stable)', () => {
  const ra = (name: string, rules: JWTRule[]) =>
    res<RequestAuthenticationSpec>('RequestAuthentication', 'ns', name, { jwtRules: rules });
  const rules = jwtRulesOf([
    ra('one', [
      { issuer: 'z', jwks: '1' },
      { issuer: 'b', jwks: '2' },
    ]),
    ra('two', [{ issuer: 'a' }, { issuer: 'b', jwks: '3' }]),
  ]);
  assert.deepEqual(
    rules.map((r) => `${r.issuer}${r.jwks ?? ''}`),
    ['a', 'b2', 'b3', 'z1'],
  );
  assert.equal(jwtAuthentication([], new JwksSnapshot()), undefined);
});

test('jwksUri: the fetched JWKS inline; never fetched: a JWKS no token verifies against', () => {
  const rule: JWTRule = { issuer: 'i', jwksUri: 'https://keys.example/jwks.json' };
  assert.equal(inlineJwks(rule, new JwksSnapshot()), REJECT_ALL_JWKS);
  const fetched = new JwksSnapshot(new Map([['https://keys.example/jwks.json', JWKS]]));
  assert.equal(inlineJwks(rule, fetched), JWKS);
  // Issuer discovery when no jwksUri is given.
  assert.equal(jwksSourceId({ issuer: 'https://id.example' }), 'oidc:https://id.example');
  assert.equal(jwksSourceId({ issuer: 'i', jwks_uri: 'http://k' }), 'http://k');
  assert.deepEqual(jwksSourcesOf([rule, { issuer: 'x', jwks: JWKS }, rule]), [
    'https://keys.example/jwks.json',
  ]);
});

test('the reject-all JWKS is a well-formed RSA public key', () => {
  const jwk = (JSON.parse(REJECT_ALL_JWKS) as { keys: Loose[] }).keys[0];
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  assert.equal(key.asymmetricKeyType, 'rsa');
  assert.equal(key.asymmetricKeyDetails?.modulusLength, 2048);
});

test('JWKS fingerprints change with the content only', () => {
  const a = new JwksSnapshot(new Map([['u', JWKS]]));
  const b = new JwksSnapshot(new Map([['u', JWKS]]));
  const c = new JwksSnapshot(new Map([['u', JWKS.replace('"a"', '"c"')]]));
  assert.equal(a.fingerprint('u'), b.fingerprint('u'));
  assert.notEqual(a.fingerprint('u'), c.fingerprint('u'));
  assert.equal(a.fingerprint('missing'), '-');
});

type TokenState = 'valid' | 'invalid' | 'missing';

/**
 * Envoy's jwt_authn requirement semantics (verifier.cc), for providers reading distinct token
 * locations: provider_name passes when its token verifies; allow_missing when no token is
 * presented or every presented one verifies; requires_any / requires_all as their names say.
 */
function satisfied(req: Loose, tokens: Record<string, TokenState>): boolean {
  if (req.provider_name !== undefined) return tokens[req.provider_name as string] === 'valid';
  if (req.allow_missing !== undefined) return Object.values(tokens).every((t) => t !== 'invalid');
  if (req.requires_any !== undefined)
    return (req.requires_any.requirements as Loose[]).some((r) => satisfied(r, tokens));
  if (req.requires_all !== undefined)
    return (req.requires_all.requirements as Loose[]).every((r) => satisfied(r, tokens));
  throw new Error(`unknown requirement ${JSON.stringify(req)}`);
}

const REQUIREMENT_CASES: [string, number, Record<string, TokenState>, 'pass' | '401'][] = [
  ['no token', 1, { 'origins-0': 'missing' }, 'pass'],
  ['a valid token', 1, { 'origins-0': 'valid' }, 'pass'],
  [
    'an invalid token (expired, wrong issuer or audience, bad signature)',
    1,
    { 'origins-0': 'invalid' },
    '401',
  ],
  ['no token for any of two providers', 2, { 'origins-0': 'missing', 'origins-1': 'missing' }, 'pass'],
  ['a valid token for the second provider', 2, { 'origins-0': 'missing', 'origins-1': 'valid' }, 'pass'],
  ['an invalid token for the second provider', 2, { 'origins-0': 'missing', 'origins-1': 'invalid' }, '401'],
  ['invalid tokens for both', 2, { 'origins-0': 'invalid', 'origins-1': 'invalid' }, '401'],
  // Istio's arrangement lets a valid token carry a request that also presents an invalid one
  // elsewhere (the leading provider requirements exist for providers sharing a location).
  ['one valid, one invalid', 2, { 'origins-0': 'valid', 'origins-1': 'invalid' }, 'pass'],
];

for (const [name, providers, tokens, want] of REQUIREMENT_CASES) {
  test(`jwt_authn requirement (${providers} provider${providers > 1 ? 's' : ''}): ${name} -> ${want}`, () => {
    const rules = Array.from({ length: providers }, (_, i) => ({ issuer: `iss-${i}`, jwks: JWKS }));
    const c = jwtAuthentication(rules, new JwksSnapshot()) as Loose;
    assert.equal(satisfied(c.rules[0].requires, tokens) ? 'pass' : '401', want);
  });
}
