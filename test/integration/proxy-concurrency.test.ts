/**
 * `trellis proxy --concurrency 2` as a real process tree: one primary (one xDS stream, the
 * admin) and two node:cluster workers sharing the capture listener.
 *
 *   test --(a new connection per request)--> outbound port (shared) --> worker 1 | worker 2
 *                                                                           |
 *   FakeAds <--(one ADS stream)-- primary (admin: /server_info, /stats/prometheus) <--IPC
 *
 * Which worker served a request is read from the primary's /server_info (each worker's
 * request count), not from timing: node:cluster hands connections round-robin.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeAds } from '../../src/proxy/testing/fake-ads.js';
import { eventually } from '../../src/core/testing/eventually.js';
import { request, startBackend, type Backend } from '../../src/proxy/testing/harness.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  routeTo,
  virtualHost,
} from '../../src/proxy/testing/resources.js';
import { main } from '../../src/cli/main.js';
import { startMesh } from './helpers/mesh.js';
import { startTrellis, type RunningCommand } from './helpers/process.js';

const REVIEWS = 'outbound|9080|v1|reviews.default.svc.cluster.local';
const RATINGS = 'outbound|9080|v1|ratings.default.svc.cluster.local';

interface WorkerInfo {
  id: number;
  pid?: number;
  state: string;
  applied?: Record<string, string>;
  restarts: number;
  requests?: number;
}

let ads: FakeAds;
let reviews: Backend;
let ratings: Backend;
let proxy: RunningCommand;
let outbound = 0;
let admin = 0;

async function workers(): Promise<WorkerInfo[]> {
  return (await request(admin, { path: '/server_info' })).json<{ workers: WorkerInfo[] }>().workers;
}

/** `n` requests, each on its own connection; returns the status codes. */
async function send(n: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++)
    statuses.push((await request(outbound, { host: 'reviews:9080', path: '/' })).status);
  return statuses;
}

function requestsTotal(prometheus: string): number {
  return prometheus
    .split('\n')
    .filter((l) => l.startsWith('istio_requests_total{'))
    .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

before(async () => {
  reviews = await startBackend('reviews');
  ratings = await startBackend('ratings');
  ads = await FakeAds.start();
  ads.set('CDS', [edsCluster(REVIEWS), edsCluster(RATINGS)]);
  ads.set('EDS', [
    endpoints(REVIEWS, [{ port: reviews.port }]),
    endpoints(RATINGS, [{ port: ratings.port }]),
  ]);
  ads.set('LDS', [httpListener(9080)]);
  ads.set('RDS', [routeConfig('9080', [virtualHost('reviews', ['*'], [routeTo(REVIEWS)])])]);
  proxy = startTrellis(
    [
      'proxy',
      '--xds',
      ads.address,
      '--concurrency',
      '2',
      '--admin-port',
      '0',
      '--outbound-port',
      '0',
      '--inbound-port',
      '0',
      '--drain-seconds',
      '1',
    ],
    { env: { TRELLIS_LOG_LEVEL: 'info' } },
  );
  const m = await proxy.waitForOutput(
    /proxy ready: .* outbound 127\.0\.0\.1:(\d+), inbound :\d+, admin 127\.0\.0\.1:(\d+); 2 workers/,
    20_000,
  );
  outbound = Number(m[1]);
  admin = Number(m[2]);
});

after(async () => {
  await proxy?.stop('SIGKILL');
  await ads.close();
  await reviews.close();
  await ratings.close();
});

test('requests spread over both workers and the merged metrics count each exactly once', async () => {
  assert.equal((await request(admin, { path: '/ready' })).status, 200);
  const statuses = await send(40);
  assert.deepEqual(new Set(statuses), new Set([200]));
  const ws = await workers();
  assert.equal(ws.length, 2);
  assert.equal(new Set(ws.map((w) => w.pid)).size, 2, 'two worker processes');
  assert.ok(
    ws.every((w) => (w.requests ?? 0) > 0),
    `both workers served: ${JSON.stringify(ws)}`,
  );
  assert.equal(
    ws.reduce((n, w) => n + (w.requests ?? 0), 0),
    40,
  );
  const prometheus = (await request(admin, { path: '/stats/prometheus' })).body;
  assert.equal(requestsTotal(prometheus), 40);
  assert.match(prometheus, /istio_request_duration_milliseconds_count\{[^}]*response_code="200"[^}]*\} 40\n/);
  assert.match(
    (await request(admin, { path: '/clusters' })).body,
    new RegExp(`${REVIEWS.replace(/\|/g, '\\|')}::127\\.0\\.0\\.1:${reviews.port}::rq_active::0`),
  );
  assert.match(
    (await request(admin, { path: '/stats' })).body,
    /cluster\.outbound\|9080\|v1\|reviews[^:]*\.upstream_rq_2xx: 40\n/,
  );
});

