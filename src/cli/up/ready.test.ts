import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { notListeningMessage, waitForPorts } from './ready.js';

test('the message says where it should listen, how long it had, what it printed and what to change', () => {
  assert.equal(
    notListeningMessage({
      name: 'reviews-v1',
      port: 21004,
      servicePort: 9080,
      envName: 'PORT',
      timeoutMs: 30_000,
      output: ['reviews starting', 'Error: EADDRINUSE 9080'],
    }),
    [
      'reviews-v1 did not listen on 21004 (PORT; service port 9080) within 30 s; it printed:',
      '    reviews starting',
      '    Error: EADDRINUSE 9080',
      '  Make it listen on $PORT (and $BIND_ADDRESS), or give it longer with --ready-timeout.',
    ].join('\n'),
  );
  assert.match(
    notListeningMessage({
      name: 'a',
      port: 9080,
      servicePort: 9080,
      envName: 'PORT_GRPC',
      timeoutMs: 1500,
      output: [],
    }),
    /^a did not listen on 9080 \(PORT_GRPC\) within 1\.5 s; it printed nothing\n {2}Make it listen on \$PORT_GRPC/,
  );
});

test('waiting ends ready, cancelled, or timed out on the first port that never listened', async (t) => {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const open = (server.address() as net.AddressInfo).port;
  const closed = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  assert.deepEqual(await waitForPorts('127.0.0.1', [open], () => false), { result: 'ready' });
  assert.deepEqual(
    await waitForPorts(
      '127.0.0.1',
      [open, closed],
      () => false,
      () => true,
      1,
    ),
    {
      result: 'timeout',
      port: closed,
    },
  );
  assert.deepEqual(
    await waitForPorts(
      '127.0.0.1',
      [closed],
      () => true,
      () => true,
      1,
    ),
    { result: 'cancelled' },
  );
});
