/**
 * The Gateway API end to end: Gateway API YAML applied to a real control plane (the gateway-api
 * derivation turns it into Istio Gateways and VirtualServices), a Trellis gateway proxy serving
 * the Gateway's listener, a Trellis sidecar for the GAMMA routes, and real HTTP backends. Weights,
 * header matches, redirects, rewrites, mirrors, and cross-namespace backends allowed and refused
 * by ReferenceGrant.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { eventually } from '../../../src/core/testing/eventually.js';
import { silentLogger } from '../../../src/core/logger.js';
import { seededRandom } from '../../../src/core/random.js';
import { TrellisProxy } from '../../../src/proxy/proxy.js';
import { request, startBackend, type Backend } from '../../../src/proxy/testing/harness.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { realClock, startSidecar, viaSidecar } from '../helpers/sidecar.js';

let mesh: TestMesh;
let gateway: TrellisProxy;
let sidecar: TrellisProxy;
let gwPort: number;
let tcpPort: number;
let echo: net.Server;
let echoPort: number;
const backends: Record<string, Backend> = {};
const NAMES = ['v1', 'v2', 'shadow', 'db', 'reviews', 'reviews-v2'] as const;

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

/** A MESH_INTERNAL ServiceEntry for `<name>.<ns>.svc.cluster.local` on the backend's port. */
function serviceEntry(name: string, ns: string, backend: Backend): string {
  return `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: ${ns} }
spec:
  hosts: [${name}.${ns}.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: ${backend.port}, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1 }]
`;
}

const get = (path: string, headers: Record<string, string> = {}, host = 'shop.example.com') =>
  request(gwPort, { host, path, headers });
const backendOf = (body: string) => (JSON.parse(body) as { backend: string }).backend;

before(async () => {
  for (const n of NAMES) backends[n] = await startBackend(n);
  gwPort = await freePort();
  tcpPort = await freePort();
  echo = net.createServer((socket) => socket.on('data', (d) => socket.write(`echo:${d.toString()}`)));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  echoPort = (echo.address() as net.AddressInfo).port;
  mesh = await startMesh();
  const b = backends as Record<(typeof NAMES)[number], Backend>;
  mesh.apply(
    serviceEntry('v1', 'shop', b.v1) +
      serviceEntry('v2', 'shop', b.v2) +
      serviceEntry('shadow', 'shop', b.shadow) +
      serviceEntry('db', 'data', b.db) +
      serviceEntry('reviews', 'default', b.reviews) +
      serviceEntry('reviews-v2', 'default', b['reviews-v2']) +
      `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: web, namespace: infra }
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    port: ${gwPort}
    protocol: HTTP
    hostname: "*.example.com"
    allowedRoutes: { namespaces: { from: All } }
  - name: tcp
    port: ${tcpPort}
    protocol: TCP
    allowedRoutes: { namespaces: { from: All } }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: echo, namespace: shop }
spec:
  hosts: [echo.shop.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: ${echoPort}, name: tcp, protocol: TCP }]
  endpoints: [{ address: 127.0.0.1 }]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: { name: echo, namespace: shop }
spec:
  parentRefs: [{ name: web, namespace: infra, sectionName: tcp }]
  rules: [{ backendRefs: [{ name: echo, port: ${echoPort} }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: shop, namespace: shop }
spec:
  parentRefs: [{ name: web, namespace: infra }]
  hostnames: [shop.example.com]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /split } }]
    backendRefs: [{ name: v1, port: ${b.v1.port}, weight: 1 }, { name: v2, port: ${b.v2.port}, weight: 1 }]
  - matches: [{ path: { type: PathPrefix, value: /app }, headers: [{ name: x-version, value: v2 }] }]
    backendRefs: [{ name: v2, port: ${b.v2.port} }]
  - matches: [{ path: { type: PathPrefix, value: /app } }]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: { set: [{ name: x-from, value: gateway-api }], remove: [x-secret] }
    - type: ResponseHeaderModifier
      responseHeaderModifier: { add: [{ name: x-served-by, value: trellis }] }
    - type: RequestMirror
      requestMirror: { backendRef: { name: shadow, port: ${b.shadow.port} } }
    backendRefs: [{ name: v1, port: ${b.v1.port} }]
  - matches: [{ path: { type: Exact, value: /old } }]
    filters:
    - type: RequestRedirect
      requestRedirect: { scheme: https, hostname: new.example.com, path: { type: ReplaceFullPath, replaceFullPath: /new }, statusCode: 301 }
  - matches: [{ path: { type: Exact, value: /insecure } }]
    filters: [{ type: RequestRedirect, requestRedirect: { scheme: https } }]
  - matches: [{ path: { type: PathPrefix, value: /legacy } }]
    filters:
    - type: URLRewrite
      urlRewrite: { hostname: internal.example.com, path: { type: ReplacePrefixMatch, replacePrefixMatch: /v2 } }
    backendRefs: [{ name: v1, port: ${b.v1.port} }]
  - matches: [{ path: { type: PathPrefix, value: /data } }]
    backendRefs: [{ name: db, namespace: data, port: ${b.db.port} }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: every-host, namespace: shop }
spec:
  parentRefs: [{ name: web, namespace: infra }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /fallback } }]
    backendRefs: [{ name: v2, port: ${b.v2.port} }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: reviews, namespace: default }
spec:
  parentRefs: [{ group: "", kind: Service, name: reviews, port: ${b.reviews.port} }]
  rules:
  - matches: [{ headers: [{ name: x-trellis-lane, value: feature-x }] }]
    backendRefs: [{ name: reviews-v2, port: ${b['reviews-v2'].port} }]
  - backendRefs: [{ name: reviews, port: ${b.reviews.port} }]
`,
  );
  gateway = new TrellisProxy({
    xds: `127.0.0.1:${mesh.xdsPort}`,
    bootstrap: {
      nodeId: 'router~127.0.0.1~web-gw-1.infra~infra.svc.cluster.local',
      cluster: 'web-gw.infra',
      mode: 'gateway',
      namespace: 'infra',
      workloadName: 'web-gw',
      labels: { 'gateway.networking.k8s.io/gateway-name': 'web' },
      instanceIps: ['127.0.0.1'],
      locality: '',
    },
    version: 'test',
    bindAddress: '127.0.0.1',
    adminAddress: '127.0.0.1',
    adminPort: 0,
    outboundPort: 0,
    inboundPort: 0,
    bindListeners: [gwPort, tcpPort],
    clock: realClock,
    random: seededRandom(5),
    logger: silentLogger,
    accessLogStdout: { write: () => true },
    xdsBackoff: { baseMs: 20, maxMs: 200 },
  });
  await gateway.start();
  sidecar = await startSidecar(mesh.xdsPort, { app: 'productpage' });
  await eventually(async () => (await get('/app')).status === 200, {
    what: 'the gateway serves the HTTPRoute',
    timeoutMs: 20_000,
  });
});

