/**
 * Regressions of the upstream side of the HTTP/1.1 codec (client-connection.ts, client-pool.ts),
 * end to end through the proxy against raw TCP backends.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { ReplayableBody, type BodySource } from '../../connection-manager/request-body.js';
import { FakeAds } from '../../testing/fake-ads.js';
import { UpstreamPools } from '../../upstream/pools.js';
import { UpstreamError } from '../../upstream/attempt.js';
import { sendUpstream } from '../../upstream/upstream-request.js';
import { Http1ClientRequest } from './client-connection.js';
import { Http1Pool } from './client-pool.js';
import { eventually } from '../../../core/testing/eventually.js';
import { request, startBackend, startMesh } from '../../testing/harness.js';
import { edsCluster, endpoints, httpListener, routeConfig, virtualHost } from '../../testing/resources.js';

const C = 'outbound|9080||svc.default.svc.cluster.local';

async function mesh(t: TestContext, port: number, cluster: object = {}) {
  const m = await startMesh(
    {
      CDS: [edsCluster(C, cluster)],
      EDS: [endpoints(C, [{ port }])],
      LDS: [httpListener(9080)],
      RDS: [
        routeConfig('9080', [
          virtualHost('svc', ['svc:9080'], [{ match: { prefix: '/' }, route: { cluster: C } }]),
        ]),
      ],
    },
    {},
    FakeAds,
  );
  t.after(() => m.close());
  return m;
}

/** A raw TCP backend: `onRequest` sees each request head (by connection number) and answers. */
async function rawBackend(
  t: TestContext,
  onRequest: (socket: net.Socket, head: string, conn: number) => void,
) {
  let conns = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    const id = ++conns;
    sockets.add(socket);
    socket.on('error', () => undefined);
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      let end: number;
      while ((end = buf.indexOf('\r\n\r\n')) !== -1) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        onRequest(socket, head, id);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { port: (server.address() as net.AddressInfo).port, connections: () => conns };
}

function pathOf(head: string): string {
  return /^\w+ (\S+)/.exec(head)?.[1] ?? '';
}

function ok(body: string): string {
  return `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
}

test('bytes after a complete response are not taken as the response to the next request', async (t) => {
  let aArrived = false;
  const raw = await rawBackend(t, (socket, head) => {
    const path = pathOf(head);
    if (path === '/a') {
      aArrived = true;
      // A broken upstream: a second, unsolicited response right behind the first.
      setTimeout(() => socket.write(`${ok('a')}${ok('unsolicited')}`), 50);
    } else {
      socket.write(ok(path));
    }
  });
  // One connection: /b waits for /a's, and gets it back the moment /a's response is complete.
  const m = await mesh(t, raw.port, {
    circuit_breakers: { thresholds: [{ max_connections: { value: 1 } }] },
  });
  const a = request(m.port, { host: 'svc:9080', path: '/a' });
  await eventually(() => aArrived, '/a upstream');
  const b = request(m.port, { host: 'svc:9080', path: '/b' });
  assert.equal((await a).body, 'a');
  assert.equal((await b).body, '/b');
});

test('an idle upstream connection that receives bytes is closed, not reused', async (t) => {
  let firstClosed = false;
  const raw = await rawBackend(t, (socket, head, conn) => {
    socket.write(ok(pathOf(head)));
    if (conn !== 1) return;
    socket.on('close', () => (firstClosed = true));
    // Garbage on the idle connection (a partial head): whatever follows on it is unparseable.
    setTimeout(() => socket.write('HTTP/1.1 200 OK\r\nContent-Le'), 20);
  });
  const m = await mesh(t, raw.port);
  assert.equal((await request(m.port, { host: 'svc:9080', path: '/1' })).body, '/1');
  await eventually(() => firstClosed, 'the proxy to close the connection that got garbage');
  const second = await request(m.port, { host: 'svc:9080', path: '/2' });
  assert.equal(second.status, 200);
  assert.equal(second.body, '/2');
  assert.equal(raw.connections(), 2);
});

/** A request body source that records whether it was asked to wait. */
class FakeSource implements BodySource {
  paused = true;
  readableEnded = false;
  private onData: ((c: Buffer) => void) | undefined;
  on(event: 'data' | 'end', fn: ((c: Buffer) => void) | (() => void)): this {
    if (event === 'data') this.onData = fn;
    return this;
  }
  pause(): this {
    this.paused = true;
    return this;
  }
  resume(): this {
    this.paused = false;
    return this;
  }
  push(c: Buffer): void {
    this.onData?.(c);
  }
}

test('an attempt abandoned while it held back the request body does not stall the next one', () => {
  const source = new FakeSource();
  const body = new ReplayableBody(source, 1 << 20);
  const spec = {
    method: 'POST',
    path: '/',
    authority: 'svc',
    headers: { 'content-length': String(200 * 1024) },
    body,
    connectTimeoutMs: 1000,
    shadow: false,
  };
  const first = new Http1ClientRequest(spec);
  first.response.catch(() => undefined);
  first.start();
  assert.equal(source.paused, false);
  // Still waiting for a connection: past its queue limit it asks the source to wait...
  source.push(Buffer.alloc(100 * 1024));
  assert.equal(source.paused, true);
  // ...and is then abandoned (per-try timeout, connect failure) before any 'drain'.
  first.cancel();
  // The retry replays what arrived and must get the rest of the body too.
  const retry = new Http1ClientRequest(spec);
  retry.response.catch(() => undefined);
  retry.start();
  assert.equal(source.paused, false, 'the body source stays paused: the retry never gets the rest');
  retry.cancel();
});

test('a slow client reading a response of many small chunks: one drain wait at a time', async (t) => {
  const CHUNK = 'x'.repeat(500);
  const TOTAL = 16_000; // chunks: 8 MB, far more than the socket buffers hold
  const raw = await rawBackend(t, (socket) => {
    socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
    const piece = `1f4\r\n${CHUNK}\r\n`.repeat(100);
    let sent = 0;
    const more = (): void => {
      while (sent < TOTAL) {
        sent += 100;
        if (!socket.write(piece)) return void socket.once('drain', more);
      }
      socket.write('0\r\n\r\n');
    };
    more();
  });
  const m = await mesh(t, raw.port);
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const received = await new Promise<number>((resolve, reject) => {
    const c = net.connect(m.port, '127.0.0.1', () => c.write('GET / HTTP/1.1\r\nHost: svc:9080\r\n\r\n'));
    c.pause();
    // A slow reader: the proxy's writes to it back up while the upstream keeps sending.
    setTimeout(() => c.resume(), 500);
    let n = 0;
    let tail = '';
    c.on('data', (d: Buffer) => {
      n += d.length;
      tail = (tail + d.toString('latin1')).slice(-5);
      if (tail === '0\r\n\r\n') {
        c.destroy();
        resolve(n);
      }
    });
    c.on('error', reject);
  });
  assert.ok(received > TOTAL * 500, `received ${received} bytes`);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    warnings.filter((w) => w.includes('MaxListeners')),
    [],
  );
});

test('a bodiless HTTP/2 request goes upstream without a body: no chunked GET', async (t) => {
  const seen: string[] = [];
  const backend = await startBackend('svc', (req, res) => {
    seen.push(`${req.method} te=${req.headers['transfer-encoding']} cl=${req.headers['content-length']}`);
    res.end('ok');
  });
  t.after(() => backend.close());
  const m = await mesh(t, backend.port);
  const session = http2.connect(`http://127.0.0.1:${m.port}`);
  t.after(() => session.close());
  const call = (method: string, body?: string) =>
    new Promise<number>((resolve, reject) => {
      const s = session.request(
        { ':method': method, ':path': '/', ':authority': 'svc:9080' },
        { endStream: !body },
      );
      s.on('response', (h) => resolve(Number(h[':status'])));
      s.on('error', reject);
      s.resume();
      if (body) s.end(body);
    });
  assert.equal(await call('GET'), 200);
  assert.equal(await call('DELETE'), 200);
  assert.equal(await call('POST', 'abc'), 200);
  assert.deepEqual(seen, [
    'GET te=undefined cl=undefined',
    'DELETE te=undefined cl=undefined',
    'POST te=chunked cl=undefined',
  ]);
});

