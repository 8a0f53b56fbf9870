/**
 * The hand-written HTTP/1.1 path end to end: raw clients -> proxy (downstream codec, router,
 * upstream pool) -> node:http or raw TCP backends.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type http from 'node:http';
import net from 'node:net';
import { FakeAds } from '../../testing/fake-ads.js';
import { eventually } from '../../../core/testing/eventually.js';
import { request, startBackend, startMesh } from '../../testing/harness.js';
import { edsCluster, endpoints, httpListener, routeConfig, virtualHost } from '../../testing/resources.js';

const C = 'outbound|9080||svc.default.svc.cluster.local';

async function mesh(t: TestContext, port: number, route: object = {}, cluster: object = {}) {
  const m = await startMesh(
    {
      CDS: [edsCluster(C, cluster)],
      EDS: [endpoints(C, [{ port }])],
      LDS: [httpListener(9080)],
      RDS: [
        routeConfig('9080', [
          virtualHost('svc', ['svc:9080'], [{ match: { prefix: '/' }, route: { cluster: C, ...route } }]),
        ]),
      ],
    },
    {},
    FakeAds,
  );
  t.after(() => m.close());
  return m;
}

/** A backend speaking raw TCP: `onData` sees what the proxy sends on each connection. */
async function rawBackend(t: TestContext, onData: (socket: net.Socket, data: string, conn: number) => void) {
  let conns = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    const id = ++conns;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => onData(socket, d.toString('latin1'), id));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { port: (server.address() as net.AddressInfo).port, connections: () => conns };
}

/** Writes `data` on a fresh connection; resolves with everything read until `done` or close. */
function exchange(port: number, data: string, done?: (received: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => c.write(data));
    let out = '';
    c.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      if (done?.(out)) {
        c.destroy();
        resolve(out);
      }
    });
    c.on('close', () => resolve(out));
    c.on('error', reject);
  });
}

test('upstream connections are kept alive and reused', async (t) => {
  const peers = new Set<number>();
  const backend = await startBackend('svc', (req, res) => {
    peers.add(req.socket.remotePort!);
    res.end('ok');
  });
  t.after(() => backend.close());
  const m = await mesh(t, backend.port);
  for (let i = 0; i < 20; i++) assert.equal((await request(m.port, { host: 'svc:9080' })).body, 'ok');
  assert.equal(peers.size, 1, 'one upstream connection for 20 sequential requests');
});

test('request bodies: chunked and Content-Length, forwarded with their framing', async (t) => {
  const seen: { te?: string; cl?: string; body: string }[] = [];
  const backend = await startBackend('svc', (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ te: req.headers['transfer-encoding'], cl: req.headers['content-length'], body });
      res.end('done');
    });
  });
  t.after(() => backend.close());
  const m = await mesh(t, backend.port);
  const out = await exchange(
    m.port,
    'POST / HTTP/1.1\r\nHost: svc:9080\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n' +
      'PUT / HTTP/1.1\r\nHost: svc:9080\r\nContent-Length: 3\r\n\r\nabc',
    (s) => s.split('done').length === 3,
  );
  assert.equal(out.split('HTTP/1.1 200 OK').length, 3);
  assert.deepEqual(seen, [
    { te: 'chunked', cl: undefined, body: 'hello world' },
    { te: undefined, cl: '3', body: 'abc' },
  ]);
});

test('a large upload streams through with backpressure to a slow backend', async (t) => {
  const backend = await startBackend('svc', (req, res) => {
    const hash = createHash('sha256');
    req.pause();
    // Read slowly at first: the proxy must hold back the client rather than buffer everything.
    setTimeout(() => req.resume(), 200);
    req.on('data', (c: Buffer) => hash.update(c));
    req.on('end', () => res.end(hash.digest('hex')));
  });
  t.after(() => backend.close());
  const m = await mesh(t, backend.port);
  const body = Buffer.alloc(16 * 1024 * 1024);
  for (let i = 0; i < body.length; i += 4096) body.writeUInt32BE(i, i);
  const res = await new Promise<string>((resolve, reject) => {
    const c = net.connect(m.port, '127.0.0.1', () => {
      c.write(`POST / HTTP/1.1\r\nHost: svc:9080\r\nContent-Length: ${body.length}\r\n\r\n`);
      c.write(body);
    });
    let out = '';
    c.on('data', (d: Buffer) => {
      out += d.toString();
      if (
        /\r\n\r\n[0-9a-f]+\r\n[0-9a-f]{64}/.test(out) ||
        /content-length: \d+\r\n[^]*\r\n\r\n[0-9a-f]{64}/.test(out)
      ) {
        c.destroy();
        resolve(out);
      }
    });
    c.on('error', reject);
  });
  assert.ok(res.includes(createHash('sha256').update(body).digest('hex')));
});