after(async () => {
  await gateway?.stop(100);
  await sidecar?.stop(100);
  await mesh?.stop();
  for (const b of Object.values(backends)) await b.close();
  await new Promise<void>((r) => (echo ? echo.close(() => r()) : r()));
});

/** One TCP exchange through the gateway's TCP listener: what came back, or '' on a reset. */
async function tcpExchange(text: string): Promise<string> {
  return await new Promise<string>((resolve) => {
    const s = net.connect(tcpPort, '127.0.0.1', () => s.write(text));
    s.setTimeout(2000, () => s.destroy());
    s.once('data', (d) => {
      resolve(d.toString());
      s.destroy();
    });
    s.on('error', () => resolve(''));
    s.on('close', () => resolve(''));
  });
}

test('weighted backendRefs split the traffic between both backends', async () => {
  const seen = { v1: 0, v2: 0 } as Record<string, number>;
  for (let i = 0; i < 60; i++) {
    const r = await get('/split');
    assert.equal(r.status, 200);
    seen[backendOf(r.body)] = (seen[backendOf(r.body)] ?? 0) + 1;
  }
  assert.ok(
    seen.v1! > 5 && seen.v2! > 5,
    `both backends take a share of 1:1 weights: ${JSON.stringify(seen)}`,
  );
});

test('a header match picks its rule; without the header the request falls to the next rule', async () => {
  assert.equal(backendOf((await get('/app', { 'x-version': 'v2' })).body), 'v2');
  assert.equal(backendOf((await get('/app', { 'x-version': 'v3' })).body), 'v1');
  assert.equal(backendOf((await get('/app/deeper')).body), 'v1');
});

test('PathPrefix matches whole path segments: /application is not under /app', async () => {
  assert.equal((await get('/application')).status, 404);
});

