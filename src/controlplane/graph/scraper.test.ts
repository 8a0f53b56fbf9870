import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { MetricsScraper } from './scraper.js';

const line = (n: number) =>
  `# TYPE istio_requests_total counter\nistio_requests_total{reporter="source",source_workload="a"} ${n}\nenvoy_other 5\nnot a metric line\n`;

test('a proxy that does not answer is skipped and counted; the others make the rates', async () => {
  const clock = new FakeClock(0);
  let count = 0;
  const s = new MetricsScraper({
    targets: () => [
      { id: 'good', adminAddress: '127.0.0.1:1' },
      { id: 'down', adminAddress: '127.0.0.1:2' },
      { id: 'no-admin', adminAddress: '' },
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
      Array.from({ length: 10 }, (_, i) => ({ id: `p${i}`, adminAddress: `127.0.0.1:${i + 1}` })),
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
    targets: () => [{ id: 'p', adminAddress: '127.0.0.1:1' }],
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
