/**
 * Every retry_on condition the proxy accepts, through the live path: a real proxy, a real
 * backend whose first answer per path is the condition under test, and the client's view
 * (status, how many times the backend was asked). Envoy's semantics:
 * https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/router_filter#x-envoy-retry-on
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import type http from 'node:http';
import { FakeAds } from '../testing/fake-ads.js';
import { request, startBackend, startMesh } from '../testing/harness.js';
import {
  edsCluster,
  endpoints,
  h2Options,
  httpListener,
  routeConfig,
  virtualHost,
} from '../testing/resources.js';

const C = 'outbound|9080||flaky.default.svc.cluster.local';
const DEAD = 'outbound|9080||dead.default.svc.cluster.local';
const FAST = { base_interval: { nanos: 1_000_000 } };

type FirstAnswer = (res: http.ServerResponse) => void;
const status =
  (code: number, headers: Record<string, string> = {}): FirstAnswer =>
  (res) => {
    res.writeHead(code, headers);
    res.end('first');
  };
const grpc =
  (code: number): FirstAnswer =>
  (res) => {
    res.writeHead(200, { 'content-type': 'application/grpc', 'grpc-status': String(code) });
    res.end();
  };
const reset: FirstAnswer = (res) => res.socket?.destroy();

interface Case {
  name: string;
  retryOn: string;
  first: FirstAnswer;
  extra?: object;
  /** Backend requests the client's one request caused. */
  hits: number;
  status: number;
}

const CASES: Case[] = [
  {
    name: 'a GET that matches retriable_request_headers (a pseudo-header) is retried',
    retryOn: '5xx',
    first: status(500),
    extra: { retriable_request_headers: [{ name: ':method', string_match: { exact: 'GET' } }] },
    hits: 2,
    status: 200,
  },
  { name: '5xx retries a 500', retryOn: '5xx', first: status(500), hits: 2, status: 200 },
  {
    name: 'gateway-error does not retry a 500',
    retryOn: 'gateway-error',
    first: status(500),
    hits: 1,
    status: 500,
  },
  { name: 'gateway-error retries a 504', retryOn: 'gateway-error', first: status(504), hits: 2, status: 200 },
  { name: 'retriable-4xx retries a 409', retryOn: 'retriable-4xx', first: status(409), hits: 2, status: 200 },
  {
    name: 'retriable-4xx does not retry a 429',
    retryOn: 'retriable-4xx',
    first: status(429),
    hits: 1,
    status: 429,
  },
  {
    name: 'retriable-status-codes retries a listed code',
    retryOn: 'retriable-status-codes',
    first: status(418),
    extra: { retriable_status_codes: [418] },
    hits: 2,
    status: 200,
  },
  {
    name: 'retriable-status-codes does not retry an unlisted code',
    retryOn: 'retriable-status-codes',
    first: status(500),
    extra: { retriable_status_codes: [418] },
    hits: 1,
    status: 500,
  },
  {
    name: 'retriable-headers retries a response with a matching header',
    retryOn: 'retriable-headers',
    first: status(200, { 'x-upstream-retry': 'please' }),
    extra: { retriable_headers: [{ name: 'x-upstream-retry', string_match: { exact: 'please' } }] },
    hits: 2,
    status: 200,
  },
  {
    name: 'envoy-ratelimited retries a response an upstream Envoy rate limited',
    retryOn: 'envoy-ratelimited',
    first: status(429, { 'x-envoy-ratelimited': 'true' }),
    hits: 2,
    status: 200,
  },
  {
    name: 'x-envoy-ratelimited alone decides: not a 5xx retry',
    retryOn: '5xx',
    first: status(503, { 'x-envoy-ratelimited': 'true' }),
    hits: 1,
    status: 503,
  },
  {
    name: 'x-envoy-overloaded is never retried',
    retryOn: '5xx',
    first: status(503, { 'x-envoy-overloaded': 'true' }),
    hits: 1,
    status: 503,
  },
  { name: 'gRPC unavailable is retried', retryOn: 'unavailable', first: grpc(14), hits: 2, status: 200 },
  {
    name: 'gRPC internal is not retried under unavailable',
    retryOn: 'unavailable',
    first: grpc(13),
    hits: 1,
    status: 200,
  },
  { name: 'gRPC cancelled is retried', retryOn: 'cancelled', first: grpc(1), hits: 2, status: 200 },
  { name: 'reset retries a connection reset', retryOn: 'reset', first: reset, hits: 2, status: 200 },
  {
    name: 'connect-failure does not retry a reset',
    retryOn: 'connect-failure',
    first: reset,
    hits: 1,
    status: 503,
  },
  {
    name: 'a request that matches no retriable_request_headers is not retried',
    retryOn: '5xx',
    first: status(500),
    extra: { retriable_request_headers: [{ name: ':method', string_match: { exact: 'POST' } }] },
    hits: 1,
    status: 500,
  },
];