test('the control plane sees one proxy: one ADS stream, one node id', async () => {
  const initialCds = ads.requests.filter((r) => r.type === 'CDS' && r.response_nonce === '');
  assert.equal(initialCds.length, 1, 'one ADS stream');
  assert.deepEqual(
    [...new Set(ads.requests.flatMap((r) => (r.node?.id ? [r.node.id] : [])))],
    ['sidecar~127.0.0.1~unknown.default~default.svc.cluster.local'],
  );
  const dump = (await request(admin, { path: '/config_dump' })).json<{
    configs: { dynamicActiveClusters?: unknown[] }[];
  }>();
  assert.equal(dump.configs[1]?.dynamicActiveClusters?.length, 2);
});

test('a route change reaches every worker', async () => {
  ads.set('RDS', [routeConfig('9080', [virtualHost('reviews', ['*'], [routeTo(RATINGS)])])]);
  await ads.waitForAck('RDS');
  // The primary ACKs first; each worker reports the versions it applied.
  await eventually(
    async () => (await workers()).every((w) => w.applied?.RDS === '2'),
    'RDS 2 in both workers',
  );
  const before = ratings.hits;
  const statuses = await send(10);
  assert.deepEqual(new Set(statuses), new Set([200]));
  assert.equal(ratings.hits - before, 10);
});

test('a killed worker is restarted and serving never stops', async () => {
  const [victim, survivor] = await workers();
  process.kill(victim!.pid!, 'SIGKILL');
  await proxy.waitForOutput(/worker exited; restarting/, 5000);
  // Until its replacement is up, the other worker takes every connection.
  assert.deepEqual(new Set(await send(6)), new Set([200]));
  await eventually(
    async () => {
      const ws = await workers();
      return ws.every((w) => w.state === 'LIVE') && ws[0]!.pid !== victim!.pid;
    },
    { what: 'replacement worker LIVE', timeoutMs: 15_000 },
  );
  const ws = await workers();
  assert.equal(ws[0]!.restarts, 1);
  assert.equal(ws[1]!.pid, survivor!.pid);
  assert.equal(ws[0]!.applied?.RDS, '2', 'the replacement got the current config');
  const served = ws[0]!.requests ?? 0;
  assert.deepEqual(new Set(await send(10)), new Set([200]));
  assert.ok(((await workers())[0]!.requests ?? 0) > served, 'the replacement serves');
  // The killed worker's series as last scraped (just before the kill) stay in the sum.
  assert.equal(requestsTotal((await request(admin, { path: '/stats/prometheus' })).body), 40 + 10 + 6 + 10);
});

test('SIGTERM drains the workers and exits 0 with no worker left', async () => {
  const pids = (await workers()).map((w) => w.pid!);
  assert.equal(await proxy.stop('SIGTERM'), 0);
  assert.match(proxy.stdout(), /proxy: stopped/);
  for (const pid of pids) assert.equal(alive(pid), false, `worker ${pid} is gone`);
});

test('a real control plane sees one proxy: proxy-status prints one SYNCED line', async (t) => {
  const mesh = await startMesh({ debounceMs: 10 });
  mesh.apply(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews }
spec:
  hosts: [reviews.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1, ports: { http: ${reviews.port} } }]
`);
  const node = 'sidecar~127.0.0.1~web-1.default~default.svc.cluster.local';
  const p = startTrellis([
    'proxy',
    '--xds',
    `127.0.0.1:${mesh.xdsPort}`,
    '--id',
    node,
    '--concurrency',
    '2',
    '--admin-port',
    '0',
    '--outbound-port',
    '0',
    '--inbound-port',
    '0',
    '--drain-seconds',
    '1',
  ]);
  t.after(async () => {
    await p.stop('SIGKILL');
    await mesh.stop();
  });
  const m = await p.waitForOutput(/proxy ready: .* outbound 127\.0\.0\.1:(\d+), .*; 2 workers/, 20_000);
  const port = Number(m[1]);
  const statuses = await Promise.all(
    Array.from({ length: 4 }, () =>
      request(port, { host: 'reviews.default.svc.cluster.local:9080', path: '/' }).then((r) => r.status),
    ),
  );
  assert.deepEqual(new Set(statuses), new Set([200]));
  const out: string[] = [];
  const io = {
    stdout: (s: string) => void out.push(s),
    stderr: (s: string) => void out.push(s),
    env: {},
    cwd: process.cwd(),
  };
  await eventually(async () => {
    out.length = 0;
    await main(['proxy-status', '--control-plane', mesh.httpUrl], io);
    return /SYNCED/.test(out.join('')) && !/STALE/.test(out.join(''));
  }, 'proxy-status SYNCED');
  const lines = out
    .join('')
    .split('\n')
    .filter((l) => l.includes('sidecar~'));
  assert.deepEqual(
    lines.map((l) => l.split(/\s+/)[0]),
    [node],
    out.join(''),
  );
  assert.equal(await p.stop('SIGTERM'), 0);
});
