import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { eventually } from '../../core/testing/eventually.js';
import { fetchText, MetricsScraper } from './scraper.js';

const line = (n: number) =>
  `# TYPE istio_requests_total counter\nistio_requests_total{reporter="source",source_workload="a"} ${n}\nenvoy_other 5\nnot a metric line\n`;

test('a proxy that does not answer is skipped and counted; the others make the rates', async () => {
  const clock = new FakeClock(0);
  let count = 0;
  const s = new MetricsScraper({
    targets: () => [
      { id: 'good', adminAddress: '127.0.0.1:1', peer: '127.0.0.1:40000' },
      { id: 'down', adminAddress: '127.0.0.1:2', peer: '127.0.0.1:40000' },
      { id: 'no-admin', adminAddress: '', peer: '127.0.0.1:40000' },
    ],
    clock,
    logger: silentLogger,
    intervalMs: 1000,
    fetchText: async (url) => {
      if (url.includes(':2/')) throw new Error('connect ECONNREFUSED');
      return line((count += 10));
    },
  });
  await s.scrapeOnce();
  clock.advance(1000);
  await s.scrapeOnce();
  assert.equal(s.skipped, 2);
  assert.deepEqual(s.lastFailures, [{ proxy: 'down', error: 'connect ECONNREFUSED' }]);
  const rates = s.rates(1000);
  assert.deepEqual(rates, [
    { name: 'istio_requests_total', labels: { reporter: 'source', source_workload: 'a' }, perSecond: 10 },
  ]);
});

test('scrapes run at most `concurrency` at a time, and each proxy keeps a bounded ring', async () => {
  const clock = new FakeClock(0);
  let inFlight = 0;
  let most = 0;
  const s = new MetricsScraper({
    targets: () =>
      Array.from({ length: 10 }, (_, i) => ({
        id: `p${i}`,
        adminAddress: `127.0.0.1:${i + 1}`,
        peer: '127.0.0.1:40000',
      })),
    clock,
    logger: silentLogger,
    concurrency: 3,
    retentionMs: 5000,
    fetchText: async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setImmediate(r));
      inFlight--;
      return line(1);
    },
  });
  await s.scrapeOnce();
  assert.equal(most, 3);
  // Past the retention the first scrape is dropped: one scrape left tells no rate.
  clock.advance(6000);
  await s.scrapeOnce();
  assert.deepEqual(s.rates(60_000), []);
});

test('start scrapes now and every interval until stopped', async () => {
  const clock = new FakeClock(0);
  let calls = 0;
  const s = new MetricsScraper({
    targets: () => [{ id: 'p', adminAddress: '127.0.0.1:1', peer: '127.0.0.1:40000' }],
    clock,
    logger: silentLogger,
    intervalMs: 5000,
    fetchText: async () => {
      calls++;
      return line(calls);
    },
  });
  s.start();
  await new Promise((r) => setImmediate(r));
  assert.equal(calls, 1);
  clock.advance(4999);
  await new Promise((r) => setImmediate(r));
  assert.equal(calls, 1);
  clock.advance(1);
  await new Promise((r) => setImmediate(r));
  assert.equal(calls, 2);
  await s.stop();
  clock.advance(10_000);
  await new Promise((r) => setImmediate(r));
  assert.equal(calls, 2);
});

/** A real admin stand-in on 127.0.0.1 that records each request's path. */
async function recordingServer(
  t: { after(fn: () => Promise<void>): void },
  body: (res: http.ServerResponse) => void,
) {
  const hits: string[] = [];
  let closed = 0;
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    res.on('close', () => closed++);
    body(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return { hits, closed: () => closed, port: (server.address() as AddressInfo).port };
}

test('an admin address off the proxy’s own machine, or not IP:PORT, is never contacted: skipped and counted', async (t) => {
  const admin = await recordingServer(t, (res) => res.end(line(1)));
  const clock = new FakeClock(0);
  const s = new MetricsScraper({
    targets: () => [
      // A remote xDS client naming the control plane's own loopback.
      { id: 'remote-names-loopback', adminAddress: `127.0.0.1:${admin.port}`, peer: '10.0.0.9:5000' },
      { id: 'host-and-path', adminAddress: `localhost:${admin.port}/x#`, peer: '127.0.0.1:5000' },
      { id: 'other-ip', adminAddress: `10.0.0.8:${admin.port}`, peer: '127.0.0.1:5000' },
      { id: 'honest', adminAddress: `127.0.0.1:${admin.port}`, peer: '127.0.0.1:5000' },
    ],
    clock,
    logger: silentLogger,
  });
  await s.scrapeOnce();
  assert.deepEqual(admin.hits, ['/stats/prometheus']); // the honest one only
  assert.equal(s.skipped, 3);
  assert.deepEqual(
    s.lastFailures.map((f) => f.proxy),
    ['remote-names-loopback', 'host-and-path', 'other-ip'],
  );
  for (const f of s.lastFailures) assert.match(f.error, /^not scraped: its ADMIN_ADDRESS/);
});

test('an answer over the byte limit is abandoned while it streams, not buffered first', async (t) => {
  const chunk = Buffer.alloc(64 * 1024, 'a');
  // Streams without end: only an abort ends this scrape before its timeout.
  const endless = await recordingServer(t, (res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    const pump = () => {
      while (!res.destroyed && res.write(chunk));
      if (!res.destroyed) res.once('drain', pump);
    };
    pump();
  });
  const started = Date.now();
  await assert.rejects(
    fetchText(`http://127.0.0.1:${endless.port}/stats/prometheus`, 30_000, 1 << 20),
    /answer larger than 1048576 bytes/,
  );
  assert.ok(Date.now() - started < 20_000);
  await eventually(() => endless.closed() === 1, 'the server saw the scrape go away');
  // A declared length over the limit is refused before reading; an answer within it is read whole.
  const declared = await recordingServer(t, (res) => res.end(Buffer.alloc(2048, 'b')));
  await assert.rejects(fetchText(`http://127.0.0.1:${declared.port}/`, 5000, 1024), /larger than 1024 bytes/);
  assert.equal((await fetchText(`http://127.0.0.1:${declared.port}/`, 5000, 2048)).length, 2048);
  // Bytes are counted, not characters: 600 three-byte characters are 1800 bytes.
  const wide = await recordingServer(t, (res) => {
    res.write('€'.repeat(300));
    res.end('€'.repeat(300));
  });
  await assert.rejects(fetchText(`http://127.0.0.1:${wide.port}/`, 5000, 1000), /larger than 1000 bytes/);
});
