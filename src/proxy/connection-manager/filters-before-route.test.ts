// Envoy runs the connection manager's filters before the router, so RBAC and jwt_authn see a
// request whether or not a route matches it: a denied request gets 403 (or 401) where no route
// exists, and the absence of a route cannot be probed through a DENY policy. And jwt_authn with
// clear_route_cache: the route is chosen again once a token verified, so routes can match the
// verified claims (Istio's `@request.auth.claims` at gateways) and never a forged header.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventually } from '../../core/testing/eventually.js';
import { FakeAds } from '../testing/fake-ads.js';
import { TYPE, packAny } from '../../protocol/protos.js';
import { request, startBackend, startMesh, type Backend } from '../testing/harness.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  routeTo,
  virtualHost,
} from '../testing/resources.js';
import { accessLogTo, httpRbac, jwtAuthn, policy } from '../testing/security-resources.js';
import { nowSeconds, testIssuer, type TestIssuer } from '../policy/jwt-testing.js';

const V1 = 'outbound|9080|v1|app.default.svc.cluster.local';
const V2 = 'outbound|9080|v2|app.default.svc.cluster.local';
const HOST = 'app:9080';
const DENY_ADMIN = httpRbac({
  action: 'DENY',
  policies: { 'ns[shop]-policy[deny-admin]-rule[0]': policy([{ url_path: { path: { prefix: '/admin' } } }]) },
});

function logFile(t: TestContext): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'trellis-noroute-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'access.log');
}

async function logLines(file: string, n: number): Promise<string[]> {
  let lines: string[] = [];
  await eventually(() => {
    lines = existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : [];
    return lines.length >= n;
  }, `${n} access log lines`);
  return lines;
}

/** Two subsets of app; `routes` decide which one a request reaches. */
async function twoSubsets(
  t: TestContext,
  filters: object[],
  routes: object[],
  hcm: Record<string, unknown> = {},
) {
  const v1 = await startBackend('v1');
  const v2 = await startBackend('v2');
  const mesh = await startMesh(
    {
      CDS: [edsCluster(V1), edsCluster(V2)],
      EDS: [endpoints(V1, [{ port: v1.port }]), endpoints(V2, [{ port: v2.port }])],
      LDS: [httpListener(9080, '9080', { httpFilters: filters, hcm })],
      RDS: [routeConfig('9080', [virtualHost('app', [HOST], routes)])],
    },
    {},
    FakeAds,
  );
  t.after(async () => {
    await mesh.close();
    await Promise.all([v1.close(), v2.close()]);
  });
  return { ...mesh, v1, v2 };
}

const backendOf = (r: { json<T>(): T }) => r.json<{ backend: string }>().backend;
const hits = (...b: Backend[]) => b.reduce((n, x) => n + x.hits, 0);

test('a DENY policy answers 403 where no route matches; a route-less request it allows gets 404 NR', async (t) => {
  const log = logFile(t);
  const m = await twoSubsets(
    t,
    [DENY_ADMIN],
    [routeTo(V1, { prefix: '/shop' }), routeTo(V1, { prefix: '/admin/reports' })],
    {
      access_log: accessLogTo(log, '%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS%\n'),
    },
  );
  const routed = await request(m.port, { host: HOST, path: '/admin/reports' });
  const unrouted = await request(m.port, { host: HOST, path: '/admin/nothing-here' });
  // Both denied alike: the policy does not tell which admin paths exist.
  for (const r of [routed, unrouted]) {
    assert.equal(r.status, 403);
    assert.equal(r.body, 'RBAC: access denied');
  }
  const missing = await request(m.port, { host: HOST, path: '/elsewhere' });
  assert.equal(missing.status, 404);
  assert.equal((await request(m.port, { host: HOST, path: '/shop' })).status, 200);
  assert.equal(hits(m.v1, m.v2), 1);
  const lines = await logLines(log, 4);
  assert.deepEqual(lines.slice(0, 2), [
    '403 - rbac_access_denied_matched_policy[ns[shop]-policy[deny-admin]-rule[0]]',
    '403 - rbac_access_denied_matched_policy[ns[shop]-policy[deny-admin]-rule[0]]',
  ]);
  assert.match(lines[2] ?? '', /^404 NR /);
});

test('an unknown host is denied by RBAC too, before "no virtual host"', async (t) => {
  const allowNone = httpRbac({ action: 'ALLOW', policies: {} });
  const m = await twoSubsets(t, [allowNone], [routeTo(V1)]);
  assert.equal((await request(m.port, { host: 'unknown.example:9080', path: '/' })).status, 403);
  assert.equal((await request(m.port, { host: HOST, path: '/' })).status, 403);
  assert.equal(hits(m.v1, m.v2), 0);
});

