/**
 * GET /v1/explain over a fake DebugView and a fake admin POST: proxy naming (unknown, ambiguous),
 * who cannot explain (Envoy, proxyless gRPC: 501), what the proxy's answer becomes (200 passed on,
 * 400 and 404 kept, unreachable 502), and the request sent to the proxy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import { silentLogger } from '../core/logger.js';
import { listenOn } from '../core/net.js';
import type { DebugView } from './api-views.js';
import { HttpRouter } from './http-server.js';
import { parseHeaderParams, registerExplainRoute, type AdminPost } from './explain-route.js';
import type { ProxyStatus } from '../xds/server/status.js';

const row = (proxy: string, over: Partial<ProxyStatus> = {}): ProxyStatus => ({
  proxy,
  type: 'sidecar',
  namespace: 'default',
  workloadName: proxy.split('~')[2]?.split('.')[0] ?? '',
  proxyVersion: '',
  adminAddress: '0.0.0.0:15000',
  mode: 'sotw',
  peer: '',
  connectedAt: '',
  pushContextVersion: '',
  types: {},
  ...over,
});

const PROXIES = [
  row('sidecar~10.0.0.1~productpage-v1.default~default.svc.cluster.local'),
  row('sidecar~10.0.0.2~reviews-v1.default~default.svc.cluster.local'),
  row('sidecar~10.0.0.3~reviews-v2.default~default.svc.cluster.local'),
  row('sidecar~10.0.0.4~ratings-v1.default~default.svc.cluster.local', { adminAddress: '' }),
  row('grpc~10.0.0.5~orders-v1.default~default.svc.cluster.local', { type: 'grpc', adminAddress: '' }),
];

async function withRoute(post: AdminPost, fn: (url: string) => Promise<void>): Promise<void> {
  const router = new HttpRouter(silentLogger);
  registerExplainRoute(router, { proxyStatus: () => PROXIES } as unknown as DebugView, post);
  const server: http.Server = router.createServer();
  const port = await listenOn(server, '127.0.0.1', 0);
  try {
    await fn(`http://127.0.0.1:${port}`);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function get(
  url: string,
): Promise<{ status: number; body: { error?: { message: string } } & Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as { error?: { message: string } } };
}

test('GET /v1/explain asks the named proxy and passes its answer on', async () => {
  const sent: { url: string; body: unknown }[] = [];
  const post: AdminPost = (url, body) => {
    sent.push({ url, body: JSON.parse(body) });
    return Promise.resolve({ status: 200, text: JSON.stringify({ outcome: { result: 'succeed' } }) });
  };
  await withRoute(post, async (base) => {
    const q = new URLSearchParams({ from: 'productpage-v1', url: 'http://reviews:9080/r', method: 'POST' });
    q.append('header', 'end-user: jason');
    q.append('header', 'x-b:1');
    const ok = await get(`${base}/v1/explain?${q.toString()}`);
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body, { outcome: { result: 'succeed' } });
    assert.deepEqual(sent.at(-1), {
      url: 'http://127.0.0.1:15000/explain',
      body: { method: 'POST', url: 'http://reviews:9080/r', headers: { 'end-user': 'jason', 'x-b': '1' } },
    });
    await get(`${base}/v1/explain?from=productpage-v1.default&requestId=abc`);
    assert.deepEqual(sent.at(-1)?.body, { requestId: 'abc' });
  });
});

test('GET /v1/explain refuses what it cannot answer, saying what to do', async () => {
  let answer: { status: number; text: string } | Error = { status: 200, text: '{}' };
  const post: AdminPost = () => (answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer));
  await withRoute(post, async (base) => {
    const cases: [string, number, RegExp][] = [
      ['url=http://a/', 400, /from=PROXY is required/],
      ['from=productpage-v1', 400, /url=URL .* or requestId=ID .* is required/],
      ['from=productpage-v1&url=http://a/&header=nocolon', 400, /header="nocolon": expected NAME:VALUE/],
      ['from=nobody&url=http://a/', 404, /no connected proxy "nobody"[\s\S]*productpage-v1\.default/],
      ['from=sidecar~10.0.0.&url=http://a/', 404, /proxy "sidecar~10.0.0." is ambiguous: 4 proxies match/],
      [
        'from=ratings-v1&url=http://a/',
        501,
        /cannot explain requests: an Envoy .*trellis proxy-config routes ratings-v1\.default/,
      ],
      ['from=orders-v1&url=http://a/', 501, /cannot explain requests: a proxyless gRPC client/],
    ];
    for (const [query, status, message] of cases) {
      const r = await get(`${base}/v1/explain?${query}`);
      assert.equal(r.status, status, query);
      assert.match(r.body.error?.message ?? '', message, query);
    }
    const proxy = 'from=productpage-v1&url=http://a/';
    const answers: [typeof answer, number, RegExp][] = [
      [{ status: 400, text: '{"error":{"message":"url \\"x\\": expected"}}' }, 400, /url "x": expected/],
      [
        { status: 404, text: 'admin paths: /ready\n' },
        501,
        /has no \/explain \(admin paths: \/ready\); upgrade it/,
      ],
      [{ status: 500, text: 'TRELLIS_INTERNAL: boom\n' }, 502, /answered 500: TRELLIS_INTERNAL: boom/],
      [
        new Error('connect ECONNREFUSED'),
        502,
        /cannot reach proxy productpage-v1\.default .* at its admin address http:\/\/127\.0\.0\.1:15000\/explain \(connect ECONNREFUSED\)/,
      ],
    ];
    for (const [a, status, message] of answers) {
      answer = a;
      const r = await get(`${base}/v1/explain?${proxy}`);
      assert.equal(r.status, status, String(message));
      assert.match(r.body.error?.message ?? '', message);
    }
    answer = { status: 404, text: '{"error":{"message":"no failed request with id \\"z\\""}}' };
    const gone = await get(`${base}/v1/explain?from=productpage-v1&requestId=z`);
    assert.equal(gone.status, 404);
    assert.match(gone.body.error?.message ?? '', /no failed request with id "z"/);
  });
});

test('parseHeaderParams: NAME:VALUE with optional spaces; names lower-cased; a bad one refused', () => {
  assert.deepEqual(parseHeaderParams(['X-User: jason', 'a:b:c', 'empty:']), {
    'x-user': 'jason',
    a: 'b:c',
    empty: '',
  });
  for (const bad of ['nocolon', ': v', 'bad name: v'])
    assert.throws(() => parseHeaderParams([bad]), /expected NAME:VALUE/, bad);
});
