import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTrellisError } from '../../core/errors.js';
import {
  authenticate,
  compileJwtProvider,
  compileRequirement,
  type JwtAuthnFilter,
  type JwtProvider,
  type JwtProviderConfig,
  type JwtRequirementConfig,
} from './jwt-authn.js';
import { extractTokens, defaultLocations } from './jwt-extract.js';
import { testIssuer, nowSeconds, type TestIssuer } from './jwt-testing.js';

function filterOf(providers: JwtProvider[]): JwtAuthnFilter {
  return {
    providers: new Map(providers.map((p) => [p.name, p])),
    rules: [],
    bypassCorsPreflight: false,
    stripFailureResponse: false,
    outputHeaders: [],
  };
}

async function setup() {
  const a = await testIssuer('https://a.example.com', 'ka');
  const b = await testIssuer('https://b.example.com', 'kb');
  const provider = (idp: TestIssuer, extra: Partial<JwtProviderConfig> = {}) =>
    compileJwtProvider(
      idp.iss,
      { issuer: idp.iss, local_jwks: { inline_string: idp.jwks }, payload_in_metadata: idp.iss, ...extra },
      'p',
    );
  const pa = provider(a, { audiences: ['shop'] });
  const pb = provider(b);
  const c = await testIssuer('https://c.example.com', 'kc');
  const pc = provider(c, { from_headers: [{ name: 'x-c-token' }] });
  const filter = filterOf([pa, pb, pc]);
  const req = (c: JwtRequirementConfig) => compileRequirement(c, filter.providers, 'r');
  const run = async (c: JwtRequirementConfig, headers: Record<string, string | string[]>, path = '/') =>
    await authenticate(filter, req(c), { headers, path }, nowSeconds());
  return { a, b, c, run };
}

test("requirements: a provider, any of them, all of them, and Istio's allow_missing", async () => {
  const { a, b, c, run } = await setup();
  const tokenC = await c.sign({});
  const goodA = `Bearer ${await a.sign({ aud: 'shop', sub: 'alice' })}`;
  const goodB = `Bearer ${await b.sign({ sub: 'bob' })}`;
  const expiredA = `Bearer ${await a.sign({ aud: 'shop', exp: nowSeconds() - 3600 })}`;
  const wrongAudA = `Bearer ${await a.sign({ aud: 'other' })}`;
  const stranger = `Bearer ${await (await testIssuer('https://evil.example.com')).sign({})}`;
  const istio = {
    requires_any: {
      requirements: [{ provider_name: a.iss }, { provider_name: b.iss }, { allow_missing: {} }],
    },
  };
  const cases: [string, JwtRequirementConfig, Record<string, string | string[]>, string][] = [
    ['provider: valid', { provider_name: a.iss }, { authorization: goodA }, 'ok'],
    ['provider: missing', { provider_name: a.iss }, {}, 'missing'],
    ['provider: expired', { provider_name: a.iss }, { authorization: expiredA }, 'expired'],
    [
      'provider: a token for another provider',
      { provider_name: a.iss },
      { authorization: goodB },
      'unknownIssuer',
    ],
    [
      'provider_and_audiences overrides the audiences',
      { provider_and_audiences: { provider_name: a.iss, audiences: ['other'] } },
      { authorization: wrongAudA },
      'ok',
    ],
    [
      'provider: wrong audience',
      { provider_name: a.iss },
      { authorization: wrongAudA },
      'audienceNotAllowed',
    ],
    [
      'any: either',
      { requires_any: { requirements: [{ provider_name: a.iss }, { provider_name: b.iss }] } },
      { authorization: goodB },
      'ok',
    ],
    [
      'any: the telling failure, not "missing"',
      { requires_any: { requirements: [{ provider_name: a.iss }, { provider_name: b.iss }] } },
      { authorization: expiredA },
      'expired',
    ],
    [
      'any: nothing',
      { requires_any: { requirements: [{ provider_name: a.iss }, { provider_name: b.iss }] } },
      {},
      'missing',
    ],
    [
      'all: both needed',
      { requires_all: { requirements: [{ provider_name: a.iss }, { provider_name: b.iss }] } },
      { authorization: goodA },
      // Both read `Authorization`, and every token at a provider's place must be its own (Envoy).
      'unknownIssuer',
    ],
    [
      'all: both present',
      { requires_all: { requirements: [{ provider_name: a.iss }, { provider_name: b.iss }] } },
      { authorization: [goodA, goodB] },
      'unknownIssuer',
    ],
    [
      'all: both, each at its own place',
      { requires_all: { requirements: [{ provider_name: a.iss }, { provider_name: c.iss }] } },
      { authorization: goodA, 'x-c-token': tokenC },
      'ok',
    ],
    [
      'all: one missing',
      { requires_all: { requirements: [{ provider_name: a.iss }, { provider_name: c.iss }] } },
      { authorization: goodA },
      'missing',
    ],
    ['istio: no token passes', istio, {}, 'ok'],
    ['istio: a valid token passes', istio, { authorization: goodA }, 'ok'],
    ['istio: an invalid token fails', istio, { authorization: expiredA }, 'expired'],
    ['istio: an unknown issuer fails', istio, { authorization: stranger }, 'unknownIssuer'],
    ['istio: garbage fails', istio, { authorization: 'Bearer abc.def' }, 'badFormat'],
    // A valid token cannot carry a bad one past the check.
    ['istio: a good and a bad token', istio, { authorization: [goodA, expiredA] }, 'expired'],
    [
      'allow_missing_or_failed: anything passes',
      { allow_missing_or_failed: {} },
      { authorization: expiredA },
      'ok',
    ],
    // Envoy's prefix is case-sensitive: `bearer` carries no token at all.
    [
      'istio: lower-case bearer is no token',
      istio,
      { authorization: goodA.replace('Bearer', 'bearer') },
      'ok',
    ],
    [
      'provider: lower-case bearer is no token',
      { provider_name: a.iss },
      { authorization: goodA.replace('Bearer', 'bearer') },
      'missing',
    ],
  ];
  for (const [what, requirement, headers, want] of cases) {
    const out = await run(requirement, headers);
    assert.equal(out.failure ?? 'ok', want, what);
  }
});

