/**
 * Issue 5 end to end: RateLimit resources applied to a running mesh turn excess requests into
 * 429s with x-ratelimit-* headers and the RL response flag, locally (token bucket in the proxy)
 * and globally (the rate limit service, fed by the control plane), and removing them restores
 * traffic.
 *
 * Everything runs in this process on 127.0.0.1:
 *
 *   client --HTTP_PROXY--> client proxy (outbound capture)
 *                              | outbound|PORT||backend.default.svc.cluster.local -> 127.0.0.1:PORT
 *                              v
 *                          server proxy (inbound capture, bound on PORT)
 *                              | Sidecar ingress PORT -> defaultEndpoint 127.0.0.1:APP
 *                              v
 *                          backend app (127.0.0.1:APP)
 *
 * Without iptables the only way to put a proxy in front of the app on one address is Istio's
 * Sidecar ingress: the service port is the server proxy's inbound capture port, and the ingress
 * listener's defaultEndpoint names the app's real port. Both proxies ask the rate limit service
 * (RateLimitServer + ControlPlaneConfigPoller, as `trellis ratelimit --control-plane` runs).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../src/core/logger.js';
import { seededRandom } from '../../src/core/random.js';
import { TrellisProxy } from '../../src/proxy/proxy.js';
import { request, startBackend, type Backend, type SimpleResponse } from '../../src/proxy/testing/harness.js';
import type { ProxyBootstrap } from '../../src/proxy/xds-client/bootstrap.js';
import { ControlPlaneConfigPoller, RateLimitServer, RateLimitService } from '../../src/ratelimit/index.js';
import { eventually } from '../../src/core/testing/eventually.js';
import { startMesh, type TestMesh } from './helpers/mesh.js';

const HOST = 'backend.default.svc.cluster.local';

let mesh: TestMesh;
let app: Backend;
let clientProxy: TrellisProxy;
let serverProxy: TrellisProxy;
let service: RateLimitService;
let rls: RateLimitServer;
let rlsPort: number;
let poller: ControlPlaneConfigPoller;
/** The backend's service port: the server proxy's inbound capture port. */
let port: number;

const clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimeout: (fn: () => void, ms: number) => {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

function bootstrap(app: string, ip: string): ProxyBootstrap {
  return {
    nodeId: `sidecar~${ip}~${app}-1.default~default.svc.cluster.local`,
    cluster: `${app}.default`,
    mode: 'sidecar',
    namespace: 'default',
    workloadName: `${app}-1`,
    labels: { app },
    instanceIps: [ip],
    locality: '',
  };
}

async function startTrellisProxy(b: ProxyBootstrap): Promise<TrellisProxy> {
  const proxy = new TrellisProxy({
    xds: `127.0.0.1:${mesh.xdsPort}`,
    bootstrap: b,
    version: 'e2e',
    bindAddress: '127.0.0.1',
    adminAddress: '127.0.0.1',
    adminPort: 0,
    outboundPort: 0,
    inboundPort: 0,
    bindListeners: [],
    clock,
    random: seededRandom(5),
    logger: silentLogger,
    accessLogStdout: { write: () => true },
    xdsBackoff: { baseMs: 20, maxMs: 200 },
  });
  await proxy.start();
  return proxy;
}

async function startRls(grpcPort: number): Promise<number> {
  rls = new RateLimitServer({
    service,
    grpcAddress: { host: '127.0.0.1', port: grpcPort },
    httpAddress: null,
  });
  return (await rls.start()).grpc.port;
}

before(async () => {
  app = await startBackend('backend');
  service = new RateLimitService();
  rlsPort = await startRls(0);
  mesh = await startMesh({ debounceMs: 10, rateLimitService: { host: '127.0.0.1', port: rlsPort } });
  poller = new ControlPlaneConfigPoller({ url: mesh.httpUrl, service, pollIntervalMs: 50 });
  poller.start();
  // Client at an address no service lives at: it has outbound listeners only.
  clientProxy = await startTrellisProxy(bootstrap('client', '10.9.0.1'));
  serverProxy = await startTrellisProxy(bootstrap('backend', '127.0.0.1'));
  port = serverProxy.listeners.ports.inbound;
  mesh.apply(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: backend, namespace: default }
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: ${port}, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1, labels: { app: backend } }]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: backend, namespace: default }
spec:
  workloadSelector: { labels: { app: backend } }
  ingress:
  - port: { number: ${port}, name: http, protocol: HTTP }
    defaultEndpoint: 127.0.0.1:${app.port}
`);
  await eventually(async () => (await get('/ready')).status === 200, 'traffic through both proxies');
});

after(async () => {
  poller.close();
  await clientProxy.stop(100);
  await serverProxy.stop(100);
  await rls.stop(100);
  await service.close();
  await mesh.stop();
  await app.close();
});

/** An HTTP_PROXY-style request to the client proxy's outbound capture. */
async function get(path: string, headers: Record<string, string> = {}): Promise<SimpleResponse> {
  return await request(clientProxy.listeners.ports.outbound, {
    host: `${HOST}:${port}`,
    path: `http://${HOST}:${port}${path}`,
    headers,
  });
}

