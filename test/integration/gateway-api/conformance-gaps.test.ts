/**
 * Gateway API behaviour the conformance suite checks, through a real control plane and a real
 * Trellis gateway proxy: an invalid backend's share of weighted traffic is answered 500 while the
 * rest flows (and a Service registered later is found without touching the route);
 * ReplacePrefixMatch rewrites and redirects with the `/prefix` vs `/prefix/` edge cases of
 * httproute-rewrite-path and httproute-redirect-path; a redirect without scheme and port goes to
 * the listener's port; a listener conflicting with another on its port is not served while the
 * other is.
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
import { realClock } from '../helpers/sidecar.js';

let mesh: TestMesh;
let gateway: TrellisProxy;
let webPort: number;
let altPort: number;
let echo: net.Server;
let echoPort: number;
let v1: Backend;
let late: Backend;
let db: Backend;

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

function serviceEntry(name: string, ns: string, port: number, protocol = 'HTTP'): string {
  return `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: ${ns} }
spec:
  hosts: [${name}.${ns}.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: ${port}, name: ${protocol.toLowerCase()}, protocol: ${protocol} }]
  endpoints: [{ address: 127.0.0.1 }]
`;
}

const get = (path: string, port = webPort, host = 'shop.example.com') => request(port, { host, path });
const seenPath = (body: string) => (JSON.parse(body) as { path: string }).path;

type Conditions = { type: string; status: string; reason: string; message: string }[];
async function routeStatus(name: string, kind = 'httproutes', ns = 'shop'): Promise<Conditions> {
  const r = (await (await fetch(`${mesh.httpUrl}/v1/config/${kind}/${ns}/${name}`)).json()) as {
    status?: { parents: { conditions: Conditions }[] };
  };
  return r.status?.parents[0]?.conditions ?? [];
}
const reasonOf = (c: Conditions, type: string) => c.find((x) => x.type === type)?.reason;

before(async () => {
  v1 = await startBackend('v1');
  late = await startBackend('late');
  db = await startBackend('db');
  webPort = await freePort();
  altPort = await freePort();
  echo = net.createServer((socket) => socket.on('data', (d) => socket.write(`echo:${d.toString()}`)));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  echoPort = (echo.address() as net.AddressInfo).port;
  mesh = await startMesh();
  mesh.apply(
    serviceEntry('v1', 'shop', v1.port) +
      serviceEntry('db', 'data', db.port) +
      serviceEntry('echo', 'shop', echoPort, 'TCP') +
      `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: web, namespace: infra }
spec:
  gatewayClassName: istio
  listeners:
  - { name: http, port: ${webPort}, protocol: HTTP, allowedRoutes: { namespaces: { from: All } } }
  - { name: raw, port: ${webPort}, protocol: TCP, allowedRoutes: { namespaces: { from: All } } }
  - { name: alt, port: ${altPort}, protocol: HTTP, hostname: alt.example.com, allowedRoutes: { namespaces: { from: All } } }
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: { name: echo, namespace: shop }
spec:
  parentRefs: [{ name: web, namespace: infra, sectionName: raw }]
  rules: [{ backendRefs: [{ name: echo, port: ${echoPort} }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: shop, namespace: shop }
spec:
  parentRefs: [{ name: web, namespace: infra, sectionName: http }]
  hostnames: [shop.example.com]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /half-missing } }]
    backendRefs: [{ name: v1, port: ${v1.port}, weight: 1 }, { name: late, port: ${late.port}, weight: 1 }]
  - matches: [{ path: { type: PathPrefix, value: /half-refused } }]
    backendRefs: [{ name: v1, port: ${v1.port}, weight: 1 }, { name: db, namespace: data, port: ${db.port}, weight: 1 }]
  - matches: [{ path: { type: PathPrefix, value: /prefix/one } }]
    filters: [{ type: URLRewrite, urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /one } } }]
    backendRefs: [{ name: v1, port: ${v1.port} }]
  - matches: [{ path: { type: PathPrefix, value: /strip-prefix } }]
    filters: [{ type: URLRewrite, urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: / } } }]
    backendRefs: [{ name: v1, port: ${v1.port} }]
  - matches: [{ path: { type: PathPrefix, value: /trailing/ } }]
    filters: [{ type: URLRewrite, urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /xyz/ } } }]
    backendRefs: [{ name: v1, port: ${v1.port} }]
  - matches: [{ path: { type: PathPrefix, value: /full/one } }]
    filters: [{ type: URLRewrite, urlRewrite: { path: { type: ReplaceFullPath, replaceFullPath: /one } } }]
    backendRefs: [{ name: v1, port: ${v1.port} }]
  - matches: [{ path: { type: PathPrefix, value: /original-prefix } }]
    filters: [{ type: RequestRedirect, requestRedirect: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix } } }]
  - matches: [{ path: { type: PathPrefix, value: /path-and-host } }]
    filters: [{ type: RequestRedirect, requestRedirect: { hostname: example.org, path: { type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix } } }]
  - matches: [{ path: { type: PathPrefix, value: /port-80 } }]
    filters: [{ type: RequestRedirect, requestRedirect: { hostname: example.org, port: 80 } }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: alt, namespace: shop }
spec:
  parentRefs: [{ name: web, namespace: infra, sectionName: alt }]
  rules: [{ backendRefs: [{ name: v1, port: ${v1.port} }] }]
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
    bindListeners: [webPort, altPort],
    clock: realClock,
    random: seededRandom(7),
    logger: silentLogger,
    accessLogStdout: { write: () => true },
    xdsBackoff: { baseMs: 20, maxMs: 200 },
  });
  await gateway.start();
  await eventually(async () => (await get('/full/one')).status === 200, {
    what: 'the gateway serves the HTTPRoute',
    timeoutMs: 20_000,
  });
});

after(async () => {
  await gateway?.stop(100);
  await mesh?.stop();
  for (const b of [v1, late, db]) await b?.close();
  await new Promise<void>((r) => (echo ? echo.close(() => r()) : r()));
});

/** Status codes of `n` requests, counted. */
async function statuses(path: string, n: number): Promise<Record<number, number>> {
  const out: Record<number, number> = {};
  for (let i = 0; i < n; i++) {
    const s = (await get(path)).status;
    out[s] = (out[s] ?? 0) + 1;
  }
  return out;
}

