/**
 * Path tricks against authorization, through a real proxy, under each path normalization Istio
 * sets on the connection manager (meshConfig.pathNormalization). Each row says what the client
 * sends, the status it gets and, when the request goes through, the path the backend receives.
 *
 * Policies as Istio writes them: `DENY paths: ["/admin", "/admin/*"]` (url_path exact and prefix)
 * on port 9080; `ALLOW paths: ["/public", "/public/*"]` on port 9090.
 *
 * Where a row passes, Envoy with Istio lets it pass too, and the comment says why: the proxy must
 * never be looser than Envoy, and need not be stricter.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { rawRequest } from '../../core/testing/raw-http.js';
import { FakeAds } from '../testing/fake-ads.js';
import { startBackend, startMesh } from '../testing/harness.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  routeTo,
  virtualHost,
} from '../testing/resources.js';
import { httpRbac, policy } from '../testing/security-resources.js';

const C = 'outbound|80||app.default.svc.cluster.local';
const exact = (p: string) => ({ url_path: { path: { exact: p } } });
const prefix = (p: string) => ({ url_path: { path: { prefix: p } } });

type Mode = 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';

/** The HCM fields Istio sets for each meshConfig.pathNormalization. */
const HCM: Record<Mode, Record<string, unknown>> = {
  BASE: { normalize_path: { value: true } },
  MERGE_SLASHES: { normalize_path: { value: true }, merge_slashes: true },
  DECODE_AND_MERGE_SLASHES: {
    normalize_path: { value: true },
    merge_slashes: true,
    path_with_escaped_slashes_action: 'UNESCAPE_AND_REDIRECT',
  },
};

async function meshFor(t: TestContext, mode: Mode) {
  const backend = await startBackend('app');
  const deny = httpRbac({
    action: 'DENY',
    policies: { 'ns[default]-policy[deny-admin]-rule[0]': policy([exact('/admin'), prefix('/admin/')]) },
  });
  const allow = httpRbac({
    action: 'ALLOW',
    policies: { 'ns[default]-policy[public]-rule[0]': policy([exact('/public'), prefix('/public/')]) },
  });
  const mesh = await startMesh(
    {
      CDS: [edsCluster(C)],
      EDS: [endpoints(C, [{ port: backend.port }])],
      LDS: [
        httpListener(9080, '9080', { httpFilters: [deny], hcm: HCM[mode] }),
        httpListener(9090, '9090', { httpFilters: [allow], hcm: HCM[mode] }),
      ],
      RDS: [
        routeConfig('9080', [virtualHost('app', ['app:9080'], [routeTo(C)])]),
        routeConfig('9090', [virtualHost('app', ['app:9090'], [routeTo(C)])]),
      ],
    },
    {},
    FakeAds,
  );
  t.after(async () => {
    await mesh.close();
    await backend.close();
  });
  return mesh;
}

/** [request target, status, backend path when 200 / Location when 307] */
type Row = [string, number, string?];

async function check(t: TestContext, mode: Mode, port: 9080 | 9090, rows: Row[]) {
  const mesh = await meshFor(t, mode);
  for (const [target, status, where] of rows) {
    const res = await rawRequest(
      mesh.port,
      `GET ${target} HTTP/1.1\r\nhost: app:${port}\r\nconnection: close\r\n\r\n`,
    );
    const what = `${mode} :${port} ${target}`;
    assert.equal(res.status, status, `${what}: status`);
    if (status === 200)
      assert.equal((JSON.parse(res.body) as { path: string }).path, where, `${what}: path upstream`);
    if (status === 403) assert.equal(res.body, 'RBAC: access denied', what);
  }
}

/** What every mode holds for the DENY on /admin. */
const DENY_ALWAYS: Row[] = [
  ['/admin', 403],
  ['/admin/', 403],
  ['/admin/users', 403],
  ['/%61dmin', 403], // normalize_path decodes unreserved characters
  ['/%61%64%6D%69%6E', 403],
  ['/a/../admin', 403],
  ['/./admin', 403],
  ['/%2e/admin', 403], // an encoded dot is a dot segment after decoding
  ['/%2E%2E/admin', 403],
  ['/x/%2e%2e/admin/', 403],
  ['/../../admin', 403], // never above the root
  ['/admin?x=1', 403], // the query is not part of the path RBAC matches
  ['/admin#frag', 403], // the fragment is never sent upstream
  ['/admin\\', 403], // a backslash is a slash once normalized
  ['/admin/..%2F..%2Fadmin', 403], // under /admin/ whatever follows
  // Absolute-form targets (what HTTP proxies are sent) are normalized the same way.
  ['http://app:9080/%61dmin', 403],
  ['http://app:9080/x/../admin?y', 403],
  ['/admin%00', 200, '/admin%00'], // a NUL escape is another path, kept encoded (Envoy too)
  // A different path to Envoy and Istio too: path matching is case-sensitive (Istio's docs say
  // to normalize case in the application or write both forms).
  ['/ADMIN', 200, '/ADMIN'],
  // `%25` is not unreserved: it stays encoded, and the backend decodes it once, to `/%61dmin`.
  ['/%2561dmin', 200, '/%2561dmin'],
  // `;` is a path character to Envoy: `/admin;x` is not `/admin` (Istio documents this gap for
  // servers that strip path parameters).
  ['/admin;x', 200, '/admin;x'],
  ['/administrator', 200, '/administrator'],
];