async function statuses(n: number, path: string, headers: Record<string, string> = {}): Promise<number[]> {
  const out: number[] = [];
  // One at a time: the order decides which requests the bucket admits.
  for (let i = 0; i < n; i++) out.push((await get(path, headers)).status);
  return out;
}

async function prometheus(proxy: TrellisProxy): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${proxy.adminPort}/stats/prometheus`);
  return await res.text();
}

/** Sum of istio_requests_total series whose labels include all of `labels`. */
function requestsTotal(text: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('istio_requests_total{')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      sum += Number(line.split(' ').pop());
  }
  return sum;
}

/**
 * Waits until a limit is in force at a proxy, or gone. Its id shows in the routes
 * (RDS, or the inbound listener's inline routes); when present, the listener's filter that
 * acts on it must be there too, since LDS and RDS arrive separately.
 */
async function inForce(
  proxy: TrellisProxy,
  id: string,
  filter: 'local_ratelimit' | 'ratelimit',
): Promise<void> {
  await configHas(proxy, id, true, filter);
}

async function gone(proxy: TrellisProxy, id: string): Promise<void> {
  await configHas(proxy, id, false);
}

async function configHas(
  proxy: TrellisProxy,
  id: string,
  present: boolean,
  filter?: 'local_ratelimit' | 'ratelimit',
): Promise<void> {
  await eventually(
    async () => {
      const res = await fetch(`http://127.0.0.1:${proxy.adminPort}/config_dump`);
      const text = await res.text();
      if (text.includes(id) !== present) return false;
      const kinds = new Set<string>();
      for (const l of proxy.snapshot().listeners.values())
        for (const c of l.filterChains)
          if (c.filter.kind === 'http') for (const f of c.filter.httpFilters) kinds.add(f.kind);
      return filter === undefined || kinds.has(filter);
    },
    `${id} ${present ? 'in' : 'gone from'} the proxy's config`,
  );
}

/** Waits until the rate limit service has loaded the control plane's current revision. */
async function serviceCaughtUp(): Promise<void> {
  await eventually(() => poller.revision() === String(mesh.store.revision), 'rate limit service config');
}

