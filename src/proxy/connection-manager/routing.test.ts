import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { FakeAds } from '../testing/fake-ads.js';
import { request, startBackend, startMesh } from '../testing/harness.js';
import { eventually } from '../../core/testing/eventually.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  routeTo,
  virtualHost,
} from '../testing/resources.js';

const V1 = 'outbound|9080|v1|reviews.default.svc.cluster.local';
const V2 = 'outbound|9080|v2|reviews.default.svc.cluster.local';

async function setup(
  t: import('node:test').TestContext,
  routes: object[],
  extraClusters: object[] = [],
  extraEds: object[] = [],
) {
  const v1 = await startBackend('v1');
  const v2 = await startBackend('v2');
  const mesh = await startMesh(
    {
      CDS: [edsCluster(V1), edsCluster(V2), ...extraClusters],
      EDS: [endpoints(V1, [{ port: v1.port }]), endpoints(V2, [{ port: v2.port }]), ...extraEds],
      LDS: [httpListener(9080)],
      RDS: [
        routeConfig('9080', [virtualHost('reviews', ['reviews', 'reviews:9080', '*.example.com'], routes)]),
      ],
    },
    {},
    FakeAds,
  );
  t.after(async () => {
    await mesh.close();
    await v1.close();
    await v2.close();
  });
  return { ...mesh, v1, v2 };
}

test('header match sends the tester to v2 and everyone else to v1', async (t) => {
  const { port } = await setup(t, [
    routeTo(V2, { prefix: '/', headers: [{ name: 'end-user', string_match: { exact: 'jason' } }] }),
    routeTo(V1),
  ]);
  assert.equal(
    (await request(port, { host: 'reviews:9080', headers: { 'end-user': 'jason' } })).json().backend,
    'v2',
  );
  assert.equal(
    (await request(port, { host: 'reviews:9080', headers: { 'end-user': 'kim' } })).json().backend,
    'v1',
  );
  assert.equal((await request(port, { host: 'reviews:9080' })).json().backend, 'v1');
});

test('weighted clusters split traffic within tolerance', async (t) => {
  const { port } = await setup(t, [
    {
      match: { prefix: '/' },
      route: {
        weighted_clusters: {
          clusters: [
            { name: V1, weight: { value: 75 } },
            { name: V2, weight: { value: 25 } },
          ],
        },
      },
    },
  ]);
  const counts: Record<string, number> = { v1: 0, v2: 0 };
  for (let i = 0; i < 200; i++)
    counts[(await request(port, { host: 'reviews:9080' })).json<{ backend: string }>().backend]!++;
  assert.ok(counts.v1! > 120 && counts.v1! < 180, `v1 got ${counts.v1} of 200`);
  assert.equal(counts.v1! + counts.v2!, 200);
});

test('absolute-form URIs from HTTP_PROXY clients route by their authority', async (t) => {
  const { port } = await setup(t, [routeTo(V2, { prefix: '/p' })]);
  const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: 'http://reviews:9080/p?x=1', agent: false },
      (r) => {
        let body = '';
        r.on('data', (c: Buffer) => (body += c.toString()));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
  assert.equal(res.status, 200);
  const json = JSON.parse(res.body) as { backend: string; path: string };
  assert.equal(json.backend, 'v2');
  assert.equal(json.path, '/p?x=1');
});

test('rewrites, header mutations, direct responses and redirects', async (t) => {
  const { port } = await setup(t, [
    {
      match: { prefix: '/old/' },
      route: { cluster: V1, prefix_rewrite: '/new/', host_rewrite_literal: 'reviews.internal' },
      request_headers_to_add: [{ header: { key: 'x-added', value: 'yes' } }],
      request_headers_to_remove: ['x-secret'],
      response_headers_to_add: [{ header: { key: 'x-route', value: 'old' } }],
      response_headers_to_remove: ['x-backend'],
    },
    {
      match: { safe_regex: { regex: '/items/[0-9]+' } },
      route: {
        cluster: V2,
        regex_rewrite: { pattern: { regex: '^/items/([0-9]+)$' }, substitution: '/item?id=\\1' },
      },
    },
    {
      match: { path: '/health', case_sensitive: { value: false } },
      direct_response: { status: 200, body: { inline_string: 'ok' } },
    },
    {
      match: { prefix: '/moved' },
      redirect: { host_redirect: 'new.example.com', path_redirect: '/here', response_code: 'FOUND' },
    },
  ]);
  const a = await request(port, { host: 'reviews:9080', path: '/old/x?q=1', headers: { 'x-secret': 's' } });
  const body = a.json<{ path: string; headers: Record<string, string> }>();
  assert.equal(body.path, '/new/x?q=1');
  assert.equal(body.headers.host, 'reviews.internal');
  assert.equal(body.headers['x-added'], 'yes');
  assert.equal(body.headers['x-secret'], undefined);
  assert.equal(body.headers['x-envoy-original-path'], '/old/x?q=1');
  assert.equal(a.headers['x-route'], 'old');
  assert.equal(a.headers['x-backend'], undefined);
  const b = await request(port, { host: 'reviews:9080', path: '/items/42' });
  assert.equal(b.json().path, '/item?id=42');
  const c = await request(port, { host: 'reviews:9080', path: '/HEALTH' });
  assert.equal(c.status, 200);
  assert.equal(c.body, 'ok');
  const d = await request(port, { host: 'reviews:9080', path: '/moved' });
  assert.equal(d.status, 302);
  assert.equal(d.headers.location, 'http://new.example.com/here');
});

