import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventually } from '../../core/testing/eventually.js';
import { rawRequest } from '../../core/testing/raw-http.js';
import { request } from '../testing/harness.js';
import { httpListener, routeConfig, routeTo, virtualHost } from '../testing/resources.js';
import { APP_CLUSTER, APP_HOST, startServiceMesh } from '../testing/service-mesh.js';
import { accessLogTo, httpRbac, policy } from '../testing/security-resources.js';

const STAT = 'http.outbound_0.0.0.0_9080.rbac.';
const ADMIN_PREFIX = { url_path: { path: { prefix: '/admin' } } };
const DENY_ADMIN = httpRbac({
  action: 'DENY',
  policies: { 'ns[shop]-policy[deny-admin]-rule[0]': policy([ADMIN_PREFIX]) },
});

function logDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'trellis-rbac-'));
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

test('a DENY policy answers 403 "RBAC: access denied" before the upstream, with Envoy stats and details', async (t) => {
  const log = logDir(t);
  const m = await startServiceMesh(t, {
    listener: {
      httpFilters: [DENY_ADMIN],
      hcm: { access_log: accessLogTo(log, '%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS%\n') },
    },
  });
  const denied = await request(m.port, { host: APP_HOST, path: '/admin/users' });
  assert.equal(denied.status, 403);
  assert.equal(denied.body, 'RBAC: access denied');
  assert.equal(m.backend.hits, 0);
  const ok = await request(m.port, { host: APP_HOST, path: '/catalog' });
  assert.equal(ok.status, 200);
  assert.equal(m.backend.hits, 1);
  assert.equal(m.proxy.stats.envoyCounter(`${STAT}denied`), 1);
  assert.equal(m.proxy.stats.envoyCounter(`${STAT}allowed`), 1);
  assert.match(m.proxy.stats.prometheus(), /^envoy_http_outbound_0_0_0_0_9080_rbac_denied 1$/m);
  const lines = await logLines(log, 2);
  assert.equal(lines[0], '403 - rbac_access_denied_matched_policy[ns[shop]-policy[deny-admin]-rule[0]]');
  assert.equal(lines[1], '200 - via_upstream');
});

test('an ALLOW engine with no policy denies everything, reported as policy none', async (t) => {
  const log = logDir(t);
  const m = await startServiceMesh(t, {
    listener: {
      httpFilters: [httpRbac({ action: 'ALLOW', policies: {} })],
      hcm: { access_log: accessLogTo(log, '%RESPONSE_CODE_DETAILS%\n') },
    },
  });
  const r = await request(m.port, { host: APP_HOST, path: '/' });
  assert.equal(r.status, 403);
  assert.equal(m.backend.hits, 0);
  assert.deepEqual(await logLines(log, 1), ['rbac_access_denied_matched_policy[none]']);
});

test('filters run in order, DENY before ALLOW (Istio), and a deny wins over a later allow', async (t) => {
  const allowGet = httpRbac({
    action: 'ALLOW',
    policies: {
      'ns[shop]-policy[get]-rule[0]': policy([
        { header: { name: ':method', string_match: { exact: 'GET' } } },
      ]),
    },
  });
  const m = await startServiceMesh(t, { listener: { httpFilters: [DENY_ADMIN, allowGet] } });
  assert.equal((await request(m.port, { host: APP_HOST, path: '/admin' })).status, 403);
  assert.equal((await request(m.port, { host: APP_HOST, path: '/x' })).status, 200);
  assert.equal((await request(m.port, { host: APP_HOST, path: '/x', method: 'POST' })).status, 403);
  // Method case: `get` is another method to Envoy's exact matcher, not GET.
  const lower = await rawRequest(m.port, `get /x HTTP/1.1\r\nhost: ${APP_HOST}\r\nconnection: close\r\n\r\n`);
  assert.equal(lower.status, 403);
  assert.equal(m.backend.hits, 1);
});

test('shadow rules are evaluated and counted but never enforced; their prefix names the stats', async (t) => {
  const m = await startServiceMesh(t, {
    listener: {
      httpFilters: [
        httpRbac(undefined, {
          shadow_rules: {
            action: 'DENY',
            policies: { 'ns[shop]-policy[dry]-rule[0]': policy([ADMIN_PREFIX]) },
          },
          shadow_rules_stat_prefix: 'istio_dry_run_allow_',
        }),
      ],
    },
  });
  assert.equal((await request(m.port, { host: APP_HOST, path: '/admin' })).status, 200);
  assert.equal((await request(m.port, { host: APP_HOST, path: '/shop' })).status, 200);
  assert.equal(m.proxy.stats.envoyCounter(`${STAT}istio_dry_run_allow_shadow_denied`), 1);
  assert.equal(m.proxy.stats.envoyCounter(`${STAT}istio_dry_run_allow_shadow_allowed`), 1);
  assert.equal(m.proxy.stats.envoyCounter(`${STAT}denied`), 0);
});