test('retry_on conditions on the live path', async (t) => {
  const firstSeen = new Set<string>();
  const hits = new Map<string, number>();
  const backend = await startBackend('flaky', (req, res) => {
    const path = req.url ?? '';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const i = Number(path.slice('/case/'.length));
    if (!firstSeen.has(path)) {
      firstSeen.add(path);
      CASES[i]!.first(res);
      return;
    }
    res.end('second');
  });
  const routes = CASES.map((c, i) => ({
    match: { path: `/case/${i}` },
    route: {
      cluster: C,
      retry_policy: { retry_on: c.retryOn, num_retries: { value: 1 }, retry_back_off: FAST, ...c.extra },
    },
  }));
  const mesh = await startMesh(
    {
      CDS: [edsCluster(C)],
      EDS: [endpoints(C, [{ port: backend.port }])],
      LDS: [httpListener(9080)],
      RDS: [routeConfig('9080', [virtualHost('flaky', ['flaky:9080'], routes)])],
    },
    {},
    FakeAds,
  );
  t.after(async () => {
    await mesh.close();
    await backend.close();
  });
  for (const [i, c] of CASES.entries()) {
    const res = await request(mesh.port, { host: 'flaky:9080', path: `/case/${i}` });
    assert.equal(res.status, c.status, `${c.name}: status`);
    assert.equal(hits.get(`/case/${i}`), c.hits, `${c.name}: backend requests`);
  }
});

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test('connect failures: retried under reset-before-request and connect-failure, not under retriable-4xx', async (t) => {
  const port = await deadPort();
  const conditions: [string, number][] = [
    ['reset-before-request', 1],
    ['connect-failure', 1],
    ['retriable-4xx', 0],
  ];
  const mesh = await startMesh(
    {
      CDS: [edsCluster(DEAD)],
      EDS: [endpoints(DEAD, [{ port }])],
      LDS: [httpListener(9080)],
      RDS: [
        routeConfig('9080', [
          virtualHost(
            'dead',
            ['dead:9080'],
            conditions.map(([on], i) => ({
              match: { path: `/c${i}` },
              route: {
                cluster: DEAD,
                retry_policy: { retry_on: on, num_retries: { value: 1 }, retry_back_off: FAST },
              },
            })),
          ),
        ]),
      ],
    },
    {},
    FakeAds,
  );
  t.after(() => mesh.close());
  let retriesBefore = 0;
  for (const [i, [on, retries]] of conditions.entries()) {
    const res = await request(mesh.port, { host: 'dead:9080', path: `/c${i}` });
    assert.equal(res.status, 503, on);
    const counters = mesh.proxy.clusters.get(DEAD)!.counters;
    assert.equal(counters.upstream_rq_retry - retriesBefore, retries, `${on}: retries`);
    retriesBefore = counters.upstream_rq_retry;
  }
  // The last attempt of a retried request failed too: URX beside UF.
  assert.match(mesh.proxy.stats.prometheus(), /response_code="503",response_flags="UF,URX"/);
});

test('an h2 upstream that refuses the stream is retried under refused-stream', async (t) => {
  let streams = 0;
  const server = http2.createServer();
  server.on('stream', (stream) => {
    streams++;
    // The server's own stream reports the reset it sent; that is the test's business, not the proxy's.
    stream.on('error', () => undefined);
    if (streams === 1) stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    else {
      stream.respond({ ':status': 200 });
      stream.end('ok');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const H2 = 'outbound|9080||h2.default.svc.cluster.local';
  const mesh = await startMesh(
    {
      CDS: [edsCluster(H2, h2Options())],
      EDS: [endpoints(H2, [{ port }])],
      LDS: [httpListener(9080)],
      RDS: [
        routeConfig('9080', [
          virtualHost(
            'h2',
            ['h2:9080'],
            [
              {
                match: { prefix: '/' },
                route: {
                  cluster: H2,
                  retry_policy: {
                    retry_on: 'refused-stream',
                    num_retries: { value: 1 },
                    retry_back_off: FAST,
                  },
                },
              },
            ],
          ),
        ]),
      ],
    },
    {},
    FakeAds,
  );
  t.after(async () => {
    await mesh.close();
    server.close();
  });
  const res = await request(mesh.port, { host: 'h2:9080' });
  assert.equal(res.status, 200);
  assert.equal(streams, 2);
});