test('wildcard domains and missing virtual hosts', async (t) => {
  const { port } = await setup(t, [routeTo(V1)]);
  assert.equal((await request(port, { host: 'api.example.com:9080' })).status, 200);
  const nr = await request(port, { host: 'nobody:9080' });
  assert.equal(nr.status, 404);
  const noListener = await request(port, { host: 'reviews:1234' });
  assert.equal(noListener.status, 404);
});

test('UH with no healthy endpoint, UF on connect failure, NC for an unknown cluster', async (t) => {
  const DOWN = 'outbound|9080|down|reviews.default.svc.cluster.local';
  const CLOSED = 'outbound|9080|closed|reviews.default.svc.cluster.local';
  const closedPort = await freePort();
  const { port, proxy } = await setup(
    t,
    [
      routeTo(DOWN, { prefix: '/down' }),
      routeTo(CLOSED, { prefix: '/closed' }),
      routeTo('outbound|1|x|nowhere', { prefix: '/nc' }),
    ],
    [edsCluster(DOWN), edsCluster(CLOSED)],
    [endpoints(DOWN, []), endpoints(CLOSED, [{ port: closedPort }])],
  );
  const uh = await request(port, { host: 'reviews:9080', path: '/down' });
  assert.equal(uh.status, 503);
  assert.equal(uh.body, 'no healthy upstream\n');
  const uf = await request(port, { host: 'reviews:9080', path: '/closed' });
  assert.equal(uf.status, 503);
  assert.match(uf.body, /connection failure/);
  const nc = await request(port, { host: 'reviews:9080', path: '/nc' });
  assert.equal(nc.status, 503);
  const stats = proxy.stats.prometheus();
  assert.match(stats, /response_code="503",response_flags="UH"/);
  assert.match(stats, /response_code="503",response_flags="UF"/);
  assert.match(stats, /response_code="503",response_flags="NC"/);
});

async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as import('node:net').AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test('request mirroring copies the request to the shadow cluster with a -shadow host', async (t) => {
  const SHADOW = 'outbound|9080|shadow|reviews.default.svc.cluster.local';
  const seen: { host?: string; body: string }[] = [];
  const shadow = await startBackend('shadow', (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ host: req.headers.host, body });
      res.end('ignored');
    });
  });
  t.after(() => shadow.close());
  const { port } = await setup(
    t,
    [routeTo(V1, { prefix: '/' }, { request_mirror_policies: [{ cluster: SHADOW }] })],
    [edsCluster(SHADOW)],
    [endpoints(SHADOW, [{ port: shadow.port }])],
  );
  const res = await request(port, { host: 'reviews:9080', method: 'POST', body: 'hello' });
  assert.equal(res.json().backend, 'v1');
  assert.equal(res.json().body, 'hello');
  await eventually(
    () => assert.deepEqual(seen, [{ host: 'reviews-shadow:9080', body: 'hello' }]),
    'the mirrored request',
  );
});

test('prefix_rewrite after an exact or regex match replaces the whole path, as Envoy does (query kept)', async (t) => {
  const { port } = await setup(t, [
    { match: { path: '/old' }, route: { cluster: V1, prefix_rewrite: '/new' } },
    { match: { safe_regex: { regex: '/r/[a-z]+' } }, route: { cluster: V1, prefix_rewrite: '/from-regex' } },
    { match: { path: '/go' }, redirect: { prefix_rewrite: '/went' } },
    { match: { safe_regex: { regex: '/rgo/[0-9]+' } }, redirect: { prefix_rewrite: '/rwent' } },
    { match: { path_separated_prefix: '/sep' }, redirect: { prefix_rewrite: '/moved' } },
  ]);
  const path = async (p: string) =>
    (await request(port, { host: 'reviews:9080', path: p })).json<{ path: string }>().path;
  assert.equal(await path('/old?x=1'), '/new?x=1');
  assert.equal(await path('/r/abc'), '/from-regex');
  const location = async (p: string) => {
    const r = await request(port, { host: 'reviews:9080', path: p });
    assert.equal(r.status, 301, p);
    return r.headers.location;
  };
  assert.equal(await location('/go?x=1'), 'http://reviews:9080/went?x=1');
  assert.equal(await location('/rgo/7'), 'http://reviews:9080/rwent');
  assert.equal(await location('/sep/a'), 'http://reviews:9080/moved/a');
});