test("a refused backend's share of the traffic is answered 500; the other backend takes the rest", async () => {
  const seen = await statuses('/half-refused', 60);
  assert.ok(
    (seen[200] ?? 0) > 10 && (seen[500] ?? 0) > 10,
    `1:1 weights, one refused: ${JSON.stringify(seen)}`,
  );
  assert.deepEqual(Object.keys(seen).sort(), ['200', '500'], 'nothing but 200 and 500');
  assert.equal(db.hits, 0, 'the refused backend is never reached');
  const resolved = (await routeStatus('shop')).find((c) => c.type === 'ResolvedRefs')!;
  assert.equal(resolved.status, 'False');
  assert.match(resolved.message, /no ReferenceGrant in data allows HTTPRoute from shop/);
});

test('a missing Service is BackendNotFound with a 500 share, until the service registers', async () => {
  const conditions = await routeStatus('shop');
  const resolved = conditions.find((c) => c.type === 'ResolvedRefs')!;
  assert.equal(resolved.status, 'False');
  assert.match(resolved.message, /late\.shop\.svc\.cluster\.local/);
  assert.match(resolved.message, /BackendNotFound|no service/);
  const before = await statuses('/half-missing', 40);
  assert.ok((before[200] ?? 0) > 5 && (before[500] ?? 0) > 5, JSON.stringify(before));
  assert.equal(late.hits, 0);
  // The workload registers (no config change): the route resolves and its share flows.
  const id = mesh.cp.registrations.register({
    service: 'late',
    namespace: 'shop',
    address: '127.0.0.1',
    ports: { http: late.port },
  });
  try {
    await eventually(async () => (await get('/half-missing')).status === 200 && late.hits > 0, {
      what: 'the registered backend takes its share',
      timeoutMs: 20_000,
    });
    const after = await statuses('/half-missing', 20);
    assert.deepEqual(
      Object.keys(after),
      ['200'],
      `no 500 once every backend exists: ${JSON.stringify(after)}`,
    );
    const now = await routeStatus('shop');
    assert.notEqual(reasonOf(now, 'ResolvedRefs'), 'BackendNotFound');
  } finally {
    mesh.cp.registrations.deregister(id);
  }
});

