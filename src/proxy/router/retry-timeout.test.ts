import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../core/clock.js';
import { eventually } from '../../core/testing/eventually.js';
import { FakeAds } from '../testing/fake-ads.js';
import { request, startBackend, startMesh } from '../testing/harness.js';
import { edsCluster, endpoints, httpListener, routeConfig, virtualHost } from '../testing/resources.js';

const C = 'outbound|9080||flaky.default.svc.cluster.local';

async function setup(
  t: import('node:test').TestContext,
  handler: Parameters<typeof startBackend>[1],
  route: object,
  clock?: FakeClock,
) {
  const backend = await startBackend('flaky', handler);
  const mesh = await startMesh(
    {
      CDS: [edsCluster(C)],
      EDS: [endpoints(C, [{ port: backend.port }])],
      LDS: [httpListener(9080)],
      RDS: [
        routeConfig('9080', [
          virtualHost('flaky', ['flaky:9080'], [{ match: { prefix: '/' }, route: { cluster: C, ...route } }]),
        ]),
      ],
    },
    clock ? { clock } : {},
    FakeAds,
  );
  t.after(async () => {
    await mesh.close();
    await backend.close();
  });
  return { ...mesh, backend };
}

test('a retry on 5xx turns a failure into success, replaying the request body', async (t) => {
  const bodies: string[] = [];
  const { port, backend, proxy } = await setup(
    t,
    (req, res, b) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        bodies.push(body);
        if (b.hits === 1) {
          res.writeHead(503);
          res.end('try again');
        } else {
          res.end(`ok after ${b.hits}`);
        }
      });
    },
    {
      retry_policy: {
        retry_on: '5xx',
        num_retries: { value: 2 },
        retry_back_off: { base_interval: { nanos: 1_000_000 } },
      },
    },
  );
  const res = await request(port, { host: 'flaky:9080', method: 'POST', body: 'payload' });
  assert.equal(res.status, 200);
  assert.equal(res.body, 'ok after 2');
  assert.equal(backend.hits, 2);
  assert.deepEqual(bodies, ['payload', 'payload']);
  assert.match(proxy.stats.prometheus(), /response_code="200",response_flags="-"/);
});

test('retries stop at num_retries and the last upstream answer is returned with URX', async (t) => {
  const { port, backend, proxy } = await setup(
    t,
    (_req, res) => {
      res.writeHead(502);
      res.end('bad gateway');
    },
    {
      retry_policy: {
        retry_on: 'gateway-error',
        num_retries: { value: 2 },
        retry_back_off: { base_interval: { nanos: 1_000_000 } },
      },
    },
  );
  const res = await request(port, { host: 'flaky:9080' });
  assert.equal(res.status, 502);
  assert.equal(backend.hits, 3);
  assert.match(proxy.stats.prometheus(), /response_code="502",response_flags="URX"/);
});

test('route timeout answers 504 with UT, not a moment before it passes', async (t) => {
  const clock = new FakeClock();
  const { port, proxy, backend } = await setup(
    t,
    (_req, res) => res.on('close', () => undefined),
    { timeout: { nanos: 100_000_000 } },
    clock,
  );
  let answered = false;
  const pending = request(port, { host: 'flaky:9080' }).then((r) => ((answered = true), r));
  await eventually(() => backend.hits === 1, 'the request reached the backend');
  clock.advance(99);
  // A later request the proxy answers itself (no route for this host) comes back first: the
  // timed request is still in flight at 99 ms.
  assert.equal((await request(port, { host: 'nowhere:9080' })).status, 404);
  assert.equal(answered, false);
  clock.advance(1);
  const res = await pending;
  assert.equal(res.status, 504);
  assert.equal(res.body, 'upstream request timeout\n');
  assert.match(proxy.stats.prometheus(), /response_code="504",response_flags="UT"/);
});

test('per-try timeout retries to a second attempt that answers', async (t) => {
  const clock = new FakeClock();
  const { port, backend } = await setup(
    t,
    (_req, res, b) => {
      if (b.hits === 1) return; // never answers
      res.end('fast');
    },
    {
      retry_policy: {
        retry_on: '5xx',
        num_retries: { value: 1 },
        per_try_timeout: { nanos: 100_000_000 },
        retry_back_off: { base_interval: { nanos: 1_000_000 } },
      },
    },
    clock,
  );
  const pending = request(port, { host: 'flaky:9080' });
  await eventually(() => backend.hits === 1, 'the first attempt reached the backend');
  clock.advance(100); // the per-try timeout
  // The back-off (at most the 1 ms base interval) is armed once the retry is decided.
  await eventually(() => {
    clock.advance(1);
    return backend.hits === 2;
  }, 'the retry reached the backend');
  const res = await pending;
  assert.equal(res.status, 200);
  assert.equal(res.body, 'fast');
  assert.equal(backend.hits, 2);
});

test('a client that disconnects cancels the upstream request and is counted as DC', async (t) => {
  let upstreamClosed!: () => void;
  const closed = new Promise<void>((r) => (upstreamClosed = r));
  const { port, backend, proxy } = await setup(
    t,
    (_req, res) => {
      const timer = setTimeout(() => res.end('late'), 5000);
      res.on('close', () => {
        clearTimeout(timer);
        upstreamClosed();
      });
    },
    {},
  );
  const net = await import('node:net');
  const socket = net.connect(port, '127.0.0.1', () =>
    socket.write('GET / HTTP/1.1\r\nHost: flaky:9080\r\n\r\n'),
  );
  socket.on('error', () => undefined);
  await eventually(() => backend.hits === 1, 'the request reached the backend');
  socket.destroy();
  await closed;
  await eventually(
    () => assert.match(proxy.stats.prometheus(), /response_code="0",response_flags="DC"/),
    'the request is counted as DC',
  );
});