test('ext_authz (CUSTOM) checks a request no route matches: denied 403, allowed then 404 NR', async (t) => {
  const asked: string[] = [];
  const service = await startBackend('authz', (req, res) => {
    asked.push(req.url ?? '');
    res.writeHead(req.headers['x-badge'] === 'ok' ? 200 : 403);
    res.end();
  });
  t.after(() => service.close());
  const SVC = 'outbound|8000||authz.default.svc.cluster.local';
  const extAuthz = {
    name: 'envoy.filters.http.ext_authz',
    typed_config: packAny(TYPE.extAuthz, {
      http_service: {
        server_uri: { uri: 'http://authz:8000', cluster: SVC, timeout: { seconds: 1 } },
        authorization_request: { allowed_headers: { patterns: [{ exact: 'x-badge' }] } },
      },
    }),
  };
  const v1 = await startBackend('v1');
  const mesh = await startMesh(
    {
      CDS: [edsCluster(V1), edsCluster(SVC)],
      EDS: [endpoints(V1, [{ port: v1.port }]), endpoints(SVC, [{ port: service.port }])],
      LDS: [httpListener(9080, '9080', { httpFilters: [extAuthz] })],
      RDS: [routeConfig('9080', [virtualHost('app', [HOST], [routeTo(V1, { prefix: '/shop' })])])],
    },
    {},
    FakeAds,
  );
  t.after(async () => {
    await mesh.close();
    await v1.close();
  });
  assert.equal((await request(mesh.port, { host: HOST, path: '/hidden' })).status, 403);
  const allowed = await request(mesh.port, { host: HOST, path: '/hidden', headers: { 'x-badge': 'ok' } });
  assert.equal(allowed.status, 404);
  assert.deepEqual(asked, ['/hidden', '/hidden']);
  assert.equal(v1.hits, 0);
});

/** jwt_authn as Istio compiles a RequestAuthentication at a gateway (clear_route_cache). */
function gatewayJwt(idp: TestIssuer, clearRouteCache = true, extra: object = {}) {
  return jwtAuthn({
    providers: {
      'origins-0': {
        issuer: idp.iss,
        local_jwks: { inline_string: idp.jwks },
        payload_in_metadata: 'payload',
        ...(clearRouteCache ? { clear_route_cache: true } : {}),
        ...extra,
      },
    },
    rules: [
      {
        match: { prefix: '/' },
        requires: { requires_any: { requirements: [{ provider_name: 'origins-0' }, { allow_missing: {} }] } },
      },
    ],
    bypass_cors_preflight: true,
  });
}

test('an invalid token gets 401 where no route matches; a missing one reaches the router (404)', async (t) => {
  const idp = await testIssuer();
  const m = await twoSubsets(t, [gatewayJwt(idp, false)], [routeTo(V1, { prefix: '/shop' })]);
  const bad = await request(m.port, {
    host: HOST,
    path: '/nothing',
    headers: { authorization: 'Bearer not-a-jwt' },
  });
  assert.equal(bad.status, 401);
  assert.equal(bad.body, 'Jwt is not in the form of Header.Payload.Signature');
  assert.equal((await request(m.port, { host: HOST, path: '/nothing' })).status, 404);
});

/** What Istio generates for `@request.auth.claims.group: { exact: admin }`. */
const groupIs = (value: string) => ({
  filter: 'envoy.filters.http.jwt_authn',
  path: [{ key: 'payload' }, { key: 'group' }],
  value: {
    or_match: {
      value_matchers: [
        { list_match: { one_of: { string_match: { exact: value } } } },
        { string_match: { exact: value } },
      ],
    },
  },
});

const CLAIM_ROUTES = [
  routeTo(V2, { prefix: '/', dynamic_metadata: [groupIs('admin')] }),
  routeTo(V1, { prefix: '/' }),
];

test('a route on a verified claim: admin tokens reach v2 (string or list claim), others v1', async (t) => {
  const idp = await testIssuer();
  const m = await twoSubsets(t, [gatewayJwt(idp)], CLAIM_ROUTES);
  const as = async (claims: object) => {
    const token = await idp.sign({ exp: nowSeconds() + 600, ...claims });
    return backendOf(
      await request(m.port, { host: HOST, path: '/', headers: { authorization: `Bearer ${token}` } }),
    );
  };
  assert.equal(await as({ group: 'admin' }), 'v2');
  assert.equal(await as({ group: ['users', 'admin'] }), 'v2');
  assert.equal(await as({ group: 'users' }), 'v1');
  assert.equal(await as({ group: 'administrators' }), 'v1');
  assert.equal(await as({}), 'v1');
  assert.equal(backendOf(await request(m.port, { host: HOST, path: '/' })), 'v1');
});

