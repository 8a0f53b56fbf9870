/**
 * Istio's egress behaviour for HTTP, end to end: the control plane's translation of a sidecar
 * (ALLOW_ANY's allow_any to the dynamic forward proxy, REGISTRY_ONLY's block_all, a Sidecar
 * without egress) served to a real Trellis proxy, and requests through its outbound port.
 * The proxy resolves names through a fake resolver, so no test depends on the machine's DNS.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { Resource } from '../../../src/api/resource.js';
import type { OutboundTrafficPolicyMode } from '../../../src/api/mesh-config.js';
import { TYPE } from '../../../src/protocol/protos.js';
import { FakeAds } from '../../../src/proxy/testing/fake-ads.js';
import { request, startBackend, startMesh, type Backend } from '../../../src/proxy/testing/harness.js';
import type { HostLookup } from '../../../src/proxy/upstream/dns-cache.js';
import { buildPushContext, generate } from '../../../src/xds/translate/index.js';
import { config, endpoint, http, proxy, registry, res, service } from '../../../src/xds/translate/testkit.js';

const REVIEWS = 'reviews.default.svc.cluster.local';
// What the sidecar's translation is for (startProxy's bootstrap: productpage-v1.default).
const SIDECAR = proxy({ namespace: 'default', labels: { app: 'productpage', version: 'v1' } });

interface Egress {
  port: number;
  mesh: Backend;
  external: Backend;
  lookups: string[];
  stats(): string;
}

/** A sidecar configured by the translator: reviews (the mesh) and a host outside it (external). */
async function start(
  t: TestContext,
  opts: { policy?: OutboundTrafficPolicyMode; resources?: Resource[] } = {},
): Promise<Egress> {
  const mesh = await startBackend('reviews');
  const external = await startBackend('external');
  const lookups: string[] = [];
  // api.partner.example is outside the mesh; it resolves to the external server's address.
  const dnsLookup: HostLookup = async (host) => {
    lookups.push(host);
    if (host === 'api.partner.example' || host === 'localhost') return ['127.0.0.1'];
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  };
  // The mesh service listens on the external server's port too: the port has an HTTP listener.
  const push = buildPushContext(
    config(opts.resources ?? []),
    registry(
      [service(REVIEWS, [http(external.port)])],
      [endpoint(REVIEWS, '127.0.0.1', { ports: { [`http-${external.port}`]: mesh.port } })],
    ),
    opts.policy ? { outboundTrafficPolicy: opts.policy, autoMtls: false } : { autoMtls: false },
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

function requests(stats: string, labels: Record<string, string>): number {
  return stats
    .split('\n')
    .filter((l) => l.startsWith('istio_requests_total{'))
    .filter((l) => Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

test('ALLOW_ANY (the default): HTTP for a host the mesh does not know goes to that host, counted as PassthroughCluster', async (t) => {
  const e = await start(t);
  const host = `api.partner.example:${e.external.port}`;
  const res1 = await request(e.port, { host, path: '/v1/orders' });
  assert.equal(res1.status, 200);
  const seen = res1.json<{ backend: string; path: string; headers: Record<string, string> }>();
  assert.equal(seen.backend, 'external');
  assert.equal(seen.path, '/v1/orders');
  // The Host is kept: the external server sees the name it was called by.
  assert.equal(seen.headers.host, host);
  // Mesh names still take the mesh's route (its endpoint, not the Host's address).
  const inMesh = await request(e.port, { host: `reviews:${e.external.port}` });
  assert.equal(inMesh.json<{ backend: string }>().backend, 'reviews');
  const stats = e.stats();
  assert.equal(
    requests(stats, {
      destination_service: 'api.partner.example',
      destination_service_name: 'PassthroughCluster',
      response_code: '200',
      response_flags: '-',
    }),
    1,
  );
  assert.equal(requests(stats, { destination_service_name: 'reviews', response_code: '200' }), 1);
  // The answer is cached: a second call within the refresh rate asks DNS nothing.
  await request(e.port, { host, path: '/again' });
  assert.deepEqual(e.lookups, ['api.partner.example']);
});

test('ALLOW_ANY: a host that does not resolve gets 503 DF with what to do, and nothing is sent', async (t) => {
  const e = await start(t);
  const res1 = await request(e.port, { host: `nowhere.invalid:${e.external.port}` });
  assert.equal(res1.status, 503);
  assert.match(res1.body, /^DNS resolution failure for nowhere\.invalid \(ENOTFOUND\): check the host name/);
  assert.match(res1.body, /ServiceEntry/);
  assert.equal(e.external.hits + e.mesh.hits, 0);
  assert.equal(
    requests(e.stats(), {
      destination_service_name: 'PassthroughCluster',
      response_code: '503',
      response_flags: 'DF',
    }),
    1,
  );
  // Failures are not cached: the next request asks again.
  await request(e.port, { host: `nowhere.invalid:${e.external.port}` });
  assert.deepEqual(e.lookups, ['nowhere.invalid', 'nowhere.invalid']);
});

test('REGISTRY_ONLY (mesh config): unknown hosts get 502 from BlackHoleCluster; no spelling gets through', async (t) => {
  const e = await start(t, { policy: 'REGISTRY_ONLY' });
  const port = e.external.port;
  const attempts = [
    `api.partner.example:${port}`,
    // Not a mesh name, however it is spelled.
    `API.PARTNER.EXAMPLE:${port}`,
    `127.0.0.1:${port}`,
    `localhost:${port}`,
    `${REVIEWS}.evil.example:${port}`,
    `evil.example:${port}`,
  ];
  for (const host of attempts) {
    const r = await request(e.port, { host });
    assert.equal(r.status, 502, host);
  }
  assert.equal(e.external.hits + e.mesh.hits, 0);
  assert.deepEqual(e.lookups, [], 'REGISTRY_ONLY never resolves unknown hosts');
  assert.equal(
    requests(e.stats(), {
      destination_service: 'evil.example',
      destination_service_name: 'BlackHoleCluster',
      response_code: '502',
    }),
    1,
  );
  // The mesh is still reachable.
  const inMesh = await request(e.port, { host: `reviews:${port}` });
  assert.equal(inMesh.status, 200);
  assert.equal(inMesh.json<{ backend: string }>().backend, 'reviews');
});

test("a Sidecar's REGISTRY_ONLY overrides the mesh's ALLOW_ANY, and the other way round", async (t) => {
  const blocked = await start(t, {
    resources: [res('Sidecar', 'default', 'default', { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } })],
  });
  assert.equal(
    (await request(blocked.port, { host: `api.partner.example:${blocked.external.port}` })).status,
    502,
  );
  const allowed = await start(t, {
    policy: 'REGISTRY_ONLY',
    resources: [res('Sidecar', 'default', 'default', { outboundTrafficPolicy: { mode: 'ALLOW_ANY' } })],
  });
  assert.equal(
    (await request(allowed.port, { host: `api.partner.example:${allowed.external.port}` })).status,
    200,
  );
});

test('a Sidecar without egress still sees every service (Istio reads it as */*)', async (t) => {
  const e = await start(t, {
    policy: 'REGISTRY_ONLY',
    resources: [res('Sidecar', 'default', 'default', { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } })],
  });
  const r = await request(e.port, { host: `reviews:${e.external.port}` });
  assert.equal(r.status, 200);
  assert.equal(r.json<{ backend: string }>().backend, 'reviews');
});

test('a port no mesh service uses: ALLOW_ANY passes HTTP through (virtualOutbound), REGISTRY_ONLY answers 502', async (t) => {
  const other = await startBackend('other-port');
  t.after(() => other.close());
  const allow = await start(t);
  const host = `api.partner.example:${other.port}`;
  const r = await request(allow.port, { host, path: '/x' });
  assert.equal(r.status, 200);
  assert.equal(r.json<{ backend: string }>().backend, 'other-port');
  assert.equal(
    requests(allow.stats(), { destination_service_name: 'PassthroughCluster', response_code: '200' }),
    1,
  );
  const block = await start(t, { policy: 'REGISTRY_ONLY' });
  assert.equal((await request(block.port, { host })).status, 502);
  assert.equal((await request(block.port, { host: `127.0.0.1:${other.port}` })).status, 502);
  assert.equal(other.hits, 1);
  assert.equal(
    requests(block.stats(), { destination_service_name: 'BlackHoleCluster', response_code: '502' }),
    2,
  );
});

test("ALLOW_ANY never passes a request back into the sidecar's own listener (it would loop)", async (t) => {
  const e = await start(t);
  // Every spelling of this host: IPv4-mapped IPv6 reached 127.0.0.1 past a string compare and
  // looped until the proxy ran out of file descriptors (found by review).
  for (const host of [
    `127.0.0.1:${e.port}`,
    `localhost:${e.port}`,
    `[::1]:${e.port}`,
    `[::ffff:127.0.0.1]:${e.port}`,
    `[::ffff:7f00:1]:${e.port}`,
    `[0:0:0:0:0:ffff:127.0.0.1]:${e.port}`,
    `0.0.0.0:${e.port}`,
    `127.1.2.3:${e.port}`,
  ]) {
    const r = await request(e.port, { host });
    assert.equal(r.status, 508, host);
    assert.match(r.body, /loop detected: .* call the service by its name/);
  }
  assert.equal(e.external.hits + e.mesh.hits, 0);
});
