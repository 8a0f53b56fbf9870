import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { eventually } from '../../../core/testing/eventually.js';
import type { Downstream } from '../../connection-manager/downstream.js';
import {
  DEFAULT_SERVER_OPTIONS,
  Http1ServerConnection,
  type Http1ServerOptions,
} from './server-connection.js';

/** A server of Http1ServerConnections whose requests go to `handler`. */
async function serve(
  t: TestContext,
  handler: (ds: Downstream) => void,
  options: Partial<Http1ServerOptions> = {},
  upgrade?: (ds: Downstream, socket: net.Socket, head: Buffer) => void,
) {
  const conns: Http1ServerConnection[] = [];
  let draining = false;
  const server = net.createServer((socket) => {
    conns.push(
      new Http1ServerConnection(
        socket,
        {
          request: (ds) => {
            if (!ds.upgrade || !upgrade) return handler(ds);
            // As the tunnel does once the upstream answered 101 (the socket comes paused).
            const taken = ds.upgrade.takeOver();
            upgrade(ds, taken.socket, taken.head);
            taken.socket.resume();
          },
          clientError: () => undefined,
          draining: () => draining,
        },
        { ...DEFAULT_SERVER_OPTIONS, ...options },
      ),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const sockets: net.Socket[] = [];
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return {
    conns,
    drain: () => {
      draining = true;
      for (const c of conns) c.drain();
    },
    /** A raw client: what it received so far, and whether the server closed. */
    connect: async () => {
      const socket = net.connect(port, '127.0.0.1');
      sockets.push(socket);
      await new Promise<void>((r) => socket.once('connect', () => r()));
      const client = { socket, received: '', closed: false };
      socket.on('data', (d: Buffer) => (client.received += d.toString('latin1')));
      socket.on('close', () => (client.closed = true));
      socket.on('error', () => undefined);
      return client;
    },
  };
}

function readBody(ds: Downstream): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    ds.body.on('data', (c: Buffer) => (body += c.toString('latin1')));
    ds.body.on('end', () => resolve(body));
    ds.body.resume();
  });
}

function count(s: string, sub: string): number {
  return s.split(sub).length - 1;
}

test('pipelined requests are handled one at a time and answered in order', async (t) => {
  const order: string[] = [];
  const srv = await serve(t, (ds) => {
    order.push(`start ${ds.path}`);
    const delay = ds.path === '/slow' ? 50 : 0;
    setTimeout(() => {
      order.push(`done ${ds.path}`);
      ds.respond(200, { 'content-length': String(ds.path.length) });
      ds.write(Buffer.from(ds.path));
      ds.end();
    }, delay);
  });
  const c = await srv.connect();
  c.socket.write(
    'GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\nGET /c HTTP/1.1\r\nHost: a\r\n\r\n',
  );
  await eventually(() => count(c.received, 'HTTP/1.1 200 OK') === 3, 'three responses');
  assert.deepEqual(order, ['start /slow', 'done /slow', 'start /b', 'done /b', 'start /c', 'done /c']);
  assert.match(c.received, /\r\n\r\n\/slowHTTP\/1.1 200 OK[^]*\r\n\r\n\/bHTTP\/1.1 200 OK[^]*\r\n\r\n\/c$/);
  assert.match(c.received, /date: /);
  assert.equal(c.closed, false, 'keep-alive');
});

test('request bodies: Content-Length and chunked, streamed to the handler', async (t) => {
  const srv = await serve(t, (ds) => {
    void readBody(ds).then((body) => {
      ds.respond(200, {});
      ds.write(Buffer.from(`${ds.method} ${body}`));
      ds.end();
    });
  });
  const c = await srv.connect();
  c.socket.write('POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello');
  c.socket.write('POST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n');
  await new Promise((r) => setTimeout(r, 20));
  c.socket.write('4;ext=1\r\ndefg\r\n0\r\nx-t: 1\r\n\r\n');
  await eventually(() => count(c.received, '0\r\n\r\n') === 2, 'two chunked responses');
  // No Content-Length given: HTTP/1.1 responses are chunked.
  assert.match(c.received, /transfer-encoding: chunked\r\n\r\na\r\nPOST hello\r\n0\r\n\r\n/);
  assert.match(c.received, /c\r\nPOST abcdefg\r\n0\r\n\r\n/);
});