test('verified tokens write metadata and headers; failures write nothing', async () => {
  const a = await testIssuer('https://a.example.com');
  const p = compileJwtProvider(
    'a',
    {
      issuer: a.iss,
      local_jwks: { inline_string: a.jwks },
      payload_in_metadata: a.iss,
      forward_payload_header: 'x-jwt-payload',
      claim_to_headers: [
        { header_name: 'x-sub', claim_name: 'sub' },
        { header_name: 'x-tenant', claim_name: 'org.tenant' },
        { header_name: 'x-admin', claim_name: 'admin' },
        { header_name: 'x-missing', claim_name: 'nope' },
      ],
      normalize_payload_in_metadata: { space_delimited_claims: ['scope'] },
    },
    'p',
  );
  const filter = filterOf([p]);
  const token = await a.sign({ sub: 'alice', org: { tenant: 't1' }, admin: true, scope: 'read write' });
  const out = await authenticate(
    filter,
    { kind: 'provider', provider: p },
    { headers: { authorization: `Bearer ${token}` }, path: '/' },
    nowSeconds(),
  );
  assert.equal(out.failure, undefined);
  const payload = out.metadata[a.iss] as Record<string, unknown>;
  assert.equal(payload.sub, 'alice');
  assert.deepEqual(payload.scope, ['read', 'write']);
  const headers = Object.fromEntries(out.setHeaders);
  assert.equal(headers['x-jwt-payload'], token.split('.')[1]);
  assert.equal(JSON.parse(Buffer.from(headers['x-jwt-payload']!, 'base64url').toString()).sub, 'alice');
  assert.equal(headers['x-sub'], 'alice');
  assert.equal(headers['x-tenant'], 't1');
  assert.equal(headers['x-admin'], 'true');
  assert.equal(headers['x-missing'], undefined);
  // forward is false by default: the token's header does not go upstream.
  assert.deepEqual(out.removeHeaders, ['authorization']);
  const bad = await authenticate(
    filter,
    { kind: 'provider', provider: p },
    { headers: { authorization: `Bearer ${token}x` }, path: '/' },
    nowSeconds(),
  );
  assert.equal(bad.failure, 'verificationFail');
  assert.deepEqual([bad.metadata, bad.setHeaders, bad.removeHeaders], [{}, [], []]);
});