test('a request head that cannot be written fails the attempt instead of throwing', async () => {
  const pools = new UpstreamPools();
  const endpoint = {
    key: '127.0.0.1:9',
    host: '127.0.0.1',
    port: 9,
    healthy: true,
    healthStatus: 'HEALTHY',
    weight: 1,
    identity: {},
  };
  const bad: { path: string; headers: Record<string, string> }[] = [
    { path: '/', headers: { 'x-arrow': '\u2192' } }, // e.g. from request_headers_to_add
    { path: '/a b HTTP/1.1\r\nx: y', headers: {} }, // a rewritten path
  ];
  try {
    for (const b of bad) {
      const source = new FakeSource();
      source.readableEnded = true;
      const spec = {
        endpoint,
        http2: false,
        method: 'GET',
        path: b.path,
        authority: 'svc',
        headers: b.headers,
        body: new ReplayableBody(source, 0),
        connectTimeoutMs: 1000,
        maxConnections: 1,
      };
      // Thrown, it skipped forward.ts's clean-up: the request circuit breaker was never released.
      const attempt = sendUpstream(spec, pools);
      await assert.rejects(attempt.response, (e) => e instanceof UpstreamError && e.kind === 'reset');
    }
  } finally {
    pools.closeAll();
  }
});

test('requests cancelled while waiting for a connection leave the pool queue', async (t) => {
  // An upstream that accepts and never answers: the one connection never comes free.
  const hung = await rawBackend(t, () => undefined);
  const pool = new Http1Pool('127.0.0.1', hung.port, 1);
  t.after(() => pool.destroy());
  const send = () => {
    const source = new FakeSource();
    source.readableEnded = true;
    const req = new Http1ClientRequest({
      method: 'GET',
      path: '/',
      authority: 'svc',
      headers: {},
      body: new ReplayableBody(source, 1 << 20),
      connectTimeoutMs: 1000,
      shadow: false,
    });
    req.response.catch(() => undefined);
    req.start();
    pool.send(req);
    return req;
  };
  send();
  for (let i = 0; i < 50; i++) send().cancel(); // route timeouts, clients gone
  assert.equal(pool.pending, 0);
});
