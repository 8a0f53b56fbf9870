import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { FakeAds } from '../testing/fake-ads.js';
import { request, startBackend, startMesh } from '../testing/harness.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  routeTo,
  virtualHost,
} from '../testing/resources.js';

const C = 'outbound|9080||reviews.default.svc.cluster.local';

function rawExchange(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => c.write(data));
    let out = '';
    c.on('data', (d: Buffer) => (out += d.toString()));
    c.on('close', () => resolve(out));
    c.on('error', reject);
  });
}

test('a malformed or stalled client does not affect other clients', async (t) => {
  const backend = await startBackend('reviews');
  const mesh = await startMesh(
    {
      CDS: [edsCluster(C)],
      EDS: [endpoints(C, [{ port: backend.port }])],
      LDS: [httpListener(9080)],
      RDS: [routeConfig('9080', [virtualHost('reviews', ['reviews:9080'], [routeTo(C)])])],
    },
    {},
    FakeAds,
  );
  const stalled = net.connect(mesh.port, '127.0.0.1');
  const garbageH2 = net.connect(mesh.port, '127.0.0.1');
  t.after(async () => {
    stalled.destroy();
    garbageH2.destroy();
    await mesh.close();
    await backend.close();
  });
  // One client sends half a request and stops; another sends an HTTP/2 preface and garbage.
  await new Promise<void>((r) => stalled.once('connect', () => r()));
  stalled.write('GET / HTTP/1.1\r\nHost: reviews:9080\r\nX-Partial: ');
  garbageH2.on('error', () => undefined);
  garbageH2.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\xff\xff\xff\xff\xff\xff\xff');

  const bad = await rawExchange(mesh.port, 'GARBAGE / NOT-HTTP\r\n\r\n');
  assert.match(bad, /^HTTP\/1.1 400 Bad Request/);

  const results = await Promise.all(
    Array.from({ length: 5 }, () => request(mesh.port, { host: 'reviews:9080' })),
  );
  assert.deepEqual(
    results.map((r) => r.status),
    [200, 200, 200, 200, 200],
  );
  // Keep-alive: two requests on one connection both succeed.
  const twice = await rawExchange(
    mesh.port,
    'GET /a HTTP/1.1\r\nHost: reviews:9080\r\n\r\nGET /b HTTP/1.1\r\nHost: reviews:9080\r\nConnection: close\r\n\r\n',
  );
  assert.equal(twice.match(/HTTP\/1.1 200 OK/g)?.length, 2);
});

test('HTTP/1.1 upgrades (WebSocket) are routed and tunnelled both ways', async (t) => {
  const backend = await startBackend('ws');
  backend.server.on('upgrade', (req: import('node:http').IncomingMessage, socket: net.Socket) => {
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nupgrade: ${String(req.headers.upgrade)}\r\nconnection: upgrade\r\nx-path: ${req.url}\r\n\r\n`,
    );
    socket.on('data', (d: Buffer) => socket.write(`echo:${d.toString()}`));
    socket.on('end', () => socket.end());
  });
  const mesh = await startMesh(
    {
      CDS: [edsCluster(C)],
      EDS: [endpoints(C, [{ port: backend.port }])],
      LDS: [httpListener(9080, '9080', { upgradeTypes: ['websocket'] })],
      RDS: [routeConfig('9080', [virtualHost('reviews', ['reviews:9080'], [routeTo(C, { prefix: '/ws' })])])],
    },
    {},
    FakeAds,
  );
  t.after(async () => {
    await mesh.close();
    await backend.close();
  });
  const reply = await new Promise<string>((resolve, reject) => {
    const c = net.connect(mesh.port, '127.0.0.1', () =>
      c.write(
        'GET /ws/chat HTTP/1.1\r\nHost: reviews:9080\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
      ),
    );
    let out = '';
    c.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\r\n\r\n') && !out.includes('echo:')) c.write('hello');
      if (out.includes('echo:hello')) {
        c.end();
        resolve(out);
      }
    });
    c.on('error', reject);
  });
  assert.match(reply, /^HTTP\/1.1 101 Switching Protocols/);
  assert.match(reply, /x-path: \/ws\/chat/);
  const nr = await rawExchange(
    mesh.port,
    'GET /other HTTP/1.1\r\nHost: reviews:9080\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
  );
  assert.match(nr, /^HTTP\/1.1 404/);
});
