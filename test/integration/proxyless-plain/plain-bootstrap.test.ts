/**
 * A proxyless gRPC client whose bootstrap was written for another control plane: node id and
 * locality only, no GENERATOR/NAMESPACE/LABELS metadata, no server listener template. The
 * control plane recognises it from what it is (user agent `gRPC Node Pure JS`) and asks (LDS
 * `host:port`), serves it the gRPC generator's config, and a VirtualService routes its calls.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import {
  callEcho,
  EchoClient,
  startEchoBackend,
  type EchoBackend,
  type EchoClientInstance,
} from '../helpers/echo-grpc.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

grpcXds.register();

const HOST = 'reviews.default.svc.cluster.local';
let mesh: TestMesh;
const backends: Record<string, EchoBackend> = {};
const clients: EchoClientInstance[] = [];

/** The minimal bootstrap documented in docs/proxyless-grpc.md. */
function plainBootstrap(xdsPort: number, id: string): string {
  return JSON.stringify({
    xds_servers: [
      {
        server_uri: `127.0.0.1:${xdsPort}`,
        channel_creds: [{ type: 'insecure' }],
        server_features: ['xds_v3'],
      },
    ],
    node: { id, locality: { region: 'eu-west', zone: 'eu-west-1a' } },
  });
}

function client(id: string): EchoClientInstance {
  const c = new EchoClient(`xds:///${HOST}:50051`, grpc.credentials.createInsecure(), {
    'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config': plainBootstrap(mesh.xdsPort, id),
  });
  clients.push(c);
  return c;
}

const routing = (defaultSubset: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [${HOST}]
  http:
  - match: [{ headers: { end-user: { exact: jason } } }]
    route: [{ destination: { host: ${HOST}, subset: v2 } }]
  - route: [{ destination: { host: ${HOST}, subset: ${defaultSubset} } }]
`;

before(async () => {
  mesh = await startMesh();
  for (const v of ['v1', 'v2']) backends[v] = await startEchoBackend(v);
  mesh.apply(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews }
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 50051, name: grpc, protocol: GRPC }]
  endpoints:
  - { address: 127.0.0.1, ports: { grpc: ${backends.v1!.port} }, labels: { version: v1 } }
  - { address: 127.0.0.1, ports: { grpc: ${backends.v2!.port} }, labels: { version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews }
spec:
  host: ${HOST}
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
`);
  mesh.apply(routing('v1'));
});

after(async () => {
  for (const c of clients) c.close();
  await mesh.stop();
  await Promise.all(Object.values(backends).map((b) => b.close()));
});

async function backendsOf(c: EchoClientInstance, n: number, headers: Record<string, string> = {}) {
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = await callEcho(c, {}, headers);
    const key = r.backend ?? `status:${r.code}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  return Object.fromEntries(seen);
}

test('a client with a plain bootstrap is served as proxyless gRPC and routed by the VirtualService', async () => {
  const c = client('plain-client-1');
  await eventually(async () => (await callEcho(c)).backend === 'v1', 'first call through xDS');
  assert.deepEqual(await backendsOf(c, 20), { v1: 20 });
  assert.deepEqual(await backendsOf(c, 20, { 'end-user': 'jason' }), { v2: 20 });

  // The control plane shows it as a gRPC client, with the locality its bootstrap gave.
  const status = (await (await fetch(`${mesh.httpUrl}/debug/syncz`)).json()) as {
    proxy: string;
    type: string;
  }[];
  const row = status.find((s) => s.proxy === 'plain-client-1');
  assert.equal(row?.type, 'grpc', JSON.stringify(status));

  // A route change reaches it like any proxy.
  mesh.apply(routing('v2'));
  await eventually(async () => (await callEcho(c)).backend === 'v2', 'default route moved to v2');
  assert.deepEqual(await backendsOf(c, 20), { v2: 20 });
});