test('without clear_route_cache the route stays the one chosen before the token was verified', async (t) => {
  const idp = await testIssuer();
  const m = await twoSubsets(t, [gatewayJwt(idp, false)], CLAIM_ROUTES);
  const token = await idp.sign({ exp: nowSeconds() + 600, group: 'admin' });
  const r = await request(m.port, { host: HOST, path: '/', headers: { authorization: `Bearer ${token}` } });
  assert.equal(backendOf(r), 'v1');
});

test('a forged claim cannot select the route: headers, an unsigned token, a token from another issuer', async (t) => {
  const idp = await testIssuer();
  const m = await twoSubsets(
    t,
    [
      gatewayJwt(idp, true, {
        claim_to_headers: [{ header_name: 'x-jwt-claim-group', claim_name: 'group' }],
      }),
    ],
    [
      routeTo(V2, {
        prefix: '/',
        headers: [{ name: 'x-jwt-claim-group', string_match: { exact: 'admin' } }],
      }),
      ...CLAIM_ROUTES,
    ],
  );
  const via = async (headers: Record<string, string>) =>
    backendOf(await request(m.port, { host: HOST, path: '/', headers }));
  // The claim header a provider writes, sent by the client without a token: removed, then the
  // route is chosen again without it.
  assert.equal(await via({ 'x-jwt-claim-group': 'admin' }), 'v1');
  assert.equal(await via({ 'x-envoy-dynamic-metadata': 'group=admin', payload: '{"group":"admin"}' }), 'v1');
  const users = await idp.sign({ exp: nowSeconds() + 600, group: 'users' });
  assert.equal(await via({ authorization: `Bearer ${users}`, 'x-jwt-claim-group': 'admin' }), 'v1');
  const other = await (await testIssuer('https://evil.example')).sign({ group: 'admin' });
  const refused = await request(m.port, {
    host: HOST,
    path: '/',
    headers: { authorization: `Bearer ${other}` },
  });
  assert.equal(refused.status, 401);
  // The genuine article, through the header route too.
  const admin = await idp.sign({ exp: nowSeconds() + 600, group: 'admin' });
  assert.equal(await via({ authorization: `Bearer ${admin}` }), 'v2');
  assert.equal(m.v2.hits, 1);
});

test('route metadata matchers the proxy cannot evaluate are NACKed with their path; jwt rules refuse them', async (t) => {
  const idp = await testIssuer();
  const m = await twoSubsets(t, [gatewayJwt(idp)], CLAIM_ROUTES);
  const nacks = (type: 'RDS' | 'LDS') => m.ads.nacks(type).length;
  const before = nacks('RDS');
  m.ads.set('RDS', [
    routeConfig('9080', [
      virtualHost(
        'app',
        [HOST],
        [routeTo(V2, { prefix: '/', dynamic_metadata: [{ filter: 'x', path: [{ key: 'a' }] }] })],
      ),
    ]),
  ]);
  await m.ads.waitFor(() => nacks('RDS') > before, 'RDS NACK');
  assert.match(
    m.ads.nacks('RDS').at(-1)?.error_detail?.message ?? '',
    /dynamic_metadata\[0\]\.value: is required/,
  );
  const ldsBefore = nacks('LDS');
  m.ads.set('LDS', [
    httpListener(9080, '9080', {
      httpFilters: [
        jwtAuthn({
          providers: { p: { issuer: idp.iss, local_jwks: { inline_string: idp.jwks } } },
          rules: [
            {
              match: { prefix: '/', dynamic_metadata: [groupIs('admin')] },
              requires: { provider_name: 'p' },
            },
          ],
        }),
      ],
    }),
  ]);
  await m.ads.waitFor(() => nacks('LDS') > ldsBefore, 'LDS NACK');
  assert.match(
    m.ads.nacks('LDS').at(-1)?.error_detail?.message ?? '',
    /rules\[0\]\.match\.dynamic_metadata: is not supported here/,
  );
  // The last good routes keep serving.
  assert.equal(backendOf(await request(m.port, { host: HOST, path: '/' })), 'v1');
});