test('token places: headers with and without a prefix, query parameters, cookies, and the defaults', () => {
  const headerLoc = { kind: 'header' as const, name: 'x-token', valuePrefix: '' };
  const prefixed = { kind: 'header' as const, name: 'authorization', valuePrefix: 'Bearer ' };
  const cases: [
    string,
    Parameters<typeof extractTokens>[0],
    Parameters<typeof extractTokens>[1],
    string[],
  ][] = [
    [
      'default: bearer',
      { headers: { authorization: 'Bearer a.b.c' }, path: '/' },
      defaultLocations(),
      ['a.b.c'],
    ],
    ['default: access_token', { headers: {}, path: '/x?access_token=a.b.c' }, defaultLocations(), ['a.b.c']],
    [
      'prefix anywhere, token up to a non-JWT character',
      { headers: { authorization: 'Foo, Bearer a.b.c, x' }, path: '/' },
      [prefixed],
      ['a.b.c'],
    ],
    ['no prefix, no token', { headers: { authorization: 'Basic abc' }, path: '/' }, [prefixed], []],
    ['bare header', { headers: { 'x-token': ' a.b.c ' }, path: '/' }, [headerLoc], ['a.b.c']],
    [
      'several values',
      { headers: { authorization: ['Bearer a.b.c', 'Bearer d.e.f'] }, path: '/' },
      [prefixed],
      ['a.b.c', 'd.e.f'],
    ],
    [
      'param, url-encoded',
      { headers: {}, path: '/x?t=a.b%2Ec&t=d.e.f' },
      [{ kind: 'param', name: 't' }],
      ['a.b.c', 'd.e.f'],
    ],
    [
      'cookie',
      { headers: { cookie: 'a=1; session="a.b.c"; z=2' }, path: '/' },
      [{ kind: 'cookie', name: 'session' }],
      ['a.b.c'],
    ],
    ['empty param', { headers: {}, path: '/x?t=' }, [{ kind: 'param', name: 't' }], []],
  ];
  for (const [what, source, locations, want] of cases)
    assert.deepEqual(
      extractTokens(source, locations).map((t) => t.token),
      want,
      what,
    );
});

test('provider and requirement configs the proxy cannot honour are refused with their path', async () => {
  const a = await testIssuer();
  const jwks = { inline_string: a.jwks };
  const bad: [JwtProviderConfig, string][] = [
    [{ issuer: a.iss, remote_jwks: { http_uri: { uri: 'https://x' } } }, 'p.remote_jwks'],
    [{ issuer: a.iss }, 'p.local_jwks'],
    [{ issuer: a.iss, local_jwks: { filename: '/etc/jwks.json' } }, 'p.local_jwks.filename'],
    [{ issuer: a.iss, local_jwks: { inline_string: '{' } }, 'p.local_jwks'],
    [{ issuer: a.iss, local_jwks: jwks, subjects: { prefix: 'x' } }, 'p.subjects'],
    [{ issuer: a.iss, local_jwks: jwks, require_expiration: true }, 'p.require_expiration'],
    [{ issuer: a.iss, local_jwks: jwks, header_in_metadata: 'h' }, 'p.header_in_metadata'],
    [{ issuer: a.iss, local_jwks: jwks, from_headers: [{ name: 'bad header' }] }, 'p.from_headers[0].name'],
    [
      { issuer: a.iss, local_jwks: jwks, claim_to_headers: [{ header_name: 'x-a' }] },
      'p.claim_to_headers[0].claim_name',
    ],
  ];
  for (const [config, path] of bad) {
    assert.throws(
      () => compileJwtProvider('a', config, 'p'),
      (e: unknown) => isTrellisError(e) && e.path === path,
      path,
    );
  }
  const providers = new Map([['a', compileJwtProvider('a', { issuer: a.iss, local_jwks: jwks }, 'p')]]);
  const badReq: [JwtRequirementConfig, string][] = [
    [{ provider_name: 'nope' }, 'r.provider_name'],
    [{ requires_any: { requirements: [{ provider_name: 'a' }] } }, 'r.requires_any.requirements'],
    [{}, 'r'],
  ];
  for (const [config, path] of badReq) {
    assert.throws(
      () => compileRequirement(config, providers, 'r'),
      (e: unknown) => isTrellisError(e) && e.path === path,
      path,
    );
  }
});