test('header modifiers change the request and the response', async () => {
  const r = await get('/app', { 'x-secret': 'hunter2' });
  const seen = JSON.parse(r.body) as { headers: Record<string, string> };
  assert.equal(seen.headers['x-from'], 'gateway-api');
  assert.equal(seen.headers['x-secret'], undefined);
  assert.equal(r.headers['x-served-by'], 'trellis');
});

test('RequestMirror sends a copy to the mirror backend', async () => {
  const before = backends.shadow!.hits;
  await get('/app/mirrored');
  await eventually(() => backends.shadow!.hits > before, 'the mirror receives a copy');
});

test('RequestRedirect answers with the location and status code', async () => {
  const r = await get('/old');
  assert.equal(r.status, 301);
  assert.equal(r.headers.location, 'https://new.example.com/new');
});

test('a redirect to another scheme goes to its well-known port, keeping host and path', async () => {
  const r = await get('/insecure?x=1');
  assert.equal(r.status, 302, "the API's default status code");
  assert.equal(r.headers.location, 'https://shop.example.com/insecure?x=1');
});

test('URLRewrite replaces the matched prefix and the host', async () => {
  for (const [path, want] of [
    ['/legacy', '/v2'],
    ['/legacy/items?x=1', '/v2/items?x=1'],
  ] as const) {
    const seen = JSON.parse((await get(path)).body) as { path: string; headers: Record<string, string> };
    assert.equal(seen.path, want, path);
    assert.equal(seen.headers.host, 'internal.example.com');
  }
});

test("a route for every host serves a host another route names, after that route's rules", async () => {
  assert.equal(backendOf((await get('/fallback')).body), 'v2');
  assert.equal(backendOf((await get('/fallback', {}, 'other.example.com')).body), 'v2');
  assert.equal(
    (await get('/app', {}, 'other.example.com')).status,
    404,
    "shop.example.com's rules stay its own",
  );
});

test('a listener hostname admits only its hosts', async () => {
  assert.equal((await get('/app', {}, 'shop.example.org')).status, 404);
});

test('a backend in another namespace answers 500 until a ReferenceGrant there allows it', async () => {
  assert.equal((await get('/data')).status, 500);
  assert.equal(backends.db!.hits, 0, 'the refused backend is never reached');
  const status = (await (await fetch(`${mesh.httpUrl}/v1/config/httproutes/shop/shop`)).json()) as {
    status?: { parents: { conditions: { type: string; status: string; reason: string }[] }[] };
  };
  const resolved = status.status?.parents[0]?.conditions.find((c) => c.type === 'ResolvedRefs');
  assert.equal(resolved?.reason, 'RefNotPermitted', 'the route says why');
  // A grant for another kind or from another namespace changes nothing.
  mesh.apply(`apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: { name: wrong, namespace: data }
spec:
  from: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: elsewhere }, { group: gateway.networking.k8s.io, kind: GRPCRoute, namespace: shop }]
  to: [{ group: "", kind: Service }]
`);
  mesh.cp.flushNow();
  assert.equal((await get('/data')).status, 500);
  mesh.apply(`apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: { name: shop-routes, namespace: data }
spec:
  from: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: shop }]
  to: [{ group: "", kind: Service, name: db }]
`);
  await eventually(async () => (await get('/data')).status === 200, 'the granted backend is reached');
  assert.equal(backendOf((await get('/data')).body), 'db');
  mesh.remove('ReferenceGrant', 'shop-routes', 'data');
  await eventually(
    async () => (await get('/data')).status === 500,
    'withdrawing the grant cuts it off again',
  );
});

test('GAMMA: an HTTPRoute with a Service parent routes sidecar traffic to that service', async () => {
  const host = `reviews.default.svc.cluster.local:${backends.reviews!.port}`;
  await eventually(
    async () => (await viaSidecar(sidecar, host, '/', { 'x-trellis-lane': 'feature-x' })).status === 200,
    { what: 'the sidecar has the route', timeoutMs: 20_000 },
  );
  assert.equal(
    backendOf((await viaSidecar(sidecar, host, '/', { 'x-trellis-lane': 'feature-x' })).body),
    'reviews-v2',
  );
  assert.equal(backendOf((await viaSidecar(sidecar, host, '/')).body), 'reviews');
});

test("a TCPRoute carries a TCP listener's connections to its backend", async () => {
  await eventually(async () => (await tcpExchange('ping')) === 'echo:ping', {
    what: 'the TCP listener forwards',
    timeoutMs: 20_000,
  });
});
