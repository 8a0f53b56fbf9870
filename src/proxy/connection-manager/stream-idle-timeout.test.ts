/**
 * Envoy's stream idle timeout (HCM stream_idle_timeout) through a real proxy, with the route
 * timeout disabled, so only the idle timeout can end the request. The proxy runs on a FakeClock:
 * a test lets the sockets settle (waiting for the bytes to arrive), then moves time by hand, so
 * "not yet at 299 ms, fired at 300 ms" is checked exactly rather than by sleeping.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { TYPE, packAny } from '../../protocol/protos.js';
import { FakeClock } from '../../core/clock.js';
import { FakeAds } from '../testing/fake-ads.js';
import { eventually } from '../../core/testing/eventually.js';
import { heldRequests, request, startMesh } from '../testing/harness.js';
import { edsCluster, endpoints, routeConfig, virtualHost } from '../testing/resources.js';
import { StreamIdleTimer } from './stream-idle-timeout.js';

const C = 'outbound|9080||slow.default.svc.cluster.local';

function listenerWithIdleTimeout(
  port: number,
  idle: { seconds?: number; nanos?: number } | undefined,
): object {
  const hcm: Record<string, unknown> = {
    stat_prefix: `outbound_0.0.0.0_${port}`,
    rds: { route_config_name: String(port), config_source: { ads: {} } },
    http_filters: [{ name: 'envoy.filters.http.router', typed_config: packAny(TYPE.router, {}) }],
  };
  if (idle) hcm.stream_idle_timeout = idle;
  return {
    name: `0.0.0.0_${port}`,
    address: { socket_address: { address: '0.0.0.0', port_value: port } },
    filter_chains: [
      {
        filters: [
          { name: 'envoy.filters.network.http_connection_manager', typed_config: packAny(TYPE.hcm, hcm) },
        ],
      },
    ],
  };
}

/** A backend that answers on raw TCP as `onRequest` says, and may then go silent. */
async function rawBackend(t: TestContext, onRequest: (socket: net.Socket, first: Buffer) => void) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('data', (first: Buffer) => onRequest(socket, first));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return (server.address() as net.AddressInfo).port;
}

async function mesh(
  t: TestContext,
  backendPort: number,
  idle = { nanos: 300_000_000 },
  routeExtra: Record<string, unknown> = {},
  clock?: FakeClock,
) {
  const m = await startMesh(
    {
      CDS: [edsCluster(C)],
      EDS: [endpoints(C, [{ port: backendPort }])],
      LDS: [listenerWithIdleTimeout(9080, idle)],
      RDS: [
        routeConfig('9080', [
          virtualHost(
            'slow',
            ['slow:9080'],
            [{ match: { prefix: '/' }, route: { cluster: C, timeout: { seconds: 0 }, ...routeExtra } }],
          ),
        ]),
      ],
    },
    clock ? { clock } : {},
    FakeAds,
  );
  t.after(() => m.close());
  return m;
}

/** A raw client connection: what it has read so far, and whether the proxy closed it. */
function rawClient(t: TestContext, port: number, data: string) {
  const c = net.connect(port, '127.0.0.1', () => c.write(data));
  const client = { out: '', closed: false };
  c.on('data', (d: Buffer) => (client.out += d.toString('latin1')));
  c.on('close', () => (client.closed = true));
  c.on('error', () => undefined);
  t.after(() => c.destroy());
  return client;
}

/** Resolves when a backend built with `arrivals.onRequest` has received its next request. */
function arrivals() {
  const waiting: (() => void)[] = [];
  let count = 0;
  return {
    onRequest: () => {
      count++;
      for (const w of waiting.splice(0)) w();
    },
    next: async (n: number) => {
      while (count < n) await new Promise<void>((r) => waiting.push(r));
    },
  };
}