test('responses: chunked with trailers, close-delimited, HEAD, 204 and 304 pass through', async (t) => {
  const raw = await rawBackend(t, (socket, data) => {
    const path = /^\w+ (\S+)/.exec(data)?.[1];
    if (path === '/trailers') {
      socket.write(
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-checksum\r\n\r\n' +
          '3\r\nabc\r\n3\r\ndef\r\n0\r\nx-checksum: 42\r\n\r\n',
      );
    } else if (path === '/close') {
      socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end');
    } else if (path === '/head') {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n');
    } else if (path === '/204') {
      socket.write('HTTP/1.1 204 No Content\r\n\r\n');
    } else {
      socket.write('HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n');
    }
  });
  const m = await mesh(t, raw.port);
  const trailers = await exchange(
    m.port,
    'GET /trailers HTTP/1.1\r\nHost: svc:9080\r\n\r\n',
    (s) => s.endsWith('\r\n\r\n') && s.includes('0\r\n'),
  );
  assert.match(trailers, /transfer-encoding: chunked/);
  assert.match(trailers, /3\r\nabc\r\n3\r\ndef\r\n0\r\nx-checksum: 42\r\n\r\n$/);
  const close = await exchange(m.port, 'GET /close HTTP/1.1\r\nHost: svc:9080\r\n\r\n', (s) =>
    s.endsWith('0\r\n\r\n'),
  );
  // The upstream's body ended with its connection; the client's connection stays, chunked.
  assert.match(close, /transfer-encoding: chunked\r\n\r\nd\r\nuntil the end\r\n0\r\n\r\n$/);
  const close10 = await exchange(m.port, 'GET /close HTTP/1.0\r\nHost: svc:9080\r\n\r\n');
  assert.match(close10, /connection: close\r\n\r\nuntil the end$/);
  const head = await exchange(
    m.port,
    'HEAD /head HTTP/1.1\r\nHost: svc:9080\r\n\r\nGET /204 HTTP/1.1\r\nHost: svc:9080\r\n\r\nGET /304 HTTP/1.1\r\nHost: svc:9080\r\n\r\n',
    (s) => s.includes('304 Not Modified') && s.endsWith('\r\n\r\n'),
  );
  const parts = head.split(/(?=HTTP\/1\.1 )/);
  assert.equal(parts.length, 3);
  assert.match(parts[0]!, /content-length: 1234\r\n/);
  assert.match(parts[0]!, /\r\n\r\n$/);
  assert.match(parts[1]!, /^HTTP\/1.1 204 No Content\r\n[^]*\r\n\r\n$/);
  assert.match(parts[2]!, /^HTTP\/1.1 304 Not Modified\r\n[^]*etag: "x"\r\n[^]*\r\n\r\n$/);
});

test('pipelined requests through the proxy are answered in order', async (t) => {
  const backend = await startBackend('svc', (req, res) => {
    setTimeout(() => res.end(req.url), req.url === '/1' ? 60 : 0);
  });
  t.after(() => backend.close());
  const m = await mesh(t, backend.port);
  const out = await exchange(
    m.port,
    ['/1', '/2', '/3'].map((p) => `GET ${p} HTTP/1.1\r\nHost: svc:9080\r\n\r\n`).join(''),
    (s) => s.split('HTTP/1.1 200').length === 4 && s.endsWith('/3'),
  );
  assert.deepEqual(
    [...out.matchAll(/\r\n\r\n(\/\d)/g)].map((x) => x[1]),
    ['/1', '/2', '/3'],
  );
});

