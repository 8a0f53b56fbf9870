import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { FakeAds } from '../testing/fake-ads.js';
import { eventually } from '../../core/testing/eventually.js';
import { request, startBackend, startMesh } from '../testing/harness.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  routeTo,
  tcpListener,
  virtualHost,
} from '../testing/resources.js';

const A = 'outbound|9080|a|svc.default.svc.cluster.local';
const B = 'outbound|9080|b|svc.default.svc.cluster.local';

function slow(name: string, ms: number): Parameters<typeof startBackend>[1] {
  return (req, res) => {
    req.resume();
    const timer = setTimeout(() => res.end(name), ms);
    res.on('close', () => clearTimeout(timer));
  };
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test('a route and listener change while requests are in flight lets all of them complete', async (t) => {
  const a = await startBackend('a', slow('a', 300));
  const b = await startBackend('b', slow('b', 1));
  const mesh = await startMesh(
    {
      CDS: [edsCluster(A), edsCluster(B)],
      EDS: [endpoints(A, [{ port: a.port }]), endpoints(B, [{ port: b.port }])],
      LDS: [httpListener(9080)],
      RDS: [routeConfig('9080', [virtualHost('svc', ['svc:9080'], [routeTo(A)])])],
    },
    {},
    FakeAds,
  );
  t.after(async () => {
    await mesh.close();
    await a.close();
    await b.close();
  });
  const inFlight = Array.from({ length: 20 }, () => request(mesh.port, { host: 'svc:9080' }));
  await eventually(() => a.hits === 20, 'requests reached backend a');
  mesh.ads.set('LDS', [httpListener(9080, '9080-v2')]);
  mesh.ads.set('RDS', [routeConfig('9080-v2', [virtualHost('svc', ['svc:9080'], [routeTo(B)])])]);
  await mesh.ads.waitForAck('RDS');
  await eventually(async () => (await request(mesh.port, { host: 'svc:9080' })).body === 'b', 'new route');
  const results = await Promise.all(inFlight);
  assert.deepEqual(
    results.map((r) => `${r.status} ${r.body}`),
    Array.from({ length: 20 }, () => '200 a'),
  );
});

test('bound gateway listeners: HTTP, TCP proxy, and draining on removal', async (t) => {
  const a = await startBackend('a', slow('a', 300));
  const echo = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  const echoPort = (echo.address() as net.AddressInfo).port;
  const TCP = 'outbound|7000||echo.default.svc.cluster.local';
  const httpPort = await freePort();
  const tcpPort = await freePort();
  const mesh = await startMesh(
    {
      CDS: [edsCluster(A), edsCluster(TCP)],
      EDS: [endpoints(A, [{ port: a.port }]), endpoints(TCP, [{ port: echoPort }])],
      LDS: [httpListener(httpPort, 'gw'), tcpListener(tcpPort, TCP)],
      RDS: [routeConfig('gw', [virtualHost('any', ['*'], [routeTo(A)])])],
    },
    { bindListeners: [httpPort, tcpPort] },
    FakeAds,
  );
  t.after(async () => {
    await mesh.close();
    await a.close();
    await new Promise<void>((r) => echo.close(() => r()));
  });
  await eventually(() => mesh.proxy.listeners.ports.byListener.size === 2, 'listeners bound');
  assert.equal((await request(httpPort, { host: 'bookinfo.example.com' })).body, 'a');

  const echoed = await new Promise<string>((resolve, reject) => {
    const c = net.connect(tcpPort, '127.0.0.1', () => c.write('ping'));
    c.on('data', (d: Buffer) => {
      resolve(d.toString());
      c.end();
    });
    c.on('error', reject);
  });
  assert.equal(echoed, 'ping');

  const pending = request(httpPort, { host: 'bookinfo.example.com' });
  await eventually(() => a.hits === 2, 'slow request in flight');
  mesh.ads.set('LDS', [tcpListener(tcpPort, TCP)]);
  await mesh.ads.waitForAck('LDS');
  assert.equal((await pending).body, 'a', 'the in-flight request finished on the removed listener');
  await eventually(async () => {
    try {
      await request(httpPort, { host: 'x' });
      return false;
    } catch {
      return true;
    }
  }, 'removed listener stops accepting');
});
