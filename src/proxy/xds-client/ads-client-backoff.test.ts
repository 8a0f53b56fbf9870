/**
 * The ADS reconnect delay stays under a few seconds however many attempts fail in a row
 * (issue #10 finding 9: it once grew to 28 s), and starts small again after a stream succeeds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { FakeClock } from '../../core/clock.js';
import { memoryLogger } from '../../core/logger.js';
import { eventually } from '../../core/testing/eventually.js';
import { AdsClient, XDS_RECONNECT_BACKOFF } from './ads-client.js';
import { nodeMessage } from './bootstrap.js';

/** A 127.0.0.1 port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

test('after many failed reconnects the delay never exceeds the cap of a few seconds', async (t) => {
  const clock = new FakeClock();
  const { logger, lines } = memoryLogger('xds');
  const client = new AdsClient({
    server: `127.0.0.1:${await closedPort()}`,
    node: nodeMessage(
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
    ),
    clock,
    // The top of the range: every delay is the longest the policy allows.
    random: () => 0.999999,
    logger,
    onSnapshot: () => undefined,
    protocol: 'sotw',
  });
  t.after(() => client.stop());
  client.start();
  const delays: number[] = [];
  for (let attempt = 0; attempt < 12; attempt++) {
    await eventually(
      () => lines.filter((l) => l.includes('stream closed')).length > attempt,
      `failed attempt ${attempt + 1}`,
    );
    const line = lines.filter((l) => l.includes('stream closed'))[attempt]!;
    const delay = Number(/retryInMs=(\d+)/.exec(line)?.[1]);
    delays.push(delay);
    clock.advance(delay);
  }
  assert.ok(
    delays.every((d) => d > 0 && d <= 3000),
    `delays ${delays.join(', ')} ms stay within 3 s`,
  );
  assert.equal(Math.max(...delays), Math.floor(XDS_RECONNECT_BACKOFF.maxMs * 0.999999));
  assert.ok(delays[0]! < 500, `the first retry is quick (${delays[0]} ms)`);
});
