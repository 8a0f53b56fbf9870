/**
 * Several control planes (issue #16, `trellis proxy --xds-address A,B`): the ADS client moves to
 * the next control plane at once when one fails, backs off only once all of them failed in a row,
 * and gives up on a control plane whose channel does not come up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { FakeClock, systemClock } from '../../core/clock.js';
import { memoryLogger } from '../../core/logger.js';
import { eventually } from '../../core/testing/eventually.js';
import { FakeAds } from '../testing/fake-ads.js';
import { edsCluster } from '../testing/resources.js';
import { AdsClient, FAILOVER_CONNECT_MS } from './ads-client.js';
import { nodeMessage } from './bootstrap.js';

const NODE = nodeMessage(
  {
    nodeId: 'sidecar~127.0.0.1~a.default~default.svc.cluster.local',
    cluster: 'a.default',
    mode: 'sidecar',
    namespace: 'default',
    workloadName: 'a',
    labels: {},
    instanceIps: ['127.0.0.1'],
    locality: '',
  },
  'test',
);

/** A 127.0.0.1 port nothing listens on (bound, then closed). */
async function closedPort(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return `127.0.0.1:${port}`;
}

function client(servers: string[], clock = systemClock, backoff = { baseMs: 60_000, maxMs: 60_000 }) {
  const { logger, lines } = memoryLogger('xds');
  const c = new AdsClient({
    server: servers,
    node: NODE,
    clock,
    random: () => 0.5,
    logger,
    onSnapshot: () => undefined,
    protocol: 'sotw',
    // A minute: a test that waited for a backoff would time out, so passing proves there was none.
    backoff,
  });
  return { c, lines };
}

test('a control plane that refuses connections is skipped at once for the next one', async (t) => {
  const b = await FakeAds.start();
  b.set('CDS', [edsCluster('outbound|80||b.default.svc.cluster.local')]);
  const dead = await closedPort();
  const { c, lines } = client([dead, b.address]);
  t.after(async () => {
    c.stop();
    await b.close();
  });
  c.start();
  await b.waitForAck('CDS');
  assert.equal(c.stats.server, b.address);
  assert.equal(c.stats.failovers, 1);
  const closed = lines.find((l) => l.includes('stream closed'));
  assert.match(closed ?? '', new RegExp(`next=${b.address.replace(/\./g, '\\.')}`));
  assert.match(closed ?? '', /retryInMs=0\b/);
});

test('when every control plane failed in a row the client backs off, then starts a new round', async (t) => {
  const clock = new FakeClock();
  const [a, b] = [await closedPort(), await closedPort()];
  const { c, lines } = client([a, b], clock, { baseMs: 1000, maxMs: 1000 });
  t.after(() => c.stop());
  c.start();
  const closes = () => lines.filter((l) => l.includes('stream closed'));
  await eventually(() => {
    clock.advance(0);
    return closes().length >= 2;
  }, 'both control planes to fail');
  assert.match(closes()[0]!, /retryInMs=0\b/, 'the second is tried at once');
  const delay = Number(/retryInMs=(\d+)/.exec(closes()[1]!)?.[1]);
  assert.ok(delay > 0, `after both failed the client waits (${delay} ms)`);
  assert.match(closes()[1]!, new RegExp(`next=${a.replace(/\./g, '\\.')}`), 'and goes back to the first');
  // Nothing is tried before the backoff has passed.
  assert.equal(closes().length, 2);
  clock.advance(delay);
  await eventually(() => closes().length >= 3, 'the new round to start');
  assert.equal(c.stats.failovers, 3);
});

test('a control plane whose channel does not come up is given up on after FAILOVER_CONNECT_MS', async (t) => {
  // Accepts TCP and never speaks HTTP/2: the channel stays CONNECTING (a hung or half-dead host).
  const silent = net.createServer((s) => s.on('error', () => undefined));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  const sockets = new Set<net.Socket>();
  silent.on('connection', (s) => sockets.add(s));
  const b = await FakeAds.start();
  b.set('CDS', [edsCluster('outbound|80||b.default.svc.cluster.local')]);
  const { c, lines } = client([`127.0.0.1:${(silent.address() as net.AddressInfo).port}`, b.address]);
  t.after(async () => {
    c.stop();
    await b.close();
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const started = Date.now();
  c.start();
  await b.waitFor(
    () => b.requests.length > 0,
    'a request at the second control plane',
    FAILOVER_CONNECT_MS + 5000,
  );
  const took = Date.now() - started;
  assert.ok(
    took >= FAILOVER_CONNECT_MS - 100,
    `the first was given its ${FAILOVER_CONNECT_MS} ms (${took} ms)`,
  );
  assert.ok(lines.some((l) => l.includes(`not connected within ${FAILOVER_CONNECT_MS} ms`)));
  await b.waitForAck('CDS');
});

test('one control plane alone keeps the old behaviour: a backoff after each failure', async (t) => {
  const clock = new FakeClock();
  const { c, lines } = client([await closedPort()], clock, { baseMs: 1000, maxMs: 1000 });
  t.after(() => c.stop());
  c.start();
  await eventually(() => lines.some((l) => l.includes('stream closed')), 'the failure');
  const line = lines.find((l) => l.includes('stream closed'))!;
  assert.ok(Number(/retryInMs=(\d+)/.exec(line)?.[1]) > 0);
  assert.doesNotMatch(line, /next=/);
  assert.equal(c.stats.failovers, 0);
});