test('smuggling attempts never reach the upstream', async (t) => {
  const backend = await startBackend('svc');
  t.after(() => backend.close());
  const m = await mesh(t, backend.port);
  const attempts = [
    'POST / HTTP/1.1\r\nHost: svc:9080\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /x HTTP/1.1\r\nHost: svc:9080\r\n\r\n',
    'POST / HTTP/1.1\r\nHost: svc:9080\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\n',
    'POST / HTTP/1.1\r\nHost: svc:9080\r\nTransfer-Encoding: chunked\r\n\r\n4\nabcd\r\n0\r\n\r\n',
    'POST / HTTP/1.1\r\nHost: svc:9080\r\nX: y\r\n Transfer-Encoding: chunked\r\n\r\n',
    'POST / HTTP/1.1\r\nHost: svc:9080\r\nTransfer-Encoding : chunked\r\n\r\n',
  ];
  for (const a of attempts) {
    const out = await exchange(m.port, a);
    assert.match(out, /^HTTP\/1.1 400 Bad Request\r\n/, a);
  }
  assert.equal(backend.hits, 0);
});

test('an upstream reset before the response is UR (503), and retried with retry_on reset', async (t) => {
  let calls = 0;
  const raw = await rawBackend(t, (socket) => {
    calls++;
    if (calls === 1) socket.destroy();
    else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nretried');
  });
  const m = await mesh(t, raw.port, {
    retry_policy: {
      retry_on: 'reset',
      num_retries: { value: 2 },
      retry_back_off: { base_interval: { nanos: 1_000_000 } },
    },
  });
  const ok = await request(m.port, { host: 'svc:9080' });
  assert.equal(ok.status, 200);
  assert.equal(ok.body, 'retried');
  assert.equal(calls, 2);

  const reset = await rawBackend(t, (socket) => socket.destroy());
  const m2 = await mesh(t, reset.port);
  const res = await request(m2.port, { host: 'svc:9080' });
  assert.equal(res.status, 503);
  assert.match(res.body, /reset reason: remote reset/);
  assert.match(m2.proxy.stats.prometheus(), /response_code="503",response_flags="UR"/);

  // A malformed response is a reset too, and its connection is not reused.
  const bad = await rawBackend(t, (socket) =>
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\nok'),
  );
  const m3 = await mesh(t, bad.port);
  assert.equal((await request(m3.port, { host: 'svc:9080' })).status, 503);
  assert.equal((await request(m3.port, { host: 'svc:9080' })).status, 503);
  assert.equal(bad.connections(), 2);
});

test('a response cut short after its head resets the client connection (UR)', async (t) => {
  const raw = await rawBackend(t, (socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial');
    setTimeout(() => socket.destroy(), 20);
  });
  const m = await mesh(t, raw.port);
  const out = await exchange(m.port, 'GET / HTTP/1.1\r\nHost: svc:9080\r\n\r\n');
  assert.match(out, /^HTTP\/1.1 200 OK\r\n[^]*content-length: 100\r\n[^]*\r\n\r\npartial$/);
  await eventually(
    () => /response_code="200",response_flags="UR"/.test(m.proxy.stats.prometheus()),
    'the UR flag in metrics',
  );
});

test('max_connections: requests beyond the limit wait for a free connection', async (t) => {
  const peers = new Set<number>();
  let active = 0;
  let maxActive = 0;
  const backend = await startBackend('svc', (req: http.IncomingMessage, res: http.ServerResponse) => {
    peers.add(req.socket.remotePort!);
    maxActive = Math.max(maxActive, ++active);
    setTimeout(() => {
      active--;
      res.end('ok');
    }, 20);
  });
  t.after(() => backend.close());
  const m = await mesh(
    t,
    backend.port,
    {},
    {
      circuit_breakers: { thresholds: [{ max_connections: { value: 1 } }] },
    },
  );
  const results = await Promise.all(Array.from({ length: 5 }, () => request(m.port, { host: 'svc:9080' })));
  assert.deepEqual(
    results.map((r) => r.status),
    [200, 200, 200, 200, 200],
  );
  assert.equal(peers.size, 1);
  assert.equal(maxActive, 1);
});