test('ReplacePrefixMatch rewrites: the conformance cases and the trailing-slash edges', async () => {
  const rows: [string, string][] = [
    ['/prefix/one/two', '/one/two'],
    ['/prefix/one', '/one'],
    ['/prefix/one/', '/one/'],
    ['/prefix/one/two?q=1', '/one/two?q=1'],
    ['/strip-prefix/three', '/three'],
    ['/strip-prefix', '/'],
    ['/strip-prefix/', '/'],
    ['/trailing/a', '/xyz/a'],
    ['/trailing', '/xyz'],
    ['/full/one/two', '/one'],
  ];
  for (const [path, want] of rows) {
    const r = await get(path);
    assert.equal(r.status, 200, path);
    assert.equal(seenPath(r.body), want, path);
  }
  for (const path of ['/prefix/onetwo', '/strip-prefixes']) {
    assert.equal((await get(path)).status, 404, `${path}: a prefix matches whole segments only`);
  }
});

test('ReplacePrefixMatch redirects, to the listener port when the redirect names none', async () => {
  const rows: [string, string][] = [
    ['/original-prefix/lemon', `http://shop.example.com:${webPort}/replacement-prefix/lemon`],
    ['/original-prefix', `http://shop.example.com:${webPort}/replacement-prefix`],
    ['/path-and-host', `http://example.org:${webPort}/replacement-prefix`],
    ['/port-80/x', 'http://example.org/port-80/x'],
  ];
  for (const [path, location] of rows) {
    const r = await get(path);
    assert.equal(r.status, 302, path);
    assert.equal(r.headers.location, location, path);
  }
});

test('a listener conflicting on its port is not served; the listener that keeps the port is', async () => {
  const gw = (await (await fetch(`${mesh.httpUrl}/v1/config/gtw/infra/web`)).json()) as {
    status: { conditions: Conditions; listeners: { name: string; conditions: Conditions }[] };
  };
  const raw = gw.status.listeners.find((l) => l.name === 'raw')!;
  assert.equal(reasonOf(raw.conditions, 'Conflicted'), 'ProtocolConflict');
  assert.equal(raw.conditions.find((c) => c.type === 'Programmed')?.status, 'False');
  assert.equal(reasonOf(gw.status.conditions, 'Accepted'), 'ListenersNotValid');
  assert.equal(
    reasonOf(await routeStatus('echo', 'tcproutes'), 'Accepted'),
    'NoMatchingParent',
    'the TCPRoute is not attached',
  );
  // The port speaks HTTP: raw bytes are not carried to the TCP backend.
  const reply = await new Promise<string>((resolve) => {
    const s = net.connect(webPort, '127.0.0.1', () => s.write('ping\r\n\r\n'));
    let got = '';
    s.setTimeout(2000, () => s.destroy());
    s.on('data', (d) => (got += d.toString()));
    s.on('close', () => resolve(got));
    s.on('error', () => resolve(got));
  });
  assert.doesNotMatch(reply, /echo:/);
  assert.equal((await get('/full/one')).status, 200, 'the HTTP listener on that port serves');
  assert.equal((await get('/', altPort, 'alt.example.com')).status, 200, 'the other port serves');
});
