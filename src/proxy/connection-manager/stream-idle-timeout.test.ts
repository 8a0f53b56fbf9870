/**
 * Envoy's stream idle timeout (HCM stream_idle_timeout) through a real proxy, with a small value
 * and the route timeout disabled, so only the idle timeout can end the request.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { TYPE, packAny } from '../../protocol/protos.js';
import { FakeClock } from '../../core/clock.js';
import { FakeAds } from '../testing/fake-ads.js';
import { eventually } from '../../core/testing/eventually.js';
import { request, startMesh } from '../testing/harness.js';
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
async function rawBackend(t: TestContext, onRequest: (socket: net.Socket) => void) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('data', () => onRequest(socket));
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
    {},
    FakeAds,
  );
  t.after(() => m.close());
  return m;
}

/** Sends `data`; resolves with what was read when the proxy closes, or 'HUNG' after 3 s. */
function untilClosed(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => c.write(data));
    let out = '';
    const deadline = setTimeout(() => {
      c.destroy();
      resolve(`HUNG:${out}`);
    }, 3000);
    c.on('data', (d: Buffer) => (out += d.toString('latin1')));
    c.on('close', () => {
      clearTimeout(deadline);
      resolve(out);
    });
    c.on('error', reject);
  });
}

test('an upstream that never answers (route timeout 0) gets 504 after stream_idle_timeout, flagged SI', async (t) => {
  const port = await rawBackend(t, () => undefined);
  const m = await mesh(t, port);
  const started = performance.now();
  const res = await request(m.port, { host: 'slow:9080' });
  const took = performance.now() - started;
  // The whole request had arrived: Envoy answers 504 then (408 while the request is incomplete).
  assert.equal(res.status, 504);
  assert.equal(res.body, 'stream timeout\n');
  assert.ok(took >= 250 && took < 2500, `took ${took} ms`);
  await eventually(
    () => /response_code="504",response_flags="SI"/.test(m.proxy.stats.prometheus()),
    'SI in metrics',
  );
});

test('a client that stops sending its request body gets 408 after stream_idle_timeout (SI)', async (t) => {
  const port = await rawBackend(t, () => undefined);
  const m = await mesh(t, port);
  // Content-Length 10, 3 bytes sent, then nothing.
  const c = net.connect(m.port, '127.0.0.1', () =>
    c.write('POST /upload HTTP/1.1\r\nHost: slow:9080\r\nContent-Length: 10\r\n\r\nabc'),
  );
  t.after(() => c.destroy());
  let out = '';
  c.on('data', (d: Buffer) => (out += d.toString('latin1')));
  await eventually(() => out.endsWith('stream timeout\n'), 'the 408 response');
  assert.match(out, /^HTTP\/1.1 408 /);
  await eventually(
    () => /response_code="408",response_flags="SI"/.test(m.proxy.stats.prometheus()),
    'SI in metrics',
  );
});

test('an upstream that stalls mid-body has the client stream reset after stream_idle_timeout (SI)', async (t) => {
  const port = await rawBackend(t, (socket) =>
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial'),
  );
  const m = await mesh(t, port);
  const out = await untilClosed(m.port, 'GET / HTTP/1.1\r\nHost: slow:9080\r\n\r\n');
  assert.doesNotMatch(out, /^HUNG/);
  assert.match(out, /^HTTP\/1.1 200 OK\r\n[^]*\r\n\r\npartial$/);
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
  // Trickles a byte every 100 ms for 600 ms: twice the 300 ms idle timeout in all, never idle.
  const port = await rawBackend(t, (socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n');
    let n = 0;
    const timer = setInterval(() => {
      socket.write('x');
      if (++n === 6) clearInterval(timer);
    }, 100);
    socket.on('close', () => clearInterval(timer));
  });
  const m = await mesh(t, port);
  const res = await request(m.port, { host: 'slow:9080' });
  assert.equal(res.status, 200);
  assert.equal(res.body, 'xxxxxx');
  const silent = await rawBackend(t, (socket) =>
    setTimeout(() => socket.write('HTTP/1.1 204 No Content\r\n\r\n'), 600),
  );
  const m2 = await mesh(t, silent, { nanos: 0 });
  assert.equal((await request(m2.port, { host: 'slow:9080' })).status, 204);
});

test("a route's idle_timeout replaces the listener's stream_idle_timeout", async (t) => {
  const silent = await rawBackend(t, (socket) =>
    setTimeout(() => socket.write('HTTP/1.1 204 No Content\r\n\r\n'), 600),
  );
  // The listener says 300 ms; the route turns it off.
  const off = await mesh(t, silent, { nanos: 300_000_000 }, { idle_timeout: { seconds: 0 } });
  assert.equal((await request(off.port, { host: 'slow:9080' })).status, 204);
  // The listener has none (0); the route says 200 ms.
  const never = await rawBackend(t, () => undefined);
  const on = await mesh(t, never, { nanos: 0 }, { idle_timeout: { nanos: 200_000_000 } });
  const res = await request(on.port, { host: 'slow:9080' });
  assert.equal(res.status, 504);
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