test('an upstream that never answers (route timeout 0) gets 504 after stream_idle_timeout, flagged SI', async (t) => {
  const clock = new FakeClock();
  const upstream = arrivals();
  const port = await rawBackend(t, upstream.onRequest);
  const m = await mesh(t, port, undefined, {}, clock);
  const pending = request(m.port, { host: 'slow:9080' });
  await upstream.next(1);
  clock.advance(299);
  assert.deepEqual(
    await Promise.race([pending, Promise.resolve('pending')]),
    'pending',
    'no answer at 299 ms',
  );
  assert.ok(heldRequests(m.proxy).length > 0, 'still waiting upstream at 299 ms');
  clock.advance(1);
  const res = await pending;
  // The whole request had arrived: Envoy answers 504 then (408 while the request is incomplete).
  assert.equal(res.status, 504);
  assert.equal(res.body, 'stream timeout\n');
  await eventually(
    () => /response_code="504",response_flags="SI"/.test(m.proxy.stats.prometheus()),
    'SI in metrics',
  );
});

test('a client that stops sending its request body gets 408 after stream_idle_timeout (SI)', async (t) => {
  const clock = new FakeClock();
  let upstreamGot = '';
  const port = await rawBackend(t, (socket, first) => {
    upstreamGot += first.toString('latin1');
    socket.on('data', (d: Buffer) => (upstreamGot += d.toString('latin1')));
  });
  const m = await mesh(t, port, undefined, {}, clock);
  // Content-Length 10, 3 bytes sent, then nothing.
  const c = rawClient(t, m.port, 'POST /upload HTTP/1.1\r\nHost: slow:9080\r\nContent-Length: 10\r\n\r\nabc');
  await eventually(() => upstreamGot.endsWith('abc'), 'the 3 bytes upstream');
  clock.advance(299);
  assert.ok(heldRequests(m.proxy).length > 0, 'still streaming upstream at 299 ms');
  clock.advance(1);
  await eventually(() => c.out.endsWith('stream timeout\n'), 'the 408 response');
  assert.match(c.out, /^HTTP\/1.1 408 /);
  await eventually(
    () => /response_code="408",response_flags="SI"/.test(m.proxy.stats.prometheus()),
    'SI in metrics',
  );
});

test('an upstream that stalls mid-body has the client stream reset after stream_idle_timeout (SI)', async (t) => {
  const port = await rawBackend(t, (socket) =>
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial'),
  );
  const clock = new FakeClock();
  const m = await mesh(t, port, undefined, {}, clock);
  const c = rawClient(t, m.port, 'GET / HTTP/1.1\r\nHost: slow:9080\r\n\r\n');
  await eventually(() => c.out.endsWith('partial'), 'the first bytes of the body');
  clock.advance(299);
  assert.ok(heldRequests(m.proxy).length > 0, 'still streaming at 299 ms');
  clock.advance(1);
  await eventually(() => c.closed, 'the client stream to be reset');
  assert.match(c.out, /^HTTP\/1.1 200 OK\r\n[^]*\r\n\r\npartial$/);
  await eventually(
    () => /response_code="200",response_flags="SI"/.test(m.proxy.stats.prometheus()),
    'SI in metrics',
  );
});

test('a client that stops reading the response is cut off after stream_idle_timeout (SI)', async (t) => {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const port = await rawBackend(t, (socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n');
    // As fast as the proxy takes it, for ever (1 GiB announced).
    const pump = () => {
      while (socket.writable && socket.write(chunk));
    };
    socket.on('drain', pump);
    pump();
  });
  const m = await mesh(t, port);
  const client = net.connect(m.port, '127.0.0.1', () =>
    client.write('GET /big HTTP/1.1\r\nHost: slow:9080\r\n\r\n'),
  );
  client.on('error', () => undefined);
  t.after(() => client.destroy());
  // Read the head, then never again.
  await new Promise<void>((r) => client.once('data', () => r()));
  client.pause();
  await eventually(
    () => /response_code="200",response_flags="SI"/.test(m.proxy.stats.prometheus()),
    'SI in metrics',
  );
});

