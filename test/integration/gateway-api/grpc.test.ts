/**
 * A GRPCRoute end to end: gRPC calls from @grpc/grpc-js through a Trellis gateway proxy serving a
 * Gateway API Gateway, routed by method and by header to real gRPC backends.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { eventually } from '../../../src/core/testing/eventually.js';
import { silentLogger } from '../../../src/core/logger.js';
import { seededRandom } from '../../../src/core/random.js';
import { TrellisProxy } from '../../../src/proxy/proxy.js';
import {
  callEcho,
  EchoClient,
  startEchoBackend,
  type EchoBackend,
  type EchoClientInstance,
} from '../helpers/echo-grpc.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { realClock } from '../helpers/sidecar.js';

let mesh: TestMesh;
let gateway: TrellisProxy;
let v1: EchoBackend;
let v2: EchoBackend;
let client: EchoClientInstance;
let port: number;

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

const entry = (name: string, b: EchoBackend) => `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: shop }
spec:
  hosts: [${name}.shop.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: ${b.port}, name: grpc, protocol: GRPC }]
  endpoints: [{ address: 127.0.0.1 }]
`;

before(async () => {
  v1 = await startEchoBackend('echo-v1');
  v2 = await startEchoBackend('echo-v2');
  port = await freePort();
  mesh = await startMesh();
  mesh.apply(
    entry('echo-v1', v1) +
      entry('echo-v2', v2) +
      `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: grpc, namespace: infra }
spec:
  gatewayClassName: istio
  listeners: [{ name: h2c, port: ${port}, protocol: HTTP, allowedRoutes: { namespaces: { from: All } } }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: echo, namespace: shop }
spec:
  parentRefs: [{ name: grpc, namespace: infra }]
  rules:
  - matches: [{ method: { service: trellis.test.Echo, method: Call }, headers: [{ name: x-canary, value: "yes" }] }]
    backendRefs: [{ name: echo-v2, port: ${v2.port} }]
  - matches: [{ method: { service: trellis.test.Echo } }]
    backendRefs: [{ name: echo-v1, port: ${v1.port} }]
`,
  );
  gateway = new TrellisProxy({
    xds: `127.0.0.1:${mesh.xdsPort}`,
    bootstrap: {
      nodeId: 'router~127.0.0.1~grpc-gw-1.infra~infra.svc.cluster.local',
      cluster: 'grpc-gw.infra',
      mode: 'gateway',
      namespace: 'infra',
      workloadName: 'grpc-gw',
      labels: { 'gateway.networking.k8s.io/gateway-name': 'grpc' },
      instanceIps: ['127.0.0.1'],
      locality: '',
    },
    version: 'test',
    bindAddress: '127.0.0.1',
    adminAddress: '127.0.0.1',
    adminPort: 0,
    outboundPort: 0,
    inboundPort: 0,
    bindListeners: [port],
    clock: realClock,
    random: seededRandom(5),
    logger: silentLogger,
    accessLogStdout: { write: () => true },
    xdsBackoff: { baseMs: 20, maxMs: 200 },
  });
  await gateway.start();
  client = new EchoClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  await eventually(async () => (await callEcho(client, {}, {}, 1000)).code === grpc.status.OK, {
    what: 'gRPC through the gateway',
    timeoutMs: 20_000,
  });
});

after(async () => {
  client?.close();
  await gateway?.stop(100);
  await mesh?.stop();
  await v1?.close();
  await v2?.close();
});

test('a GRPCRoute routes by service and method, and by header before that', async () => {
  const plain = await callEcho(client);
  assert.equal(plain.code, grpc.status.OK);
  assert.equal(plain.backend, 'echo-v1');
  const canary = await callEcho(client, {}, { 'x-canary': 'yes' });
  assert.equal(canary.backend, 'echo-v2', 'the rule with the header match (more specific) wins');
  const other = await callEcho(client, {}, { 'x-canary': 'no' });
  assert.equal(other.backend, 'echo-v1');
});
