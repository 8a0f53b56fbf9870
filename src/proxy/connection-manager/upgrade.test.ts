/**
 * The upgrade tunnel (upgrade.ts) through a real proxy: bytes the client sends while the
 * upstream connection is still being opened must reach the upstream.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import net from 'node:net';
import { FakeAds } from '../testing/fake-ads.js';
import { startBackend, startMesh } from '../testing/harness.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  routeTo,
  virtualHost,
} from '../testing/resources.js';

const C = 'outbound|9080||ws.default.svc.cluster.local';

test('upgrade bytes sent before the upstream is connected are not lost', async (t) => {
  const backend = await startBackend('ws');
  backend.server.on('upgrade', (_req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n');
    // Bytes that came with the request head arrive as `head`, the rest as data.
    if (head.length > 0) socket.write(`echo:${head.toString()}`);
    socket.on('data', (d: Buffer) => socket.write(`echo:${d.toString()}`));
    socket.on('end', () => socket.end());
  });
  const mesh = await startMesh(
    {
      CDS: [edsCluster(C)],
      EDS: [endpoints(C, [{ port: backend.port }])],
      LDS: [httpListener(9080, '9080', { upgradeTypes: ['websocket'] })],
      RDS: [routeConfig('9080', [virtualHost('ws', ['ws:9080'], [routeTo(C)])])],
    },
    {},
    FakeAds,
  );
  // Opening the proxy's connection to the backend takes 150 ms: the client's early bytes arrive
  // at the proxy in the meantime, after the upgrade head was handed over. (The proxy runs in this
  // process, so its net.connect is this one.)
  const realConnect = net.connect;
  let delayed = 0;
  const patched = (...args: unknown[]): net.Socket => {
    const opts = args[0] as net.NetConnectOpts & { port?: number };
    if (typeof opts !== 'object' || opts.port !== backend.port)
      return (realConnect as (...a: unknown[]) => net.Socket)(...args);
    delayed++;
    const socket = new net.Socket();
    setTimeout(() => socket.connect(opts as net.TcpNetConnectOpts), 150);
    return socket;
  };
  (net as { connect: unknown }).connect = patched;
  t.after(async () => {
    (net as { connect: unknown }).connect = realConnect;
    await mesh.close();
    await backend.close();
  });
  const out = await new Promise<string>((resolve, reject) => {
    const c = net.connect(mesh.port, '127.0.0.1', () => {
      c.write('GET /chat HTTP/1.1\r\nHost: ws:9080\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
      // A separate segment, well before the upstream connection exists.
      setTimeout(() => c.write('early'), 40);
    });
    let got = '';
    const deadline = setTimeout(() => {
      c.destroy();
      resolve(got);
    }, 2000);
    c.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.includes('echo:early')) {
        clearTimeout(deadline);
        c.destroy();
        resolve(got);
      }
    });
    c.on('error', reject);
  });
  assert.equal(delayed, 1);
  assert.match(out, /^HTTP\/1.1 101 Switching Protocols\r\n/);
  assert.match(out, /echo:early/);
});
