/**
 * Every downstream stream end releases its upstream request and the counts it holds (issue #10,
 * finding 1): an HTTP/2 client that resets or disconnects while a large response is held by flow
 * control, an HTTP/1.1 client that disconnects mid-body. After each scenario the cluster's active
 * request count, the host's rq_active and the upstream connections return to zero.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { eventually } from '../../core/testing/eventually.js';
import { type Backend } from '../testing/harness.js';
import { APP_CLUSTER, startServiceMesh } from '../testing/service-mesh.js';
import type { TrellisProxy } from '../proxy.js';
import type { Downstream } from './downstream.js';

const C = APP_CLUSTER;
const BIG = Buffer.alloc(1 << 20, 0x61);

async function bigMesh(t: { after(fn: () => Promise<void>): void }, megabytes = 1) {
  const mesh = await startServiceMesh(t, {
    backend: (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      let left = megabytes;
      const more = () => {
        while (left > 0) {
          left--;
          if (left === 0) return void res.end(BIG);
          if (!res.write(BIG)) return void res.once('drain', more);
        }
      };
      more();
    },
  });
  return { mesh, backend: mesh.backend };
}

/** The invariant: nothing is held for the cluster once every client is gone. */
export function activeCounts(proxy: TrellisProxy, cluster: string): { requests: number; hosts: number } {
  const c = proxy.clusters.get(cluster);
  if (!c) return { requests: -1, hosts: -1 };
  let hosts = 0;
  for (const h of c.hosts) hosts += h.activeRequests;
  return { requests: c.breakers.forPriority().active('requests'), hosts };
}

async function idle(proxy: TrellisProxy, backend: Backend) {
  await eventually(
    () => {
      const a = activeCounts(proxy, C);
      return a.requests === 0 && a.hosts === 0;
    },
    `active requests to return to zero (now ${JSON.stringify(activeCounts(proxy, C))})`,
  );
  // Upstream connections that carried a cut-short response are closed, not left to the pool.
  await eventually(
    async () => (await new Promise<number>((r) => backend.server.getConnections((_e, n) => r(n)))) === 0,
    'upstream connections closed',
  );
}

async function openHeldStreams(port: number, n: number): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: 0 } });
  session.on('error', () => undefined);
  const started: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const s = session.request({ ':path': '/big', ':authority': 'app:9080' });
    s.on('error', () => undefined);
    started.push(new Promise((r) => s.once('response', () => r())));
  }
  await Promise.all(started);
  return session;
}

test('HTTP/2: a client that disconnects while responses are held by flow control releases them', async (t) => {
  const { mesh, backend } = await bigMesh(t);
  const session = await openHeldStreams(mesh.port, 20);
  await eventually(() => activeCounts(mesh.proxy, C).requests === 20, '20 active requests');
  session.destroy();
  await idle(mesh.proxy, backend);
});

test('HTTP/2: streams reset by the client while held by flow control are released', async (t) => {
  const { mesh, backend } = await bigMesh(t);
  const session = http2.connect(`http://127.0.0.1:${mesh.port}`, { settings: { initialWindowSize: 0 } });
  session.on('error', () => undefined);
  t.after(() => void session.destroy());
  const streams = await Promise.all(
    Array.from({ length: 10 }, async () => {
      const s = session.request({ ':path': '/big', ':authority': 'app:9080' });
      s.on('error', () => undefined);
      await new Promise((r) => s.once('response', r));
      return s;
    }),
  );
  await eventually(() => activeCounts(mesh.proxy, C).requests === 10, '10 active requests');
  for (const s of streams) s.close(http2.constants.NGHTTP2_CANCEL);
  await idle(mesh.proxy, backend);
  // The session is still usable: a fresh stream with a window gets its whole response.
  session.settings({ initialWindowSize: 65535 });
  const s = session.request({ ':path': '/big', ':authority': 'app:9080' });
  let n = 0;
  s.on('data', (c: Buffer) => (n += c.length));
  await new Promise((r) => s.on('end', r));
  assert.equal(n, BIG.length);
});

test('HTTP/2: a GOAWAY from the client releases streams it abandons', async (t) => {
  const { mesh, backend } = await bigMesh(t);
  const session = await openHeldStreams(mesh.port, 5);
  await eventually(() => activeCounts(mesh.proxy, C).requests === 5, '5 active requests');
  session.goaway(http2.constants.NGHTTP2_CANCEL);
  session.destroy();
  await idle(mesh.proxy, backend);
});

test('HTTP/1.1: a client that disconnects mid-response releases its request', async (t) => {
  // A response larger than every socket buffer on the way, so it is still streaming.
  const { mesh, backend } = await bigMesh(t, 64);
  const sockets: net.Socket[] = [];
  for (let i = 0; i < 5; i++) {
    const c = net.connect(mesh.port, '127.0.0.1');
    c.on('error', () => undefined);
    // Read only the first chunk, then stop reading so the response backs up.
    await new Promise<void>((r) => {
      c.once('data', () => {
        c.pause();
        r();
      });
      c.write('GET /big HTTP/1.1\r\nHost: app:9080\r\n\r\n');
    });
    sockets.push(c);
  }
  await eventually(() => activeCounts(mesh.proxy, C).requests === 5, '5 active requests');
  for (const c of sockets) c.destroy();
  await idle(mesh.proxy, backend);
});

test('a release registered after the client left still runs (HTTP/2 and HTTP/1.1)', async (t) => {
  const { fromHttp2 } = await import('./downstream.js');
  const { Http1ServerConnection } = await import('../codec/http1/server-connection.js');
  const late: string[] = [];
  let arrived = 0;
  // Registers its abort callback only once the client is already gone.
  const registerLate = async (name: string, ds: Downstream) => {
    arrived++;
    await eventually(() => ds.aborted, `${name} aborted`);
    ds.onAbort(() => late.push(name));
  };
  const h2 = http2.createServer((req, res) => void registerLate('h2', fromHttp2(req, res)));
  const h1 = net.createServer(
    (socket) =>
      new Http1ServerConnection(socket, {
        request: (ds) => void registerLate('h1', ds),
        clientError: () => undefined,
        draining: () => false,
      }),
  );
  for (const s of [h2, h1]) await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    h2.close();
    h1.close();
  });
  const session = http2.connect(`http://127.0.0.1:${(h2.address() as net.AddressInfo).port}`);
  session.on('error', () => undefined);
  session.request({ ':path': '/' }).on('error', () => undefined);
  const c = net.connect((h1.address() as net.AddressInfo).port, '127.0.0.1', () =>
    c.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n'),
  );
  c.on('error', () => undefined);
  await eventually(() => arrived === 2, 'both requests');
  session.destroy();
  c.destroy();
  await eventually(() => late.length === 2, 'both late callbacks');
  assert.deepEqual(late.sort(), ['h1', 'h2']);
});
