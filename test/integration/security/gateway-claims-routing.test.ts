/**
 * JWT claim routing at an ingress gateway, end to end from Istio YAML: a Gateway, a
 * RequestAuthentication on the gateway, and a VirtualService whose first route matches
 * `@request.auth.claims.group: admin` (to v2) before a catch-all (to v1). The control plane
 * translates, a Trellis gateway proxy serves real HTTP on 127.0.0.1. Valid admin tokens reach
 * v2; other tokens, no token and forged headers reach v1; an invalid token gets 401 before any
 * route is taken.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { eventually } from '../../../src/core/testing/eventually.js';
import {
  nowSeconds,
  testIssuer,
  unsignedToken,
  type TestIssuer,
} from '../../../src/proxy/policy/jwt-testing.js';
import type { TrellisProxy } from '../../../src/proxy/proxy.js';
import { request, startBackend, type Backend } from '../../../src/proxy/testing/harness.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { startSidecar } from '../helpers/sidecar.js';

const HOST = 'shop.default.svc.cluster.local';
let mesh: TestMesh;
let gateway: TrellisProxy;
let v1: Backend;
let v2: Backend;
let port: number;
let idp: TestIssuer;

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

const get = (headers: Record<string, string> = {}, path = '/') =>
  request(port, { host: 'shop.example.com', path, headers });
const backendOf = async (headers: Record<string, string> = {}, path = '/') => {
  const r = await get(headers, path);
  assert.equal(r.status, 200, `${JSON.stringify(headers)}: ${r.status} ${r.body}`);
  return r.json<{ backend: string }>().backend;
};
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

before(async () => {
  idp = await testIssuer('https://id.example.com');
  v1 = await startBackend('v1');
  v2 = await startBackend('v2');
  port = await freePort();
  mesh = await startMesh();
  mesh.apply(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: shop, namespace: default }
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 8080, name: http, protocol: HTTP }]
  endpoints:
  - { address: 127.0.0.1, ports: { http: ${v1.port} }, labels: { version: v1 } }
  - { address: 127.0.0.1, ports: { http: ${v2.port} }, labels: { version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: shop, namespace: default }
spec:
  host: ${HOST}
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: public, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: ${port}, name: http, protocol: HTTP }
    hosts: [shop.example.com]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt, namespace: istio-system }
spec:
  selector: { matchLabels: { istio: ingressgateway } }
  jwtRules:
  - issuer: ${idp.iss}
    jwks: '${idp.jwks}'
    outputClaimToHeaders: [{ header: x-jwt-claim-group, claim: group }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: shop, namespace: default }
spec:
  hosts: [shop.example.com]
  gateways: [istio-system/public]
  http:
  - match: [{ headers: { "@request.auth.claims.group": { exact: admin } } }]
    route: [{ destination: { host: ${HOST}, subset: v2, port: { number: 8080 } } }]
  - match: [{ headers: { "@request.auth.claims[org][team]": { prefix: ops- } } }]
    route: [{ destination: { host: ${HOST}, subset: v2, port: { number: 8080 } } }]
  - route: [{ destination: { host: ${HOST}, subset: v1, port: { number: 8080 } } }]
`);
  gateway = await startSidecar(mesh.xdsPort, {
    bootstrap: {
      nodeId: 'router~127.0.0.1~ingressgateway.istio-system~istio-system.svc.cluster.local',
      cluster: 'ingressgateway.istio-system',
      mode: 'gateway',
      namespace: 'istio-system',
      workloadName: 'ingressgateway',
      labels: { istio: 'ingressgateway' },
      instanceIps: ['127.0.0.1'],
      locality: '',
    },
    bindListeners: [port],
  });
  await eventually(async () => (await get()).status === 200, 'the gateway routes shop.example.com');
});

after(async () => {
  await gateway?.stop(100);
  await mesh?.stop();
  await v1?.close();
  await v2?.close();
});

const token = (claims: Record<string, unknown>) => idp.sign({ exp: nowSeconds() + 600, ...claims });

test('a verified admin claim routes to v2, as a string or within a list; nested claims too', async () => {
  assert.equal(await backendOf(bearer(await token({ group: 'admin' }))), 'v2');
  assert.equal(await backendOf(bearer(await token({ group: ['staff', 'admin'] }))), 'v2');
  assert.equal(await backendOf(bearer(await token({ org: { team: 'ops-eu' } }))), 'v2');
});

test('other tokens and no token route to v1', async () => {
  assert.equal(await backendOf(bearer(await token({ group: 'staff' }))), 'v1');
  assert.equal(await backendOf(bearer(await token({ group: 'Admin' }))), 'v1');
  assert.equal(await backendOf(bearer(await token({ org: { team: 'dev-ops-' } }))), 'v1');
  assert.equal(await backendOf(bearer(await token({}))), 'v1');
  assert.equal(await backendOf(), 'v1');
});

test('forged claims cannot select v2: claim headers, look-alike header names, a staff token plus headers', async () => {
  const before = v2.hits;
  assert.equal(await backendOf({ 'x-jwt-claim-group': 'admin' }), 'v1');
  assert.equal(await backendOf({ group: 'admin', 'request.auth.claims.group': 'admin' }), 'v1');
  assert.equal(
    await backendOf({ ...bearer(await token({ group: 'staff' })), 'x-jwt-claim-group': 'admin' }),
    'v1',
  );
  // The claim header the gateway writes carries the verified value, not the client's.
  const r = await get({ ...bearer(await token({ group: 'staff' })), 'x-jwt-claim-group': 'admin' });
  assert.equal(r.json<{ headers: Record<string, string> }>().headers['x-jwt-claim-group'], 'staff');
  assert.equal(v2.hits, before);
});

test('an invalid token gets 401 before any route: unsigned, another issuer, expired, tampered', async () => {
  const before = v1.hits + v2.hits;
  const admin = await token({ group: 'admin' });
  const [h, , s] = admin.split('.');
  const tampered = `${h}.${Buffer.from(JSON.stringify({ iss: idp.iss, group: 'admin' })).toString('base64url')}.${s}`;
  const cases: [string, string][] = [
    ['unsigned', unsignedToken({ iss: idp.iss, group: 'admin' })],
    ['another issuer', await (await testIssuer('https://evil.example.com')).sign({ group: 'admin' })],
    ['expired', await idp.sign({ group: 'admin', exp: nowSeconds() - 3600 })],
    ['tampered', tampered],
  ];
  for (const [what, t] of cases) {
    const r = await get(bearer(t));
    assert.equal(r.status, 401, what);
  }
  // Whatever the path, the token is checked before a route is taken.
  assert.equal((await get(bearer('garbage'), '/nowhere')).status, 401);
  assert.equal(v1.hits + v2.hits, before);
});