test('an upstream that closes idle keep-alive connections does not fail the next request', async (t) => {
  const backend = await startBackend('svc', (_req, res) => res.end('ok'));
  backend.server.keepAliveTimeout = 50;
  t.after(() => backend.close());
  const m = await mesh(t, backend.port);
  assert.equal((await request(m.port, { host: 'svc:9080' })).status, 200);
  await eventually(
    async () => (await new Promise<number>((r) => backend.server.getConnections((_e, n) => r(n)))) === 0,
    'the upstream to close the idle connection',
  );
  assert.equal((await request(m.port, { host: 'svc:9080' })).status, 200);
});

test('Expect: 100-continue is answered by the proxy and not forwarded (proxy_100_continue false)', async (t) => {
  let upstreamHead = '';
  let received = '';
  const raw = await rawBackend(t, (socket, data) => {
    received += data;
    const end = received.indexOf('\r\n\r\n');
    if (end === -1) return;
    upstreamHead = received.slice(0, end);
    // A backend that never sends 100 Continue itself: the client must still get one.
    if (received.length - end - 4 >= 5)
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n${received.slice(end + 4)}`);
  });
  const m = await mesh(t, raw.port);
  const out = await new Promise<string>((resolve, reject) => {
    const c = net.connect(m.port, '127.0.0.1', () =>
      c.write('POST / HTTP/1.1\r\nHost: svc:9080\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n'),
    );
    let got = '';
    c.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got === 'HTTP/1.1 100 Continue\r\n\r\n') c.write('hello');
      if (got.endsWith('\r\n\r\nhello')) {
        c.destroy();
        resolve(got);
      }
    });
    c.on('error', reject);
  });
  assert.match(out, /^HTTP\/1.1 100 Continue\r\n\r\nHTTP\/1.1 200 OK\r\n/);
  assert.match(upstreamHead, /^POST \/ HTTP\/1.1\r\n/);
  assert.doesNotMatch(upstreamHead, /expect/i);
});

test('hop-by-hop response headers, and those the upstream names in Connection, never reach the client', async (t) => {
  const raw = await rawBackend(t, (socket) => {
    socket.write(
      'HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\n' +
        'Proxy-Connection: keep-alive\r\nUpgrade: h2c\r\nX-End: kept\r\nContent-Length: 2\r\n\r\nok',
    );
  });
  const m = await mesh(t, raw.port);
  const res = await request(m.port, { host: 'svc:9080' });
  assert.equal(res.status, 200);
  assert.equal(res.body, 'ok');
  assert.equal(res.headers['x-end'], 'kept');
  for (const name of ['x-hop', 'keep-alive', 'proxy-connection', 'upgrade'])
    assert.equal(res.headers[name], undefined, name);
  assert.notEqual(res.headers.connection, 'keep-alive, X-Hop');
});

test('Upgrade: h2c is forwarded as an ordinary request without its upgrade headers', async (t) => {
  const heads: string[] = [];
  const raw = await rawBackend(t, (socket, data) => {
    heads.push(data);
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nplain');
  });
  const m = await mesh(t, raw.port);
  let timer: NodeJS.Timeout | undefined;
  const out = await Promise.race([
    exchange(
      m.port,
      'GET /a HTTP/1.1\r\nHost: svc:9080\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n' +
        'HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\nGET /b HTTP/1.1\r\nHost: svc:9080\r\n\r\n',
      (s) => s.split('plain').length === 3,
    ),
    new Promise<string>((resolve) => (timer = setTimeout(() => resolve('no answer to both requests'), 3000))),
  ]);
  clearTimeout(timer);
  // Answered as HTTP/1.1 (no 101), and the connection goes on to the next request.
  assert.equal(out.split('HTTP/1.1 200 OK').length, 3);
  assert.doesNotMatch(out, /101 Switching Protocols/);
  assert.match(heads[0]!, /^GET \/a HTTP\/1.1\r\n/);
  assert.doesNotMatch(heads[0]!, /upgrade|http2-settings/i);
});