test('a gRPC request is denied with grpc-status 7 (PERMISSION_DENIED)', async (t) => {
  const m = await startServiceMesh(t, { listener: { httpFilters: [DENY_ADMIN] } });
  const r = await request(m.port, {
    host: APP_HOST,
    path: '/admin.Service/Drop',
    method: 'POST',
    headers: { 'content-type': 'application/grpc', te: 'trailers' },
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers['grpc-status'], '7');
  assert.equal(decodeURIComponent(String(r.headers['grpc-message'])), 'RBAC: access denied');
  assert.equal(m.backend.hits, 0);
});

test('a direct response or a redirect is not a way around RBAC', async (t) => {
  const m = await startServiceMesh(t, { listener: { httpFilters: [DENY_ADMIN] } });
  m.ads.set('RDS', [
    routeConfig('9080', [
      virtualHost(
        'app',
        [APP_HOST],
        [
          {
            match: { prefix: '/admin/secret' },
            direct_response: { status: 200, body: { inline_string: 'secret' } },
          },
          { match: { prefix: '/admin/old' }, redirect: { path_redirect: '/new' } },
          { match: { prefix: '/open' }, direct_response: { status: 200, body: { inline_string: 'open' } } },
          routeTo(APP_CLUSTER),
        ],
      ),
    ]),
  ]);
  await m.ads.waitForAck('RDS');
  const secret = await request(m.port, { host: APP_HOST, path: '/admin/secret' });
  assert.equal(secret.status, 403);
  assert.equal(secret.body, 'RBAC: access denied');
  assert.equal((await request(m.port, { host: APP_HOST, path: '/admin/old' })).status, 403);
  const open = await request(m.port, { host: APP_HOST, path: '/open' });
  assert.deepEqual([open.status, open.body], [200, 'open']);
});

test('an RBAC filter the proxy cannot honour is NACKed and the last good config stays', async (t) => {
  const m = await startServiceMesh(t, { listener: { httpFilters: [DENY_ADMIN] } });
  const bad: [string, object][] = [
    [
      'a CEL condition',
      { action: 'DENY', policies: { p: { ...policy([ADMIN_PREFIX]), condition: { id: 1 } } } },
    ],
    ['a policy without principals', { action: 'DENY', policies: { p: { permissions: [ADMIN_PREFIX] } } }],
    [
      'a bad regex',
      { action: 'DENY', policies: { p: policy([{ url_path: { path: { safe_regex: { regex: '(' } } } }]) } },
    ],
  ];
  for (const [what, rules] of bad) {
    const nacks = m.ads.nacks('LDS').length;
    m.ads.set('LDS', [httpListener(9080, '9080', { httpFilters: [httpRbac(rules)] })]);
    await m.ads.waitFor(() => m.ads.nacks('LDS').length > nacks, `NACK of ${what}`);
    assert.match(
      m.ads.nacks('LDS').at(-1)?.error_detail?.message ?? '',
      /http_filters\[0\]\.typed_config\.rules/,
      what,
    );
  }
  const matcher = m.ads.nacks('LDS').length;
  m.ads.set('LDS', [
    httpListener(9080, '9080', {
      httpFilters: [httpRbac(undefined, { matcher: { matcher_list: { matchers: [] } } } as never)],
    }),
  ]);
  await m.ads.waitFor(() => m.ads.nacks('LDS').length > matcher, 'NACK of matcher');
  assert.match(m.ads.nacks('LDS').at(-1)?.error_detail?.message ?? '', /typed_config\.matcher/);
  // Still the DENY policy from the first, good config.
  assert.equal((await request(m.port, { host: APP_HOST, path: '/admin' })).status, 403);
  assert.equal((await request(m.port, { host: APP_HOST, path: '/ok' })).status, 200);
});

test('a WebSocket upgrade is authorized like any request; a per-route RBAC override is refused', async (t) => {
  const m = await startServiceMesh(t, {
    listener: { httpFilters: [DENY_ADMIN], upgradeTypes: ['websocket'] },
  });
  const upgrade = await rawRequest(
    m.port,
    `GET /admin/ws HTTP/1.1\r\nhost: ${APP_HOST}\r\nconnection: upgrade\r\nupgrade: websocket\r\n` +
      'sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  );
  assert.equal(upgrade.status, 403);
  assert.equal(m.backend.hits, 0);
  // RBACPerRoute is not honoured here: a route carrying one is NACKed, not silently ignored.
  const nacks = m.ads.nacks('RDS').length;
  m.ads.set('RDS', [
    routeConfig('9080', [
      virtualHost(
        'app',
        [APP_HOST],
        [
          {
            match: { prefix: '/' },
            route: { cluster: APP_CLUSTER },
            typed_per_filter_config: {
              'envoy.filters.http.rbac': {
                type_url: 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute',
                value: Buffer.alloc(0),
              },
            },
          },
        ],
      ),
    ]),
  ]);
  await m.ads.waitFor(() => m.ads.nacks('RDS').length > nacks, 'NACK of RBACPerRoute');
  assert.match(m.ads.nacks('RDS').at(-1)?.error_detail?.message ?? '', /RBACPerRoute is not supported/);
  assert.equal((await request(m.port, { host: APP_HOST, path: '/admin' })).status, 403);
});

test('destination_ip is the address the connection arrived on (AuthorizationPolicy destination.ip)', async (t) => {
  const deny = (prefix: string) =>
    httpRbac({
      action: 'DENY',
      policies: { p: policy([{ destination_ip: { address_prefix: prefix, prefix_len: { value: 32 } } }]) },
    });
  // The proxy listens on 127.0.0.1: a DENY on that address applies, one on another does not.
  const m = await startServiceMesh(t, { listener: { httpFilters: [deny('10.0.0.1')] } });
  assert.equal((await request(m.port, { host: APP_HOST, path: '/x' })).status, 200);
  const acks = m.ads.acks('LDS').length;
  m.ads.set('LDS', [httpListener(9080, '9080', { httpFilters: [deny('127.0.0.1')] })]);
  await m.ads.waitFor(() => m.ads.acks('LDS').length > acks, 'ACK of destination_ip');
  await eventually(async () => (await request(m.port, { host: APP_HOST, path: '/x' })).status === 403, {
    what: 'a DENY on the local address',
  });
});
