/**
 * The Trellis extension `trellis.io/route-by-destination` (xds/translate/keep-host.ts): a request
 * sent to one address with another Host (a Host passed through from the original caller) is
 * routed by the address and keeps its Host. Through a real proxy configured by the translator,
 * with requests as an HTTP_PROXY client sends them (absolute-form targets).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import type { Resource } from '../../../src/api/resource.js';
import type { OutboundTrafficPolicyMode } from '../../../src/api/mesh-config.js';
import { TYPE } from '../../../src/protocol/protos.js';
import { FakeAds } from '../../../src/proxy/testing/fake-ads.js';
import { startBackend, startMesh } from '../../../src/proxy/testing/harness.js';
import type { HostLookup } from '../../../src/proxy/upstream/dns-cache.js';
import { buildPushContext, generate } from '../../../src/xds/translate/index.js';
import { config, endpoint, http, proxy, registry, res, service } from '../../../src/xds/translate/testkit.js';

const REVIEWS = 'reviews.default.svc.cluster.local';
const SIDECAR = proxy({ namespace: 'default', labels: { app: 'productpage', version: 'v1' } });

function sidecar(optIn: boolean, policy?: OutboundTrafficPolicyMode): Resource {
  const r = res('Sidecar', 'default', 'default', policy ? { outboundTrafficPolicy: { mode: policy } } : {});
  if (optIn) r.metadata.annotations = { 'trellis.io/route-by-destination': 'true' };
  return r;
}

async function start(t: TestContext, resources: Resource[]) {
  const mesh = await startBackend('reviews');
  const external = await startBackend('external');
  const lookups: string[] = [];
  const dnsLookup: HostLookup = async (host) => {
    lookups.push(host);
    if (host === 'api.partner.example') return ['127.0.0.1'];
    throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
  };
  const push = buildPushContext(
    config(resources),
    registry(
      [service(REVIEWS, [http(external.port)])],
      [endpoint(REVIEWS, '127.0.0.1', { ports: { [`http-${external.port}`]: mesh.port } })],
    ),
    { autoMtls: false },
  );
  const all = (type: Parameters<typeof generate>[2]) => [...generate(push, SIDECAR, type).values()];
  const running = await startMesh(
    { CDS: all(TYPE.cluster), EDS: all(TYPE.endpoint), LDS: all(TYPE.listener), RDS: all(TYPE.route) },
    { dnsLookup },
    FakeAds,
  );
  t.after(async () => {
    await running.close();
    await mesh.close();
    await external.close();
  });
  return { port: running.port, mesh, external, lookups, stats: () => running.proxy.stats.prometheus() };
}

/** One HTTP/1.1 request as an HTTP_PROXY client sends it: the address in the target, any Host. */
async function viaProxy(
  port: number,
  target: string,
  host: string,
): Promise<{ status: number; backend?: string; host?: string }> {
  const raw = await new Promise<string>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () =>
      s.write(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
    );
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('close', () => resolve(got));
    s.on('error', reject);
  });
  const status = Number(/^HTTP\/1\.1 (\d+)/.exec(raw)?.[1] ?? 0);
  // The JSON body, whether it came with a length or chunked.
  const body = raw.slice(raw.indexOf('{'), raw.lastIndexOf('}') + 1);
  if (status !== 200) return { status };
  const seen = JSON.parse(body) as { backend: string; headers: Record<string, string> };
  return { status, backend: seen.backend, host: seen.headers.host };
}

test('opted in: a request sent to a mesh address with a foreign Host reaches that service with its Host', async (t) => {
  const e = await start(t, [sidecar(true)]);
  const target = `http://reviews:${e.external.port}/orders`;
  assert.deepEqual(await viaProxy(e.port, target, 'shop.customer.com'), {
    status: 200,
    backend: 'reviews',
    host: 'shop.customer.com',
  });
  // Counted as the service it was routed to.
  assert.match(
    e.stats(),
    /destination_service="reviews\.default\.svc\.cluster\.local"[^}]*response_code="200"/,
  );
  // A request whose Host agrees with its target is unchanged.
  const same = `reviews:${e.external.port}`;
  assert.deepEqual(await viaProxy(e.port, `http://${same}/`, same), {
    status: 200,
    backend: 'reviews',
    host: same,
  });
});

test('without the annotation the Host is the address (as Envoy does), routing is the same', async (t) => {
  const e = await start(t, [sidecar(false)]);
  const r = await viaProxy(e.port, `http://reviews:${e.external.port}/`, 'shop.customer.com');
  assert.deepEqual(r, { status: 200, backend: 'reviews', host: `reviews:${e.external.port}` });
});

test('opted in, outside the mesh: the address is what is resolved, the Host is kept', async (t) => {
  const e = await start(t, [sidecar(true)]);
  const r = await viaProxy(e.port, `http://api.partner.example:${e.external.port}/`, 'shop.customer.com');
  assert.deepEqual(r, { status: 200, backend: 'external', host: 'shop.customer.com' });
  assert.deepEqual(e.lookups, ['api.partner.example']);
});

test('opted in with REGISTRY_ONLY: the Host cannot smuggle a request to an unknown address, nor block a known one', async (t) => {
  const e = await start(t, [sidecar(true, 'REGISTRY_ONLY')]);
  const port = e.external.port;
  // The address decides: an unknown one is blocked even with a mesh name as Host.
  assert.equal(
    (await viaProxy(e.port, `http://api.partner.example:${port}/`, `reviews:${port}`)).status,
    502,
  );
  assert.equal((await viaProxy(e.port, `http://127.0.0.1:${port}/`, `reviews:${port}`)).status, 502);
  assert.equal(e.external.hits, 0);
  assert.deepEqual(e.lookups, []);
  // A mesh address with a foreign Host is the mesh's traffic.
  const r = await viaProxy(e.port, `http://reviews:${port}/`, 'evil.example');
  assert.deepEqual(r, { status: 200, backend: 'reviews', host: 'evil.example' });
});

test('opted in, HTTP/2: a host header that differs from :authority cannot replace the name routing used', async (t) => {
  const e = await start(t, [sidecar(true)]);
  const http2 = await import('node:http2');
  const session = http2.connect(`http://127.0.0.1:${e.port}`);
  t.after(() => session.close());
  const authority = `reviews:${e.external.port}`;
  const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = session.request({
      ':method': 'GET',
      ':path': '/',
      ':authority': authority,
      host: 'admin.internal',
    });
    let data = '';
    let code = 0;
    req.on('response', (h) => (code = Number(h[':status'])));
    req.on('data', (d: Buffer) => (data += d.toString()));
    req.on('end', () => resolve({ status: code, body: data }));
    req.on('error', reject);
    req.end();
  });
  assert.equal(status, 200);
  const seen = JSON.parse(body) as { backend: string; headers: Record<string, string> };
  assert.equal(seen.backend, 'reviews');
  assert.equal(seen.headers.host, authority, 'the upstream sees the name the request was routed by');
});