async function rlsMetric(name: string, descriptor: string): Promise<number> {
  const line = service.metrics
    .render()
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) && l.includes(`descriptor="${descriptor}"`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

test('local, client side: N requests per minute pass, the rest get 429 with headers and RL', async () => {
  mesh.apply(`apiVersion: trellis.io/v1alpha1
kind: RateLimit
metadata: { name: local-client, namespace: default }
spec:
  hosts: [backend]
  mode: local
  side: client
  limits:
  - name: slow
    match: { path: { prefix: /slow } }
    quota: { requests: 3, per: minute }
`);
  await inForce(clientProxy, 'default.local-client.slow', 'local_ratelimit');
  const before = requestsTotal(await prometheus(clientProxy), { response_flags: 'RL' });

  const got = await statuses(5, '/slow/x');
  assert.deepEqual(got, [200, 200, 200, 429, 429]);
  const limited = await get('/slow/y');
  assert.equal(limited.status, 429);
  assert.equal(limited.headers['x-envoy-ratelimited'], 'true');
  assert.equal(limited.headers['x-ratelimit-limit'], '3');
  assert.equal(limited.headers['x-ratelimit-remaining'], '0');
  assert.ok(Number(limited.headers['x-ratelimit-reset']) > 0, 'reset names the seconds until a refill');
  assert.equal(
    requestsTotal(await prometheus(clientProxy), { response_flags: 'RL', response_code: '429' }) - before,
    3,
  );

  // Another path is not limited, and the limit is the client's: the app saw only admitted calls.
  assert.deepEqual(await statuses(5, '/fast'), [200, 200, 200, 200, 200]);

  mesh.remove('RateLimit', 'local-client');
  await gone(clientProxy, 'default.local-client.slow');
  assert.deepEqual(await statuses(4, '/slow/x'), [200, 200, 200, 200]);
});

test('global, client side, per user: each x-user gets its own quota from the rate limit service', async () => {
  mesh.apply(`apiVersion: trellis.io/v1alpha1
kind: RateLimit
metadata: { name: per-user, namespace: default }
spec:
  hosts: [backend]
  mode: global
  side: client
  limits:
  - name: api
    match: { path: { prefix: /api } }
    quota: { requests: 2, per: minute }
    perKey: { header: x-user }
`);
  await inForce(clientProxy, 'default.per-user.api', 'ratelimit');
  await serviceCaughtUp();

  assert.deepEqual(await statuses(3, '/api/a', { 'x-user': 'alice' }), [200, 200, 429]);
  assert.deepEqual(await statuses(3, '/api/b', { 'x-user': 'bob' }), [200, 200, 429]);
  const limited = await get('/api/a', { 'x-user': 'alice' });
  assert.equal(limited.status, 429);
  assert.equal(limited.headers['x-envoy-ratelimited'], 'true');
  assert.equal(limited.headers['x-ratelimit-limit'], '2, 2;w=60');
  assert.equal(limited.headers['x-ratelimit-remaining'], '0');
  assert.ok(Number(limited.headers['x-ratelimit-reset']) > 0);
  const ok = await get('/fast', { 'x-user': 'alice' });
  assert.equal(ok.status, 200, 'a path outside the limit is not counted');
  assert.ok(
    requestsTotal(await prometheus(clientProxy), { response_flags: 'RL', response_code: '429' }) >= 3,
  );

  mesh.remove('RateLimit', 'per-user');
  await gone(clientProxy, 'default.per-user.api');
  assert.deepEqual(await statuses(3, '/api/a', { 'x-user': 'alice' }), [200, 200, 200]);
});

test('global shadow mode: nothing is rejected, the service counts the shadow hits', async () => {
  mesh.apply(`apiVersion: trellis.io/v1alpha1
kind: RateLimit
metadata: { name: shadow, namespace: default }
spec:
  hosts: [backend]
  mode: global
  side: client
  shadow: true
  limits:
  - name: all
    quota: { requests: 1, per: minute }
`);
  await inForce(clientProxy, 'default.shadow.all', 'ratelimit');
  await serviceCaughtUp();
  const before = await rlsMetric('trellis_ratelimit_shadow_mode', 'generic_key_default.shadow.all');
  assert.deepEqual(await statuses(4, '/shadowed'), [200, 200, 200, 200]);
  const after = await rlsMetric('trellis_ratelimit_shadow_mode', 'generic_key_default.shadow.all');
  assert.equal(after - before, 3);
  mesh.remove('RateLimit', 'shadow');
  await gone(clientProxy, 'default.shadow.all');
});

test('global: the rate limit service down fails open; back up, it limits again', async () => {
  mesh.apply(`apiVersion: trellis.io/v1alpha1
kind: RateLimit
metadata: { name: outage, namespace: default }
spec:
  hosts: [backend]
  mode: global
  side: client
  limits:
  - name: all
    match: { path: { prefix: /outage } }
    quota: { requests: 1, per: minute }
`);
  await inForce(clientProxy, 'default.outage.all', 'ratelimit');
  await serviceCaughtUp();
  assert.deepEqual(await statuses(2, '/outage'), [200, 429]);

  await rls.stop(100);
  assert.deepEqual(await statuses(3, '/outage'), [200, 200, 200], 'failure_mode_deny is false');

  await startRls(rlsPort);
  // The counters live in the service, which kept them: the quota is still spent.
  await eventually(async () => (await get('/outage')).status === 429, 'limited again');
  mesh.remove('RateLimit', 'outage');
  await gone(clientProxy, 'default.outage.all');
});

test('server side: the backend proxy enforces local and global limits on what arrives', async () => {
  mesh.apply(`apiVersion: trellis.io/v1alpha1
kind: RateLimit
metadata: { name: server-local, namespace: default }
spec:
  hosts: [backend]
  mode: local
  limits:
  - name: admin
    match: { path: { prefix: /admin } }
    quota: { requests: 2, per: minute }
---
apiVersion: trellis.io/v1alpha1
kind: RateLimit
metadata: { name: server-global, namespace: default }
spec:
  hosts: [backend]
  mode: global
  limits:
  - name: report
    match: { path: { prefix: /report } }
    quota: { requests: 1, per: minute }
`);
  await inForce(serverProxy, 'default.server-local.admin', 'local_ratelimit');
  await inForce(serverProxy, 'default.server-global.report', 'ratelimit');
  await serviceCaughtUp();
  const rlBefore = requestsTotal(await prometheus(serverProxy), {
    reporter: 'destination',
    response_flags: 'RL',
  });
  const hitsBefore = app.hits;

  assert.deepEqual(await statuses(3, '/admin'), [200, 200, 429]);
  assert.deepEqual(await statuses(2, '/report'), [200, 429]);
  assert.deepEqual(await statuses(2, '/other'), [200, 200]);
  const limited = await get('/admin');
  assert.equal(limited.status, 429);
  assert.equal(limited.headers['x-ratelimit-limit'], '2');
  assert.equal(limited.headers['x-ratelimit-remaining'], '0');
  // Rejected at the server's proxy: the app saw only what was admitted, the client's proxy
  // relayed the 429 (no RL of its own), the server's proxy flagged it.
  assert.equal(app.hits - hitsBefore, 5);
  const server = await prometheus(serverProxy);
  assert.equal(requestsTotal(server, { reporter: 'destination', response_flags: 'RL' }) - rlBefore, 3);

  mesh.remove('RateLimit', 'server-local');
  mesh.remove('RateLimit', 'server-global');
  await gone(serverProxy, 'default.server-local.admin');
  await gone(serverProxy, 'default.server-global.report');
  assert.deepEqual(await statuses(3, '/admin'), [200, 200, 200]);
  assert.deepEqual(await statuses(2, '/report'), [200, 200]);
});
