import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventually } from '../../core/testing/eventually.js';
import { FakeClock } from '../../core/clock.js';
import { FakeAds } from '../testing/fake-ads.js';
import { request, startBackend, startMesh } from '../testing/harness.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  routeTo,
  virtualHost,
} from '../testing/resources.js';
import { APP_CLUSTER, APP_HOST, startServiceMesh } from '../testing/service-mesh.js';
import { accessLogTo, httpRbac, jwtAuthn, policy } from '../testing/security-resources.js';
import { nowSeconds, testIssuer, unsignedToken, type TestIssuer } from '../policy/jwt-testing.js';

const JWT_NS = 'envoy.filters.http.jwt_authn';

/** jwt_authn as Istio compiles a RequestAuthentication: invalid tokens fail, missing ones pass. */
function istioJwt(idp: TestIssuer, extra: Record<string, unknown> = {}, requires?: object) {
  return jwtAuthn({
    providers: {
      'origins-0': {
        issuer: idp.iss,
        audiences: ['shop'],
        local_jwks: { inline_string: idp.jwks },
        payload_in_metadata: idp.iss,
        ...extra,
      },
    },
    rules: [
      {
        match: { prefix: '/' },
        requires: requires ?? {
          requires_any: { requirements: [{ provider_name: 'origins-0' }, { allow_missing: {} }] },
        },
      },
    ],
    bypass_cors_preflight: true,
  });
}

/** Istio's requestPrincipals: ["<iss>/alice"] on /secure, as an ALLOW policy on the JWT metadata. */
function allowAliceOnSecure(idp: TestIssuer) {
  return httpRbac({
    action: 'ALLOW',
    policies: {
      'ns[shop]-policy[alice]-rule[0]': policy(
        [{ url_path: { path: { prefix: '/secure' } } }],
        [
          {
            metadata: {
              filter: JWT_NS,
              path: [{ key: idp.iss }, { key: 'sub' }],
              value: { string_match: { exact: 'alice' } },
            },
          },
        ],
      ),
      'ns[shop]-policy[public]-rule[0]': policy([{ url_path: { path: { prefix: '/public' } } }]),
    },
  });
}