test('DENY /admin under BASE: dot segments and encodings are normalized; slashes are not merged', async (t) => {
  await check(t, 'BASE', 9080, [
    ...DENY_ALWAYS,
    // BASE leaves repeated and encoded slashes alone, in Envoy as here: MERGE_SLASHES and
    // DECODE_AND_MERGE_SLASHES exist for these.
    ['//admin', 200, '//admin'],
    ['/\\admin', 200, '//admin'],
    ['/admin%2Fusers', 200, '/admin%2Fusers'],
    ['/admin%2fusers', 200, '/admin%2Fusers'], // escapes are upper-cased (RFC 3986 6.2.2.1)
    ['/%2Fadmin', 200, '/%2Fadmin'],
  ]);
});

test('DENY /admin under MERGE_SLASHES: repeated slashes and backslashes no longer help', async (t) => {
  await check(t, 'MERGE_SLASHES', 9080, [
    ...DENY_ALWAYS,
    ['//admin', 403],
    ['///admin//', 403],
    ['/\\admin', 403],
    ['/x/..//admin', 403],
    // Still encoded: an escaped slash is not a slash until DECODE_AND_MERGE_SLASHES.
    ['/admin%2Fusers', 200, '/admin%2Fusers'],
  ]);
});

test('DENY /admin under DECODE_AND_MERGE_SLASHES: encoded slashes redirect to the decoded path', async (t) => {
  await check(t, 'DECODE_AND_MERGE_SLASHES', 9080, [
    ...DENY_ALWAYS.filter(([p]) => !/%2F/i.test(p)),
    ['//admin', 403],
    ['/\\admin', 403],
    // UNESCAPE_AND_REDIRECT: the client is sent to the decoded path, which is then denied.
    ['/admin%2Fusers', 307],
    ['/%2Fadmin', 307],
    ['/admin/..%2F..%2Fadmin', 307],
    ['/ok%2fpath', 307],
  ]);
  // The redirect points at the path RBAC denies, whatever the case of the escape.
  const mesh = await meshFor(t, 'DECODE_AND_MERGE_SLASHES');
  for (const [target, location] of [
    ['/%2Fadmin', '/admin'],
    ['/admin%2fusers', '/admin/users'],
  ]) {
    const raw = await rawHead(mesh.port, target!);
    assert.match(raw, new RegExp(`^location: ${location}\\r?$`, 'im'), target);
    const follow = await rawRequest(
      mesh.port,
      `GET ${location} HTTP/1.1\r\nhost: app:9080\r\nconnection: close\r\n\r\n`,
    );
    assert.equal(follow.status, 403);
  }
});

/** ALLOW /public: everything else is denied, so a trick must land under /public to pass. */
const ALLOW_ALWAYS: Row[] = [
  ['/public', 200, '/public'],
  ['/public/a', 200, '/public/a'],
  ['/public?x=../admin', 200, '/public?x=../admin'],
  ['/public/../admin', 403],
  ['/public/%2e%2e/admin', 403],
  ['/public/./../admin', 403],
  ['/%70ublic/x', 200, '/public/x'], // decoded before matching, forwarded decoded
  ['/publicity', 403],
  ['/PUBLIC', 403],
  ['/admin', 403],
  ['/', 403],
];

test('ALLOW only /public under BASE', async (t) => {
  await check(t, 'BASE', 9090, [
    ...ALLOW_ALWAYS,
    ['//public', 403],
    // `..%2F` is not a dot segment under BASE: the request stays under /public, as in Envoy.
    ['/public/..%2Fadmin', 200, '/public/..%2Fadmin'],
  ]);
});

test('ALLOW only /public under MERGE_SLASHES and DECODE_AND_MERGE_SLASHES', async (t) => {
  await check(t, 'MERGE_SLASHES', 9090, [...ALLOW_ALWAYS, ['//public//a', 200, '/public/a']]);
  await check(t, 'DECODE_AND_MERGE_SLASHES', 9090, [
    ...ALLOW_ALWAYS,
    // Decoded, `/public/../admin` is `/admin`: the client is redirected there and denied.
    ['/public/..%2Fadmin', 307],
    ['/public%2F..%2F..%2Fadmin', 307],
  ]);
});

