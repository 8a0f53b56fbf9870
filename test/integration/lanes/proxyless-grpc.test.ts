/**
 * Lanes on proxyless gRPC (issue #13, item 3): there is no sidecar, so lane routing is the
 * VirtualService header match applied by grpc-js-xds to the call's metadata. A call carrying
 * `x-trellis-lane: box-x` reaches the sandbox version, one without it production; the
 * application forwards the metadata to later hops itself. The control plane sends proxyless
 * clients no lane filter and no header changes (they would NACK them), whatever their labels.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { eventually } from '../../../src/core/testing/eventually.js';
import { callEcho, EchoClient, startEchoBackend, type EchoClientInstance } from '../helpers/echo-grpc.js';
import { grpcBootstrap, startMesh } from '../helpers/mesh.js';
import { nacksOf, nodeId } from '../helpers/proxyless.js';

grpcXds.register();

const HOST = 'orders.default.svc.cluster.local';

test('proxyless gRPC: lane metadata picks the sandbox version, no metadata production', async (t) => {
  const mesh = await startMesh({ debounceMs: 10 });
  const prod = await startEchoBackend('orders-v1');
  const box = await startEchoBackend('orders-box-x');
  const clients: EchoClientInstance[] = [];
  t.after(async () => {
    for (const c of clients) c.close();
    await mesh.stop();
    await prod.close();
    await box.close();
  });
  mesh.apply(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: orders }
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 50051, name: grpc, protocol: GRPC }]
  endpoints:
  - { address: 127.0.0.1, ports: { grpc: ${prod.port} }, labels: { app: orders, version: v1 } }
  - { address: 127.0.0.1, ports: { grpc: ${box.port} }, labels: { app: orders, version: box-x, branch: box-x } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: orders }
spec:
  host: ${HOST}
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: box-x, labels: { branch: box-x } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: orders }
spec:
  hosts: [${HOST}]
  http:
  - match: [{ headers: { x-trellis-lane: { exact: box-x } } }]
    route: [{ destination: { host: ${HOST}, subset: box-x } }]
  - route: [{ destination: { host: ${HOST}, subset: v1 } }]
`);
  const client = (workload: string, labels: Record<string, string>) => {
    const c = new EchoClient(`xds:///${HOST}:50051`, grpc.credentials.createInsecure(), {
      'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config': grpcBootstrap(
        mesh.xdsPort,
        nodeId(workload),
        labels,
      ),
    });
    clients.push(c);
    return c;
  };
  const plain = client('caller', { app: 'caller' });
  await eventually(
    async () => (await callEcho(plain, {}, { 'x-trellis-lane': 'box-x' })).backend === 'orders-box-x',
    'lane routing on the client',
  );
  for (let i = 0; i < 10; i++) {
    assert.equal((await callEcho(plain, {}, { 'x-trellis-lane': 'box-x' })).backend, 'orders-box-x');
    assert.equal((await callEcho(plain)).backend, 'orders-v1');
    // A lane with no version of its own, or not one lane, is production.
    assert.equal((await callEcho(plain, {}, { 'x-trellis-lane': 'box-nope' })).backend, 'orders-v1');
  }
  // A sandboxed proxyless caller has no sidecar to add its lane: production unless it says so.
  const sandboxed = client('caller-box', { app: 'caller', branch: 'box-x' });
  await eventually(async () => (await callEcho(sandboxed)).backend ?? false, 'the sandboxed client');
  assert.equal((await callEcho(sandboxed)).backend, 'orders-v1');
  assert.equal((await callEcho(sandboxed, {}, { 'x-trellis-lane': 'box-x' })).backend, 'orders-box-x');
  assert.deepEqual(await nacksOf(mesh, nodeId('caller')), []);
  assert.deepEqual(await nacksOf(mesh, nodeId('caller-box')), []);
});
