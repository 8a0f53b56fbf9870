/**
 * The console's API as a browser (or anyone else) reaches it: a real control plane on 127.0.0.1,
 * requests with and without tokens, viewers trying to write, edits that fail validation.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { validateResource } from '../../api/validate.js';
import { MemoryConfigStore } from '../../config/memory-store.js';
import { ControlPlane } from '../control-plane.js';
import { parseTokenFile } from './tokens.js';

const TOKENS = parseTokenFile(
  'ed-token-0001,alice,1,trellis:editors\nvw-token-0002,bob,2,trellis:viewers\n',
  't.csv',
).entries;
const EDITOR = { authorization: 'Bearer ed-token-0001' };
const VIEWER = { authorization: 'Bearer vw-token-0002' };

let store: MemoryConfigStore;
let cp: ControlPlane;
let bare: ControlPlane;
let base: string;
let bareBase: string;

before(async () => {
  store = new MemoryConfigStore((r) => validateResource(r));
  cp = new ControlPlane({ config: store, console: { tokens: TOKENS } });
  const bound = await cp.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${bound.http.port}`;
  bare = new ControlPlane({ config: new MemoryConfigStore((r) => validateResource(r)) });
  const b = await bare.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 });
  bareBase = `http://127.0.0.1:${b.http.port}`;
});

after(async () => {
  await cp.stop();
  await bare.stop();
});

const filter = (name: string, spec: Record<string, unknown> = { timeout: '2s' }) => ({
  apiVersion: 'trellis.io/v1alpha1',
  kind: 'TrafficFilter',
  metadata: { name, namespace: 'default' },
  spec: { target: { host: 'reviews.default.svc.cluster.local' }, owner: 'console', ...spec },
});

const post = (body: unknown, headers: Record<string, string>) =>
  fetch(`${base}/console/api/config`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

test('/ redirects to the console', async () => {
  const res = await fetch(`${base}/`, { redirect: 'manual' });
  assert.equal(res.status, 302);
  assert.equal(res.headers.get('location'), '/console/');
});

test('the console page is served with headers that keep it from being framed or cached', async () => {
  const res = await fetch(`${base}/console/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.match(await res.text(), /<script type="module" src="\/console\/app.js">/);
  const js = await fetch(`${base}/console/app.js`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type') ?? '', /javascript/);
  // Only the console's own files: no path into the file system.
  for (const p of [
    '/console/..%2Fpackage.json',
    '/console/tokens.csv',
    '/console/app.js%00',
    '/console/constructor',
    '/console/__proto__',
  ]) {
    const res = await fetch(`${base}${p}`);
    assert.equal(res.status, 404, p);
  }
});

test('every console API route needs a known bearer token (401, with WWW-Authenticate)', async () => {
  const routes = [
    'session',
    'services',
    'graph',
    'topology',
    'proxies',
    'config_errors',
    'config/vs',
    'audit',
    'config_dump?proxy=x',
    'kinds',
  ];
  for (const r of routes) {
    for (const headers of [
      {},
      { authorization: 'Bearer wrong' },
      { authorization: 'Basic ZWQtdG9rZW4tMDAwMTo=' },
    ] as Record<string, string>[]) {
      const res = await fetch(`${base}/console/api/${r}`, { headers });
      assert.equal(res.status, 401, `${r} ${JSON.stringify(headers)}`);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="trellis-console"');
      const body = (await res.json()) as { error: { code: string } };
      assert.equal(body.error.code, 'UNAUTHENTICATED');
    }
  }
  const ok = await fetch(`${base}/console/api/session`, { headers: VIEWER });
  assert.deepEqual(await ok.json(), { user: 'bob', uid: '2', role: 'viewer' });
});

test('a token in the URL is refused, even a valid one with a valid header', async () => {
  for (const q of ['token=ed-token-0001', 'access_token=ed-token-0001']) {
    const res = await fetch(`${base}/console/api/session?${q}`, { headers: EDITOR });
    assert.equal(res.status, 400, q);
    assert.match(
      ((await res.json()) as { error: { message: string } }).error.message,
      /never taken from URLs/,
    );
  }
});

test('without --console-tokens, the API says how to configure them', async () => {
  const res = await fetch(`${bareBase}/console/api/session`, { headers: EDITOR });
  assert.equal(res.status, 401);
  assert.match(((await res.json()) as { error: { message: string } }).error.message, /--console-tokens FILE/);
});

test('a viewer cannot write or delete: 403, nothing changes, nothing is audited as applied', async () => {
  const revision = store.revision;
  const res = await post(filter('by-bob'), VIEWER);
  assert.equal(res.status, 403);
  assert.match(((await res.json()) as { error: { message: string } }).error.message, /bob is a viewer/);
  store.apply(filter('keep'));
  const del = await fetch(`${base}/console/api/config/trafficfilter/default/keep`, {
    method: 'DELETE',
    headers: VIEWER,
  });
  assert.equal(del.status, 403);
  assert.ok(store.get('TrafficFilter', 'default', 'keep'));
  assert.equal(store.get('TrafficFilter', 'default', 'by-bob'), undefined);
  assert.equal(store.revision, revision + 1, 'only the test`s own write');
});

test('an editor`s write is validated as trellis apply validates it: every problem with its path, nothing applied', async () => {
  const revision = store.revision;
  const res = await post([filter('ok-one'), filter('bad', { retries: { attempts: 'three' } })], EDITOR);
  assert.equal(res.status, 400);
  const body = (await res.json()) as { error: { code: string; problems: { doc: number; path: string }[] } };
  assert.equal(body.error.code, 'TRELLIS_INVALID_CONFIG');
  assert.deepEqual(
    body.error.problems.map((p) => `${p.doc} ${p.path}`),
    ['2 spec.retries.attempts'],
  );
  assert.equal(store.revision, revision);
  assert.equal(store.get('TrafficFilter', 'default', 'ok-one'), undefined);
  const [last] = cp.console!.audit.list();
  assert.equal(last?.user, 'alice');
  assert.equal(last?.outcome, 'rejected');
  assert.match(last?.problems?.[0] ?? '', /^<request>:2: spec\.retries\.attempts: /);
});

test('an editor`s write is stored with trellis.io/edited-by naming the editor, whatever the request said', async () => {
  const sent = filter('timeout');
  (sent.metadata as Record<string, unknown>).annotations = {
    'trellis.io/edited-by': 'mallory',
    team: 'books',
  };
  const res = await post(sent, EDITOR);
  assert.equal(res.status, 200);
  const stored = store.get('TrafficFilter', 'default', 'timeout');
  assert.deepEqual(stored?.metadata.annotations, { 'trellis.io/edited-by': 'alice', team: 'books' });
  const [last] = cp.console!.audit.list();
  assert.deepEqual(
    { user: last?.user, outcome: last?.outcome, resources: last?.resources, revision: last?.revision },
    {
      user: 'alice',
      outcome: 'applied',
      resources: ['TrafficFilter default/timeout'],
      revision: store.revision,
    },
  );
  const audit = await fetch(`${base}/console/api/audit`, { headers: VIEWER });
  assert.equal(((await audit.json()) as { user: string }[])[0]?.user, 'alice');
});

test('the console writes traffic settings only: other kinds are refused whole', async () => {
  const revision = store.revision;
  const policy = {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'open', namespace: 'default' },
    spec: {},
  };
  const res = await post([filter('with-policy'), policy], EDITOR);
  assert.equal(res.status, 403);
  assert.match(
    ((await res.json()) as { error: { message: string } }).error.message,
    /does not write AuthorizationPolicy/,
  );
  assert.equal(store.revision, revision);
  const del = await fetch(`${base}/console/api/config/serviceentry/default/x`, {
    method: 'DELETE',
    headers: EDITOR,
  });
  assert.equal(del.status, 403);
});

test('an editor deletes what the console wrote; the delete is audited', async () => {
  store.apply(filter('gone'));
  const res = await fetch(`${base}/console/api/config/trafficfilter/default/gone`, {
    method: 'DELETE',
    headers: EDITOR,
  });
  assert.equal(res.status, 200);
  assert.equal(store.get('TrafficFilter', 'default', 'gone'), undefined);
  const [last] = cp.console!.audit.list();
  assert.deepEqual(
    [last?.action, last?.outcome, last?.resources],
    ['delete', 'applied', ['TrafficFilter default/gone']],
  );
  const missing = await fetch(`${base}/console/api/config/trafficfilter/default/gone`, {
    method: 'DELETE',
    headers: EDITOR,
  });
  assert.equal(missing.status, 404);
  assert.equal(cp.console!.audit.list()[0]?.outcome, 'failed');
});

test('malformed writes get an error response, not a crash', async () => {
  for (const body of ['', 'not json', '{"kind":', '[1,2]', 'null']) {
    const res = await fetch(`${base}/console/api/config`, {
      method: 'POST',
      headers: { ...EDITOR, 'content-type': 'application/json' },
      body,
    });
    assert.ok(res.status === 400, `${JSON.stringify(body)}: ${res.status}`);
  }
  const ok = await fetch(`${base}/console/api/session`, { headers: EDITOR });
  assert.equal(ok.status, 200, 'still serving');
});

test('the console does not bind gateways or change client TLS, even on kinds it writes', async () => {
  const revision = store.revision;
  const dr = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: 'reviews-plain', namespace: 'default' },
    spec: { host: 'reviews.default.svc.cluster.local', trafficPolicy: { tls: { mode: 'DISABLE' } } },
  };
  const vs = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'reviews-out', namespace: 'default' },
    spec: {
      hosts: ['reviews.default.svc.cluster.local'],
      gateways: ['istio-system/ingressgateway'],
      http: [{ route: [{ destination: { host: 'reviews.default.svc.cluster.local' } }] }],
    },
  };
  for (const [doc, path] of [
    [dr, 'spec.trafficPolicy.tls'],
    [vs, 'spec.gateways[0]'],
  ] as const) {
    const res = await post(doc, EDITOR);
    assert.equal(res.status, 403);
    assert.match(
      ((await res.json()) as { error: { message: string } }).error.message,
      new RegExp(path.replace(/[[\].]/g, '\\$&')),
    );
  }
  assert.equal(store.revision, revision);
});
