/**
 * GET /v1/explain over a fake DebugView and a fake admin POST: proxy naming (unknown, ambiguous),
 * who cannot explain (Envoy, proxyless gRPC: 501), what the proxy's answer becomes (200 passed on,
 * 400 and 404 kept, unreachable 502), and the request sent to the proxy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
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

async function withRoute(
  post: AdminPost | undefined,
  fn: (url: string) => Promise<void>,
  proxies: ProxyStatus[] = PROXIES,
): Promise<void> {
  const router = new HttpRouter(silentLogger);
  registerExplainRoute(router, { proxyStatus: () => proxies } as unknown as DebugView, post);
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

test('GET /v1/explain never contacts an admin address off the proxy’s machine or not IP:PORT', async () => {
  const sent: string[] = [];
  const post: AdminPost = (url) => {
    sent.push(url);
    return Promise.resolve({ status: 200, text: '{"secret":"from elsewhere"}' });
  };
  const proxies = [
    row('sidecar~10.0.0.1~hostpath.default~default.svc.cluster.local', {
      adminAddress: 'evil:80/x#',
      peer: '127.0.0.1:4000',
    }),
    row('sidecar~10.0.0.2~remote.default~default.svc.cluster.local', {
      adminAddress: '127.0.0.1:6379',
      peer: '10.0.0.2:4000',
    }),
    row('sidecar~10.0.0.3~elsewhere.default~default.svc.cluster.local', {
      adminAddress: '10.9.9.9:15000',
      peer: '10.0.0.3:4000',
    }),
    row('sidecar~10.0.0.4~honest.default~default.svc.cluster.local', {
      adminAddress: '10.0.0.4:15000',
      peer: '10.0.0.4:4000',
    }),
  ];
  await withRoute(
    post,
    async (base) => {
      for (const [from, message] of [
        ['hostpath', /not asked: its ADMIN_ADDRESS "evil:80\/x#" is not IP:PORT/],
        ['remote', /not asked: its ADMIN_ADDRESS 127\.0\.0\.1:6379 is not on the machine .*10\.0\.0\.2/],
        ['elsewhere', /not asked: its ADMIN_ADDRESS 10\.9\.9\.9:15000 is not on the machine/],
      ] as const) {
        const r = await get(`${base}/v1/explain?from=${from}&url=http://a/`);
        assert.equal(r.status, 502, from);
        assert.match(r.body.error?.message ?? '', message, from);
      }
      assert.deepEqual(sent, []);
      assert.equal((await get(`${base}/v1/explain?from=honest&url=http://a/`)).status, 200);
      assert.deepEqual(sent, ['http://10.0.0.4:15000/explain']);
    },
    proxies,
  );
});

test("GET /v1/explain passes on only a short, sanitized snippet of a proxy's error text", async () => {
  const long = `line one\r\nSet-Cookie: x=1\u001b[31m ${'z'.repeat(5000)}`;
  let answer = { status: 500, text: long };
  await withRoute(
    () => Promise.resolve(answer),
    async (base) => {
      const r = await get(`${base}/v1/explain?from=productpage-v1&url=http://a/`);
      assert.equal(r.status, 502);
      const message = r.body.error?.message ?? '';
      assert.match(message, /answered 500: line one Set-Cookie: x=1 \[31m z+…$/);
      assert.ok(message.length < 400, `${message.length} characters`);
      for (const c of ['\r', '\n', '\u001b']) assert.ok(!message.includes(c), JSON.stringify(c));
      answer = { status: 400, text: JSON.stringify({ error: { message: `bad\n${'y'.repeat(1000)}` } }) };
      const bad = await get(`${base}/v1/explain?from=productpage-v1&url=http://a/`);
      assert.equal(bad.status, 400);
      assert.ok((bad.body.error?.message ?? '').length < 300);
    },
  );
});

test('GET /v1/explain abandons an answer over its size limit (a real admin server)', async (t) => {
  const admin = http.createServer((_req, res) => {
    res.writeHead(500);
    const chunk = Buffer.alloc(1 << 16, 'x');
    const pump = () => {
      while (!res.destroyed && res.write(chunk));
      if (!res.destroyed) res.once('drain', pump);
    };
    pump();
  });
  const port = await listenOn(admin, '127.0.0.1', 0);
  t.after(async () => {
    admin.closeAllConnections();
    await new Promise((r) => admin.close(r));
  });
  assert.equal((admin.address() as AddressInfo).port, port);
  const proxies = [
    row('sidecar~127.0.0.1~big.default~default.svc.cluster.local', { adminAddress: `127.0.0.1:${port}` }),
  ];
  await withRoute(
    undefined,
    async (base) => {
      const r = await get(`${base}/v1/explain?from=big&url=http://a/`);
      assert.equal(r.status, 502);
      assert.match(
        r.body.error?.message ?? '',
        /cannot reach proxy big\.default .*answer larger than 4194304 bytes/,
      );
    },
    proxies,
  );
});