test('stream_idle_timeout 0 disables it; activity keeps a stream alive past the timeout', async (t) => {
  // A byte every 200 ms of clock time, six times: four times the 300 ms timeout in all, never idle.
  const clock = new FakeClock();
  let upstream: net.Socket | undefined;
  const port = await rawBackend(t, (socket) => {
    upstream = socket;
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n');
  });
  const m = await mesh(t, port, undefined, {}, clock);
  const c = rawClient(t, m.port, 'GET / HTTP/1.1\r\nHost: slow:9080\r\n\r\n');
  await eventually(() => c.out.includes('\r\n\r\n'), 'the response head');
  for (let n = 1; n <= 6; n++) {
    clock.advance(200);
    upstream!.write('x');
    await eventually(() => c.out.endsWith('x'.repeat(n)), `byte ${n}`);
  }
  assert.match(c.out, /^HTTP\/1.1 200 OK\r\n[^]*\r\n\r\nxxxxxx$/);

  // Disabled: an hour of silence, then the answer still reaches the client.
  const clock2 = new FakeClock();
  const silentUpstream = arrivals();
  let silentSocket: net.Socket | undefined;
  const silent = await rawBackend(t, (socket) => {
    silentSocket = socket;
    silentUpstream.onRequest();
  });
  const m2 = await mesh(t, silent, { nanos: 0 }, {}, clock2);
  const pending = request(m2.port, { host: 'slow:9080' });
  await silentUpstream.next(1);
  clock2.advance(3_600_000);
  silentSocket!.write('HTTP/1.1 204 No Content\r\n\r\n');
  assert.equal((await pending).status, 204);
});

test("a route's idle_timeout replaces the listener's stream_idle_timeout", async (t) => {
  // The listener says 300 ms; the route turns it off: an hour of silence, then the answer.
  const clock = new FakeClock();
  const arrived = arrivals();
  let silentSocket: net.Socket | undefined;
  const silent = await rawBackend(t, (socket) => {
    silentSocket = socket;
    arrived.onRequest();
  });
  const off = await mesh(t, silent, { nanos: 300_000_000 }, { idle_timeout: { seconds: 0 } }, clock);
  const pending = request(off.port, { host: 'slow:9080' });
  await arrived.next(1);
  clock.advance(3_600_000);
  silentSocket!.write('HTTP/1.1 204 No Content\r\n\r\n');
  assert.equal((await pending).status, 204);

  // The listener has none (0); the route says 200 ms.
  const clock2 = new FakeClock();
  const upstream = arrivals();
  const never = await rawBackend(t, upstream.onRequest);
  const on = await mesh(t, never, { nanos: 0 }, { idle_timeout: { nanos: 200_000_000 } }, clock2);
  const res = request(on.port, { host: 'slow:9080' });
  await upstream.next(1);
  clock2.advance(199);
  assert.ok(heldRequests(on.proxy).length > 0, 'still waiting upstream at 199 ms');
  clock2.advance(1);
  assert.equal((await res).status, 504);
});

test('StreamIdleTimer: fires after the timeout without activity, re-arms after activity, restart replaces it', () => {
  const clock = new FakeClock();
  const fired: string[] = [];
  const a = new StreamIdleTimer(clock, 100);
  a.whenExpired(() => fired.push('a'));
  clock.advance(60);
  a.touch();
  clock.advance(60);
  assert.equal(fired.length, 0);
  clock.advance(40);
  assert.deepEqual(fired, ['a']);
  assert.equal(a.expired, true);
  const b = new StreamIdleTimer(clock, 100);
  b.whenExpired(() => fired.push('b'));
  b.restart(0);
  clock.advance(1000);
  assert.equal(b.expired, false);
  b.stop();
  assert.deepEqual(fired, ['a']);
});