async function jwtMesh(t: TestContext, filters: object[], hcm: Record<string, unknown> = {}) {
  return await startServiceMesh(t, { listener: { httpFilters: filters, hcm } });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

test('Istio arrangement: no token passes without identity, a valid one passes, an invalid one gets 401', async (t) => {
  const idp = await testIssuer();
  const m = await jwtMesh(t, [istioJwt(idp)]);
  const none = await request(m.port, { host: APP_HOST, path: '/public' });
  assert.equal(none.status, 200);
  const good = await idp.sign({ aud: 'shop', sub: 'alice', exp: nowSeconds() + 600 });
  const ok = await request(m.port, { host: APP_HOST, path: '/public', headers: bearer(good) });
  assert.equal(ok.status, 200);
  // forward is false (Istio's forwardOriginalToken default): the token stays at the proxy.
  assert.equal(ok.json<{ headers: Record<string, string> }>().headers.authorization, undefined);
  const failures: [string, string, number, string][] = [
    ['expired', await idp.sign({ aud: 'shop', exp: nowSeconds() - 3600 }), 401, 'Jwt is expired'],
    ['not yet valid', await idp.sign({ aud: 'shop', nbf: nowSeconds() + 3600 }), 401, 'Jwt not yet valid'],
    ['wrong audience', await idp.sign({ aud: 'other' }), 403, 'Audiences in Jwt are not allowed'],
    [
      'wrong issuer',
      await (await testIssuer('https://evil')).sign({ aud: 'shop' }),
      401,
      'Jwt issuer is not configured',
    ],
    ['bad signature', `${good.slice(0, -4)}AAAA`, 401, 'Jwt verification fails'],
    [
      'alg none',
      unsignedToken({ iss: idp.iss, aud: 'shop', sub: 'admin' }),
      401,
      'Jwt header [alg] field value is invalid',
    ],
    ['malformed', 'not-a-jwt', 401, 'Jwt is not in the form of Header.Payload.Signature'],
  ];
  for (const [what, token, status, body] of failures) {
    const r = await request(m.port, { host: APP_HOST, path: '/public/x?q=1', headers: bearer(token) });
    assert.equal(r.status, status, what);
    assert.equal(r.body, body, what);
    assert.equal(
      r.headers['www-authenticate'],
      'Bearer realm="http://app:9080/public/x", error="invalid_token"',
      what,
    );
  }
  assert.equal(m.backend.hits, 2);
});

test('claims from a verified token decide RBAC; a token-less or forged request cannot claim them', async (t) => {
  const idp = await testIssuer();
  const log = path.join(mkdtempSync(path.join(tmpdir(), 'trellis-jwt-')), 'access.log');
  t.after(() => rmSync(path.dirname(log), { recursive: true, force: true }));
  const m = await jwtMesh(
    t,
    [
      istioJwt(idp, {
        forward_payload_header: 'x-jwt-payload',
        claim_to_headers: [{ header_name: 'x-sub', claim_name: 'sub' }],
      }),
      allowAliceOnSecure(idp),
    ],
    { access_log: accessLogTo(log, '%RESPONSE_CODE% %RESPONSE_CODE_DETAILS%\n') },
  );
  const alice = await idp.sign({ aud: 'shop', sub: 'alice' });
  const bob = await idp.sign({ aud: 'shop', sub: 'bob' });
  const ok = await request(m.port, { host: APP_HOST, path: '/secure/data', headers: bearer(alice) });
  assert.equal(ok.status, 200);
  const seen = ok.json<{ headers: Record<string, string> }>().headers;
  assert.equal(seen['x-sub'], 'alice');
  assert.equal(JSON.parse(Buffer.from(seen['x-jwt-payload']!, 'base64url').toString()).sub, 'alice');
  assert.equal(
    (await request(m.port, { host: APP_HOST, path: '/secure/data', headers: bearer(bob) })).status,
    403,
  );
  assert.equal((await request(m.port, { host: APP_HOST, path: '/secure/data' })).status, 403);
  // A client's own payload and claim headers never reach the upstream, token or not.
  const forgedPayload = Buffer.from(JSON.stringify({ iss: idp.iss, sub: 'alice' })).toString('base64url');
  const forged = await request(m.port, {
    host: APP_HOST,
    path: '/public',
    headers: { 'x-jwt-payload': forgedPayload, 'x-sub': 'alice' },
  });
  assert.equal(forged.status, 200);
  const forgedSeen = forged.json<{ headers: Record<string, string> }>().headers;
  assert.equal(forgedSeen['x-jwt-payload'], undefined);
  assert.equal(forgedSeen['x-sub'], undefined);
  const bobForged = await request(m.port, {
    host: APP_HOST,
    path: '/public',
    headers: { ...bearer(bob), 'x-sub': 'alice' },
  });
  assert.equal(bobForged.json<{ headers: Record<string, string> }>().headers['x-sub'], 'bob');
  const expired = await idp.sign({ aud: 'shop', sub: 'alice', exp: nowSeconds() - 3600 });
  assert.equal(
    (await request(m.port, { host: APP_HOST, path: '/secure/data', headers: bearer(expired) })).status,
    401,
  );
  let lines: string[] = [];
  await eventually(() => {
    lines = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
    return lines.length >= 6;
  }, 'access log lines');
  assert.equal(lines[1], '403 rbac_access_denied_matched_policy[none]');
  assert.equal(lines[5], '401 jwt_authn_access_denied{Jwt_is_expired}');
});

test('a required provider: a missing token is 401 "Jwt is missing" with a bare challenge; gRPC gets UNAUTHENTICATED', async (t) => {
  const idp = await testIssuer();
  const m = await jwtMesh(t, [istioJwt(idp, {}, { provider_name: 'origins-0' })]);
  const r = await request(m.port, { host: APP_HOST, path: '/x' });
  assert.equal(r.status, 401);
  assert.equal(r.body, 'Jwt is missing');
  assert.equal(r.headers['www-authenticate'], 'Bearer realm="http://app:9080/x"');
  const grpc = await request(m.port, {
    host: APP_HOST,
    path: '/shop.Cart/Get',
    method: 'POST',
    headers: { 'content-type': 'application/grpc', te: 'trailers' },
  });
  assert.equal(grpc.headers['grpc-status'], '16');
  // CORS preflights pass without a token (bypass_cors_preflight, as Istio sets it).
  const preflight = await request(m.port, {
    host: APP_HOST,
    path: '/x',
    method: 'OPTIONS',
    headers: { origin: 'https://web', 'access-control-request-method': 'POST' },
  });
  assert.equal(preflight.status, 200);
  assert.equal(m.backend.hits, 1);
});

test('tokens from a query parameter and a cookie; forward keeps the token upstream', async (t) => {
  const idp = await testIssuer();
  const m = await jwtMesh(t, [
    istioJwt(
      idp,
      { from_params: ['token'], from_cookies: ['session'], forward: true },
      { provider_name: 'origins-0' },
    ),
  ]);
  const token = await idp.sign({ aud: 'shop', sub: 'alice' });
  assert.equal((await request(m.port, { host: APP_HOST, path: `/x?token=${token}` })).status, 200);
  const cookie = await request(m.port, {
    host: APP_HOST,
    path: '/x',
    headers: { cookie: `a=b; session=${token}` },
  });
  assert.equal(cookie.status, 200);
  assert.match(cookie.json<{ headers: Record<string, string> }>().headers.cookie ?? '', /session=/);
  // from_params replaces the default places: a bearer header is not looked at.
  assert.equal((await request(m.port, { host: APP_HOST, path: '/x', headers: bearer(token) })).status, 401);
  assert.equal((await request(m.port, { host: APP_HOST, path: `/x?token=${token}x` })).status, 401);
});

test('JWKS rotation: a new config replaces the keys; a bad JWKS is NACKed and the old keys stay', async (t) => {
  const old = await testIssuer('https://idp', 'old');
  const next = await testIssuer('https://idp', 'new');
  const m = await jwtMesh(t, [istioJwt(old, {}, { provider_name: 'origins-0' })]);
  const oldToken = await old.sign({ aud: 'shop' });
  const newToken = await next.sign({ aud: 'shop' });
  assert.equal((await request(m.port, { host: APP_HOST, path: '/', headers: bearer(oldToken) })).status, 200);
  assert.equal((await request(m.port, { host: APP_HOST, path: '/', headers: bearer(newToken) })).status, 401);
  const nacks = m.ads.nacks('LDS').length;
  m.ads.set('LDS', [
    httpListener(9080, '9080', {
      httpFilters: [istioJwt({ ...old, jwks: '{"keys": 5}' }, {}, { provider_name: 'origins-0' })],
    }),
  ]);
  await m.ads.waitFor(() => m.ads.nacks('LDS').length > nacks, 'NACK of a bad JWKS');
  assert.match(
    m.ads.nacks('LDS').at(-1)?.error_detail?.message ?? '',
    /providers\["origins-0"\]\.local_jwks/,
  );
  assert.equal((await request(m.port, { host: APP_HOST, path: '/', headers: bearer(oldToken) })).status, 200);
  // Rotation: both keys while clients move, then only the new one.
  const both = { ...next, jwks: JSON.stringify({ keys: [old.publicJwk, next.publicJwk] }) };
  m.ads.set('LDS', [
    httpListener(9080, '9080', { httpFilters: [istioJwt(both, {}, { provider_name: 'origins-0' })] }),
  ]);
  await m.ads.waitForAck('LDS');
  assert.equal((await request(m.port, { host: APP_HOST, path: '/', headers: bearer(oldToken) })).status, 200);
  assert.equal((await request(m.port, { host: APP_HOST, path: '/', headers: bearer(newToken) })).status, 200);
  m.ads.set('LDS', [
    httpListener(9080, '9080', { httpFilters: [istioJwt(next, {}, { provider_name: 'origins-0' })] }),
  ]);
  await m.ads.waitForAck('LDS');
  const stale = await request(m.port, { host: APP_HOST, path: '/', headers: bearer(oldToken) });
  assert.equal(stale.status, 401);
  assert.equal(stale.body, "Jwks doesn't have key to match kid or alg from Jwt");
  assert.equal((await request(m.port, { host: APP_HOST, path: '/', headers: bearer(newToken) })).status, 200);
});

test("expiry follows the proxy's clock, with clock_skew_seconds (default 60)", async (t) => {
  const idp = await testIssuer();
  const T0 = 1_900_000_000_000;
  const clock = new FakeClock(T0);
  const backend = await startBackend('app');
  const mesh = await startMesh(
    {
      CDS: [edsCluster(APP_CLUSTER)],
      EDS: [endpoints(APP_CLUSTER, [{ port: backend.port }])],
      LDS: [httpListener(9080, '9080', { httpFilters: [istioJwt(idp)] })],
      RDS: [routeConfig('9080', [virtualHost('app', [APP_HOST], [routeTo(APP_CLUSTER)])])],
    },
    { clock },
    FakeAds,
  );
  t.after(async () => {
    await mesh.close();
    await backend.close();
  });
  const token = await idp.sign({ aud: 'shop', exp: T0 / 1000 + 30, nbf: T0 / 1000 - 10 });
  const send = async () =>
    (await request(mesh.port, { host: APP_HOST, path: '/', headers: bearer(token) })).status;
  assert.equal(await send(), 200);
  clock.advance(89_000); // 59 s past exp: inside the skew
  assert.equal(await send(), 200);
  clock.advance(2_000); // 61 s past exp
  assert.equal(await send(), 401);
});