test('host and method tricks: Istio hosts match without case, methods with it', async (t) => {
  const backend = await startBackend('app');
  const deny = httpRbac({
    action: 'DENY',
    policies: {
      // Istio: `hosts: ["app:9080"]` -> :authority, ignore_case; `methods: ["DELETE"]` -> :method exact.
      'ns[default]-policy[host]-rule[0]': policy([
        { header: { name: ':authority', string_match: { exact: 'app:9080', ignore_case: true } } },
      ]),
      'ns[default]-policy[method]-rule[0]': policy([
        { header: { name: ':method', string_match: { exact: 'DELETE' } } },
      ]),
    },
  });
  const mesh = await startMesh(
    {
      CDS: [edsCluster(C)],
      EDS: [endpoints(C, [{ port: backend.port }])],
      LDS: [httpListener(9080, '9080', { httpFilters: [deny] })],
      RDS: [routeConfig('9080', [virtualHost('app', ['app:9080', 'other:9080'], [routeTo(C)])])],
    },
    {},
    FakeAds,
  );
  t.after(async () => {
    await mesh.close();
    await backend.close();
  });
  const send = (method: string, host: string) =>
    rawRequest(mesh.port, `${method} /x HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`);
  assert.equal((await send('GET', 'app:9080')).status, 403);
  assert.equal((await send('GET', 'APP:9080')).status, 403);
  assert.equal((await send('GET', 'App:9080')).status, 403);
  assert.equal((await send('GET', 'other:9080')).status, 200);
  assert.equal((await send('DELETE', 'other:9080')).status, 403);
  // `delete` is not DELETE to Envoy's exact matcher: the proxy forwards it as Envoy does (servers
  // that fold method case are the application's concern). Node's server answers it 400 itself.
  const lower = await send('delete', 'other:9080');
  assert.equal(lower.status, 400);
  assert.notEqual(lower.body, 'RBAC: access denied');
});

async function rawHead(port: number, target: string): Promise<string> {
  const net = await import('node:net');
  return await new Promise<string>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('no answer'));
    }, 5000);
    s.on('data', (d: Buffer) => (text += d.toString()));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    s.write(`GET ${target} HTTP/1.1\r\nhost: app:9080\r\nconnection: close\r\n\r\n`);
  });
}

test('HTTP/2: the same normalization before RBAC, and gRPC gets PERMISSION_DENIED in a trailers-only answer', async (t) => {
  const mesh = await meshFor(t, 'MERGE_SLASHES');
  const http2 = await import('node:http2');
  const session = http2.connect(`http://127.0.0.1:${mesh.port}`);
  t.after(() => void session.close());
  const send = (headers: Record<string, string>) =>
    new Promise<Record<string, string | string[] | undefined>>((resolve, reject) => {
      const s = session.request({ ':authority': 'app:9080', ...headers });
      s.on('response', (h) => resolve(h));
      s.on('error', reject);
      s.resume();
      s.end();
    });
  for (const path of ['/admin', '/a/../admin', '/%61dmin', '//admin', '/admin?x', '/x/%2E%2E/admin/'])
    assert.equal((await send({ ':path': path }))[':status'], 403, path);
  assert.equal((await send({ ':path': '/ok' }))[':status'], 200);
  const grpc = await send({
    ':path': '/admin/Drop',
    ':method': 'POST',
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  assert.equal(grpc[':status'], 200);
  assert.equal(grpc['grpc-status'], '7');
});

test('a header sent twice is one value joined with commas, as Envoy matches it', async (t) => {
  const backend = await startBackend('app');
  const deny = httpRbac({
    action: 'DENY',
    policies: {
      // Istio: `when: [{key: request.headers[x-role], values: [guest]}]`.
      'ns[default]-policy[guest]-rule[0]': policy(
        [{ any: true }],
        [{ header: { name: 'x-role', string_match: { exact: 'guest' } } }],
      ),
      // A presence rule cannot be escaped that way.
      'ns[default]-policy[debug]-rule[0]': policy([{ header: { name: 'x-debug', present_match: true } }]),
    },
  });
  const mesh = await startMesh(
    {
      CDS: [edsCluster(C)],
      EDS: [endpoints(C, [{ port: backend.port }])],
      LDS: [httpListener(9080, '9080', { httpFilters: [deny] })],
      RDS: [routeConfig('9080', [virtualHost('app', ['app:9080'], [routeTo(C)])])],
    },
    {},
    FakeAds,
  );
  t.after(async () => {
    await mesh.close();
    await backend.close();
  });
  const send = (extra: string) =>
    rawRequest(mesh.port, `GET /x HTTP/1.1\r\nhost: app:9080\r\n${extra}connection: close\r\n\r\n`);
  assert.equal((await send('x-role: guest\r\n')).status, 403);
  assert.equal((await send('X-Role: guest\r\n')).status, 403, 'header names are case-insensitive');
  assert.equal((await send('x-debug: \r\n')).status, 403, 'an empty value is present');
  assert.equal((await send('x-debug: 1\r\nx-debug: 2\r\n')).status, 403);
  // `guest,guest` is not `guest` to an exact matcher: Envoy lets this through too, which is why
  // Istio's docs advise ALLOW policies over DENY ones on request headers.
  assert.equal((await send('x-role: guest\r\nx-role: guest\r\n')).status, 200);
});