test('a paused body stops reading the socket; resume delivers the rest', async (t) => {
  let received = 0;
  let paused = true;
  let ds!: Downstream;
  const srv = await serve(t, (d) => {
    ds = d;
    d.body.on('data', (c: Buffer) => {
      assert.equal(paused, false, 'no data while paused');
      received += c.length;
    });
    d.body.on('end', () => {
      d.respond(200, { 'content-length': '0' });
      d.end();
    });
  });
  const c = await srv.connect();
  const total = 8 * 1024 * 1024;
  c.socket.write(`POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${total}\r\n\r\n`);
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  for (let sent = 0; sent < total; sent += chunk.length) c.socket.write(chunk);
  await new Promise((r) => setTimeout(r, 150));
  assert.ok(c.socket.writableLength > 0, 'the client is held back: nothing reads');
  paused = false;
  ds.body.resume();
  await eventually(() => c.received.includes('200 OK'), { what: 'the response', timeoutMs: 10_000 });
  assert.equal(received, total);
});

test('framing of responses: HTTP/1.0, HEAD, 204, trailers, Connection: close', async (t) => {
  const srv = await serve(t, (ds) => {
    const status = ds.path === '/204' ? 204 : 200;
    ds.respond(status, {});
    ds.write(Buffer.from('body'));
    ds.end(ds.path === '/trailers' ? { 'grpc-status': '0' } : undefined);
  });
  const v10 = await srv.connect();
  v10.socket.write('GET / HTTP/1.0\r\n\r\n');
  await eventually(() => v10.closed, 'HTTP/1.0 response delimited by close');
  assert.match(v10.received, /^HTTP\/1.1 200 OK\r\n/);
  assert.match(v10.received, /connection: close\r\n\r\nbody$/);
  assert.doesNotMatch(v10.received, /transfer-encoding/);

  const c = await srv.connect();
  c.socket.write(
    'HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET /204 HTTP/1.1\r\nHost: a\r\n\r\nGET /trailers HTTP/1.1\r\nHost: a\r\n\r\n',
  );
  await eventually(() => c.received.includes('grpc-status: 0\r\n\r\n'), 'three responses');
  const [head, noContent, trailers] = c.received.split(/(?=HTTP\/1\.1 )/);
  assert.doesNotMatch(head!, /body/, 'HEAD: no body');
  assert.match(noContent!, /^HTTP\/1.1 204 No Content\r\n/);
  assert.doesNotMatch(noContent!, /body|transfer-encoding/);
  assert.match(trailers!, /4\r\nbody\r\n0\r\ngrpc-status: 0\r\n\r\n$/);

  const close = await srv.connect();
  close.socket.write(
    'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\nHost: a\r\n\r\n',
  );
  await eventually(() => close.closed, 'closed after the response');
  assert.equal(count(close.received, 'HTTP/1.1 200'), 1);
  assert.match(close.received, /connection: close/);

  const ka10 = await srv.connect();
  ka10.socket.write('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
  await eventually(() => ka10.received.includes('body'), 'the response');
  // No length known and HTTP/1.0: the body can only end with the connection.
  assert.match(ka10.received, /connection: close/);
});

test('Expect: 100-continue is answered when the body is read, and an early answer closes', async (t) => {
  const srv = await serve(t, (ds) => {
    if (ds.path === '/reject') {
      ds.respond(413, { 'content-length': '0' });
      ds.end();
      return;
    }
    void readBody(ds).then((body) => {
      ds.respond(200, { 'content-length': String(body.length) });
      ds.write(Buffer.from(body));
      ds.end();
    });
  });
  const c = await srv.connect();
  c.socket.write('PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n');
  await eventually(() => c.received.includes('100 Continue'), '100 Continue');
  c.socket.write('data');
  await eventually(() => c.received.includes('200 OK'), 'the final response');
  assert.match(c.received, /^HTTP\/1.1 100 Continue\r\n\r\nHTTP\/1.1 200 OK\r\n[^]*\r\n\r\ndata$/);

  const r = await srv.connect();
  r.socket.write('PUT /reject HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n');
  await eventually(() => r.closed, 'closed: the client may or may not send the body now');
  assert.match(r.received, /^HTTP\/1.1 413 /);
  assert.doesNotMatch(r.received, /100 Continue/);
});

test('an early response drops the rest of the body and serves the next request', async (t) => {
  const srv = await serve(t, (ds) => {
    ds.respond(200, { 'content-length': '2' });
    ds.write(Buffer.from(ds.path === '/a' ? 'a!' : 'b!'));
    ds.end();
  });
  const c = await srv.connect();
  c.socket.write('POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n01234');
  await eventually(() => c.received.includes('a!'), 'first response');
  c.socket.write('56789GET /b HTTP/1.1\r\nHost: a\r\n\r\n');
  await eventually(() => c.received.includes('b!'), 'second response');
  assert.equal(c.closed, false);
});

test('malformed requests get 400 and close, after the responses before them', async (t) => {
  const srv = await serve(t, (ds) => {
    setTimeout(() => {
      ds.respond(200, { 'content-length': '2' });
      ds.write(Buffer.from('ok'));
      ds.end();
    }, 20);
  });
  const c = await srv.connect();
  c.socket.write(
    'GET / HTTP/1.1\r\nHost: a\r\n\r\nPOST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
  );
  await eventually(() => c.closed, 'closed');
  assert.match(c.received, /^HTTP\/1.1 200 OK[^]*\r\n\r\nokHTTP\/1.1 400 Bad Request\r\n/);
  assert.match(c.received, /bad request: HPE_UNEXPECTED_CONTENT_LENGTH/);

  const big = await srv.connect();
  big.socket.write(`GET / HTTP/1.1\r\nHost: a\r\nX: ${'x'.repeat(70 * 1024)}\r\n\r\n`);
  await eventually(() => big.closed, 'closed');
  assert.match(big.received, /^HTTP\/1.1 431 Request Header Fields Too Large\r\n/);

  const connect = await srv.connect();
  connect.socket.write('CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n');
  await eventually(() => connect.closed, 'closed');
  assert.match(connect.received, /^HTTP\/1.1 400 /);
});

test('absolute-form and asterisk targets', async (t) => {
  const seen: string[] = [];
  const srv = await serve(t, (ds) => {
    seen.push(`${ds.method} ${ds.authority} ${ds.path}`);
    ds.respond(204, {});
    ds.end();
  });
  const c = await srv.connect();
  c.socket.write(
    'GET http://reviews:9080/p?q HTTP/1.1\r\nHost: other\r\n\r\n' +
      'GET http://reviews:9080 HTTP/1.1\r\nHost: reviews:9080\r\n\r\n' +
      'GET http://reviews:9080?x=1 HTTP/1.1\r\nHost: reviews:9080\r\n\r\n' +
      'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n',
  );
  await eventually(() => seen.length === 4, 'four requests');
  assert.deepEqual(seen, [
    'GET reviews:9080 /p?q',
    'GET reviews:9080 /',
    'GET reviews:9080 /?x=1',
    'OPTIONS a *',
  ]);
  const bad = await srv.connect();
  bad.socket.write('GET * HTTP/1.1\r\nHost: a\r\n\r\n');
  await eventually(() => bad.closed, 'closed');
  assert.match(bad.received, /^HTTP\/1.1 400 /);
});

test('timeouts: an idle keep-alive connection closes, a slow head or body gets 408', async (t) => {
  const srv = await serve(
    t,
    (ds) => {
      if (ds.path === '/body') return void readBody(ds);
      ds.respond(200, { 'content-length': '0' });
      ds.end();
    },
    { keepAliveTimeoutMs: 100, headersTimeoutMs: 100, requestTimeoutMs: 300 },
  );
  const idle = await srv.connect();
  idle.socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
  const slowHead = await srv.connect();
  slowHead.socket.write('GET / HTTP/1.1\r\nHost: a\r\nX-Partial: ');
  const slowBody = await srv.connect();
  slowBody.socket.write('POST /body HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12345');
  await eventually(() => idle.closed && slowHead.closed && slowBody.closed, {
    what: 'all three closed',
    timeoutMs: 5000,
  });
  assert.match(idle.received, /^HTTP\/1.1 200 OK/);
  assert.match(slowHead.received, /^HTTP\/1.1 408 Request Timeout/);
  assert.match(slowBody.received, /^HTTP\/1.1 408 Request Timeout/);
});

test('drain closes idle connections at once and busy ones after their response', async (t) => {
  let pending: Downstream | undefined;
  const srv = await serve(t, (ds) => {
    if (ds.path === '/hold') {
      pending = ds;
      return;
    }
    ds.respond(200, { 'content-length': '0' });
    ds.end();
  });
  const idle = await srv.connect();
  idle.socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
  const busy = await srv.connect();
  busy.socket.write('GET /hold HTTP/1.1\r\nHost: a\r\n\r\n');
  await eventually(() => idle.received.includes('200') && pending !== undefined, 'requests in');
  srv.drain();
  await eventually(() => idle.closed, 'idle closed');
  assert.equal(busy.closed, false);
  pending!.respond(200, { 'content-length': '4' });
  pending!.write(Buffer.from('done'));
  pending!.end();
  await eventually(() => busy.closed, 'busy closed after its response');
  assert.match(busy.received, /connection: close\r\n\r\ndone$/);
});

test('a client that goes away aborts its request', async (t) => {
  let aborted = false;
  let ds!: Downstream;
  const srv = await serve(t, (d) => {
    ds = d;
    d.onAbort(() => (aborted = true));
  });
  const c = await srv.connect();
  c.socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
  await eventually(() => ds !== undefined, 'request');
  c.socket.end();
  await eventually(() => aborted, 'aborted');
  assert.equal(ds.aborted, true);
});

test('an upgrade request hands over the socket and the bytes after its head', async (t) => {
  let got: { path: string; head: string } | undefined;
  const srv = await serve(
    t,
    () => assert.fail('not a plain request'),
    {},
    (ds, socket, head) => {
      got = { path: ds.path, head: head.toString() };
      socket.write('HTTP/1.1 101 Switching Protocols\r\n\r\n');
      socket.on('data', (d: Buffer) => socket.write(`echo:${d.toString()}`));
    },
  );
  const c = await srv.connect();
  c.socket.write('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nearly');
  await eventually(() => got !== undefined, 'upgrade');
  c.socket.write('later');
  await eventually(() => c.received.includes('echo:later'), 'echo');
  assert.deepEqual(got, { path: '/ws', head: 'early' });
});

test('an upgrade answered with a normal response closes the connection; held bytes are never parsed', async (t) => {
  const paths: string[] = [];
  const srv = await serve(t, (ds) => {
    paths.push(ds.path);
    assert.equal(ds.upgrade?.protocol, 'websocket');
    ds.respond(200, { 'content-length': '2' });
    ds.write(Buffer.from('ok'));
    ds.end();
  });
  const c = await srv.connect();
  c.socket.write(
    'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n' +
      'GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n',
  );
  await eventually(() => c.closed, 'the connection to close');
  assert.match(c.received, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(c.received, /connection: close/);
  assert.deepEqual(paths, ['/ws']);
});

test('an upgrade request pipelined behind another is routed after it; its bytes wait, the loop does not spin', async (t) => {
  const seen: { path: string; upgrade: string | undefined }[] = [];
  const srv = await serve(t, (ds) => {
    seen.push({ path: ds.path, upgrade: ds.upgrade?.protocol });
    ds.respond(200, { 'content-length': '2' });
    ds.write(Buffer.from('ok'));
    ds.end();
  });
  const c = await srv.connect();
  // One write: a request, an upgrade request, and a byte of the next protocol.
  c.socket.write(
    'GET /a HTTP/1.1\r\nHost: a\r\n\r\n' +
      'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nX',
  );
  await eventually(() => c.closed, 'the connection to close after the upgrade got no 101');
  assert.deepEqual(seen, [
    { path: '/a', upgrade: undefined },
    { path: '/ws', upgrade: 'websocket' },
  ]);
  assert.equal(count(c.received, 'HTTP/1.1 200 OK'), 2);
});

test('after an upgrade head the connection stops reading until the upgrade is decided', async (t) => {
  let pending: Downstream | undefined;
  const srv = await serve(t, (ds) => (pending = ds));
  const c = await srv.connect();
  c.socket.write('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nearly');
  await eventually(() => pending !== undefined, 'the upgrade request');
  // Held in the kernel, not read into memory: whatever the client sends next is bounded by TCP.
  assert.equal(srv.conns[0]!.socket.isPaused(), true);
  pending!.respond(404, { 'content-length': '0' });
  pending!.end();
  await eventually(() => c.closed, 'close');
});

test('drain leaves an upgraded connection to its new owner', async (t) => {
  let upgraded: net.Socket | undefined;
  const srv = await serve(
    t,
    () => assert.fail('not a plain request'),
    {},
    (_ds, socket) => {
      upgraded = socket;
      socket.write('HTTP/1.1 101 Switching Protocols\r\n\r\n');
      socket.on('data', (d: Buffer) => socket.write(`echo:${d.toString()}`));
    },
  );
  const c = await srv.connect();
  c.socket.write('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
  await eventually(() => upgraded !== undefined, 'upgrade');
  const idle = await srv.connect();
  // A listener drain (config change) must not cut a WebSocket: it is not an idle HTTP connection.
  // Once the drain has closed the idle connection beside it, it has acted on the WebSocket too.
  srv.drain();
  await eventually(() => idle.closed, 'the drain to close the idle connection');
  c.socket.write('still there');
  await eventually(() => c.received.includes('echo:still there') || c.closed, 'echo or close');
  assert.equal(c.closed, false);
  assert.equal(upgraded!.destroyed, false);
});

test('a connection the codec closes is destroyed even if the client never closes its side', async (t) => {
  const srv = await serve(t, (ds) => {
    ds.respond(200, { 'content-length': '2' });
    ds.write(Buffer.from('ok'));
    ds.end();
  });
  const port = (await srv.connect()).socket.remotePort!;
  // Clients that keep their side open after the server's FIN (and never read an EOF).
  const clients = [
    'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
    'GET / HTTP/1.0\r\n\r\n',
    'GARBAGE\r\n\r\n',
  ].map(
    (data) =>
      new Promise<net.Socket>((resolve) => {
        const c = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => {
          c.write(data);
          resolve(c);
        });
        c.on('error', () => undefined);
      }),
  );
  const sockets = await Promise.all(clients);
  try {
    await eventually(() => srv.conns.length === 4, 'connections');
    const conns = srv.conns.slice(1);
    await eventually(() => conns.every((c) => c.socket.destroyed), {
      what: 'server sockets destroyed',
      timeoutMs: 4000,
    });
  } finally {
    for (const s of sockets) s.destroy();
  }
});
