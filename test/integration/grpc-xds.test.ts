/**
 * The control plane against a real, independent xDS client: @grpc/grpc-js-xds, driving
 * `xds:///host:port` channels through Istio YAML applied at run time.
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
} from './helpers/echo-grpc.js';
import { eventually } from '../../src/core/testing/eventually.js';
import { TYPE } from '../../src/protocol/protos.js';
import { affectedTypes, generate } from '../../src/xds/translate/index.js';
import { grpcBootstrap, startMesh, type TestMesh } from './helpers/mesh.js';

grpcXds.register();

let mesh: TestMesh;
const backends: Record<string, EchoBackend> = {};
const clients: EchoClientInstance[] = [];

/** A MESH_INTERNAL ServiceEntry `NAME.default.svc.cluster.local:50051` with v1 and v2 endpoints. */
function serviceYaml(name: string, versions: Record<string, EchoBackend>): string {
  const endpoints = Object.entries(versions)
    .map(
      ([v, b]) =>
        `  - address: 127.0.0.1\n    ports: { grpc: ${b.port} }\n    labels: { app: ${name}, version: ${v} }`,
    )
    .join('\n');
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name} }
spec:
  hosts: [${name}.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 50051, name: grpc, protocol: GRPC }]
  endpoints:
${endpoints}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${name} }
spec:
  host: ${name}.default.svc.cluster.local
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
`;
}

function client(name: string): EchoClientInstance {
  const c = new EchoClient(
    `xds:///${name}.default.svc.cluster.local:50051`,
    grpc.credentials.createInsecure(),
    {
      'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config': grpcBootstrap(mesh.xdsPort),
    },
  );
  clients.push(c);
  return c;
}

async function tally(
  c: EchoClientInstance,
  n: number,
  headers: Record<string, string> = {},
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const batch = 50;
  for (let i = 0; i < n; i += batch) {
    const results = await Promise.all(
      Array.from({ length: Math.min(batch, n - i) }, () => callEcho(c, {}, headers)),
    );
    for (const r of results) {
      const key = r.backend ?? `status:${r.code}`;
      counts[key] = (counts[key] ?? 0) + 1;
    }
  }
  return counts;
}

/**
 * Clusters the translation sends with an lb_policy grpc-js does not implement (MAGLEV, which the
 * real translation never sends a gRPC client): the way to make a client NACK now that every
 * value the API accepts is one grpc-js takes.
 */
const rejectedClusters = new Set<string>();

before(async () => {
  mesh = await startMesh({
    translator: {
      affectedTypes,
      generate: (push, proxy, typeUrl, names) => {
        const out = generate(push, proxy, typeUrl, names);
        if (typeUrl !== TYPE.cluster || rejectedClusters.size === 0) return out;
        const changed = new Map(out);
        for (const [name, cluster] of out)
          if (rejectedClusters.has(name)) changed.set(name, { ...cluster, lb_policy: 'MAGLEV' });
        return changed;
      },
    },
  });
  for (const name of ['v1', 'v2', 'v3']) backends[name] = await startEchoBackend(name);
});

after(async () => {
  for (const c of clients) c.close();
  await mesh.stop();
  await Promise.all(Object.values(backends).map((b) => b.close()));
});

/** The `split` VirtualService with the given v1/v2 weights. */
const splitYaml = (v1: number, v2: number) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: split }
spec:
  hosts: [split.default.svc.cluster.local]
  http:
  - route:
    - { destination: { host: split.default.svc.cluster.local, subset: v1 }, weight: ${v1} }
    - { destination: { host: split.default.svc.cluster.local, subset: v2 }, weight: ${v2} }
`;

test('90/10 weighted split holds within 3 points over 2000 calls, and a weight change applies at run time', async () => {
  mesh.apply(serviceYaml('split', { v1: backends.v1!, v2: backends.v2! }));
  mesh.apply(splitYaml(90, 10));
  const c = client('split');
  await eventually(async () => (await callEcho(c)).backend ?? false, 'first successful call');
  const counts = await tally(c, 2000);
  const v2share = ((counts.v2 ?? 0) / 2000) * 100;
  assert.equal((counts.v1 ?? 0) + (counts.v2 ?? 0), 2000, JSON.stringify(counts));
  assert.ok(Math.abs(v2share - 10) <= 3, `v2 got ${v2share}% (want 10 ± 3): ${JSON.stringify(counts)}`);

  mesh.apply(splitYaml(0, 100));
  await eventually(async () => (await tally(c, 20)).v2 === 20, 'all traffic on v2');
});

test('header match and path prefix match', async () => {
  mesh.apply(serviceYaml('match', { v1: backends.v1!, v2: backends.v2! }));
  mesh.apply(`apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: match }
spec:
  hosts: [match.default.svc.cluster.local]
  http:
  - match: [{ headers: { end-user: { exact: jason } } }]
    route: [{ destination: { host: match.default.svc.cluster.local, subset: v2 } }]
  - match: [{ uri: { prefix: /other.Service/ } }]
    route: [{ destination: { host: match.default.svc.cluster.local, subset: v2 } }]
  - match: [{ uri: { prefix: /trellis.test.Echo/ } }]
    route: [{ destination: { host: match.default.svc.cluster.local, subset: v1 } }]
`);
  const c = client('match');
  await eventually(
    async () => (await callEcho(c, {}, { 'end-user': 'jason' })).backend === 'v2',
    'routes applied',
  );
  assert.deepEqual(await tally(c, 40, { 'end-user': 'jason' }), { v2: 40 });
  assert.deepEqual(await tally(c, 40, { 'end-user': 'someone' }), { v1: 40 });
  assert.deepEqual(await tally(c, 40), { v1: 40 });
});

test('fault injection: abort and delay', async () => {
  mesh.apply(serviceYaml('faulty', { v1: backends.v1! }));
  mesh.apply(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: faulty }
spec:
  hosts: [faulty.default.svc.cluster.local]
  http:
  - match: [{ headers: { x-fault: { exact: abort } } }]
    fault: { abort: { httpStatus: 503, percentage: { value: 100 } } }
    route: [{ destination: { host: faulty.default.svc.cluster.local } }]
  - match: [{ headers: { x-fault: { exact: delay } } }]
    fault: { delay: { fixedDelay: 300ms, percentage: { value: 100 } } }
    route: [{ destination: { host: faulty.default.svc.cluster.local } }]
  - route: [{ destination: { host: faulty.default.svc.cluster.local } }]
`);
  const c = client('faulty');
  await eventually(
    async () => (await callEcho(c, {}, { 'x-fault': 'abort' })).code === grpc.status.UNAVAILABLE,
    'fault config applied',
  );
  const aborted = await tally(c, 20, { 'x-fault': 'abort' });
  assert.deepEqual(aborted, { [`status:${grpc.status.UNAVAILABLE}`]: 20 }, 'HTTP 503 maps to UNAVAILABLE');
  const delayed = await callEcho(c, {}, { 'x-fault': 'delay' });
  assert.equal(delayed.backend, 'v1');
  assert.ok(delayed.elapsedMs >= 290, `delayed call took ${delayed.elapsedMs} ms`);
  const plain = await callEcho(c);
  assert.equal(plain.backend, 'v1');
});

test('retries turn a backend failure into success; attempts: 0 shows the failure', async () => {
  mesh.apply(serviceYaml('retry', { v1: backends.v1! }));
  mesh.apply(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: retry }
spec:
  hosts: [retry.default.svc.cluster.local]
  http:
  - match: [{ headers: { x-retry: { exact: "off" } } }]
    retries: { attempts: 0 }
    route: [{ destination: { host: retry.default.svc.cluster.local } }]
  - retries: { attempts: 3, retryOn: unavailable }
    route: [{ destination: { host: retry.default.svc.cluster.local } }]
`);
  const c = client('retry');
  await eventually(async () => (await callEcho(c)).backend ?? false, 'service reachable');
  const retried = await callEcho(c, { failTimes: 1, failKey: 'retried' });
  assert.equal(retried.backend, 'v1', `with retries: ${JSON.stringify(retried)}`);
  const noRetry = await callEcho(c, { failTimes: 1, failKey: 'no-retry' }, { 'x-retry': 'off' });
  assert.equal(noRetry.code, grpc.status.UNAVAILABLE, `without retries: ${JSON.stringify(noRetry)}`);
});

test('per-route timeout', async () => {
  mesh.apply(serviceYaml('slow', { v1: backends.v1! }));
  mesh.apply(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: slow }
spec:
  hosts: [slow.default.svc.cluster.local]
  http:
  - timeout: 500ms
    route: [{ destination: { host: slow.default.svc.cluster.local } }]
`);
  const c = client('slow');
  await eventually(
    async () => (await callEcho(c, { delayMs: 2000 })).code === grpc.status.DEADLINE_EXCEEDED,
    'timeout applied',
  );
  const r = await callEcho(c, { delayMs: 2000 });
  assert.equal(r.code, grpc.status.DEADLINE_EXCEEDED);
  assert.ok(r.elapsedMs < 1800, `timed out after ${r.elapsedMs} ms`);
  // Well inside the timeout even on a loaded machine (a 10 ms call once missed 200 ms under load).
  const fast = await callEcho(c, { delayMs: 10 });
  assert.equal(fast.backend, 'v1', JSON.stringify(fast));
});

test('ring hash keeps a key on one backend', async () => {
  mesh.apply(
    serviceYaml('sticky', { v1: backends.v1!, v2: backends.v2!, v3: backends.v3! }).replace(
      'spec:\n  host: sticky.default.svc.cluster.local\n',
      'spec:\n  host: sticky.default.svc.cluster.local\n  trafficPolicy:\n    loadBalancer:\n      consistentHash: { httpHeaderName: x-user }\n',
    ),
  );
  const c = client('sticky');
  await eventually(
    async () => (await callEcho(c, {}, { 'x-user': 'probe' })).backend ?? false,
    'service reachable',
  );
  const seen = new Set<string>();
  for (let user = 0; user < 12; user++) {
    const counts = await tally(c, 15, { 'x-user': `user-${user}` });
    assert.equal(Object.keys(counts).length, 1, `user-${user} spread over ${JSON.stringify(counts)}`);
    seen.add(Object.keys(counts)[0]!);
  }
  assert.ok(seen.size >= 2, `12 keys all landed on ${[...seen].join(',')}: the hash is not spreading`);
});

test('outlier detection ejects a failing endpoint', async () => {
  const bad = await startEchoBackend('bad');
  bad.failAll = grpc.status.UNAVAILABLE;
  try {
    mesh.apply(
      serviceYaml('outlier', { v1: backends.v1!, v2: bad }).replace(
        'spec:\n  host: outlier.default.svc.cluster.local\n',
        'spec:\n  host: outlier.default.svc.cluster.local\n  trafficPolicy:\n    outlierDetection: { consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100 }\n',
      ),
    );
    mesh.apply(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: outlier }
spec:
  hosts: [outlier.default.svc.cluster.local]
  http:
  - retries: { attempts: 0 }
    route: [{ destination: { host: outlier.default.svc.cluster.local } }]
`);
    const c = client('outlier');
    await eventually(async () => (await callEcho(c)).backend ?? false, 'service reachable');
    await eventually(
      async () => {
        const counts = await tally(c, 40);
        return counts.v1 === 40;
      },
      { what: 'the failing endpoint to be ejected', timeoutMs: 15_000 },
    );
    assert.ok(bad.calls > 0, 'the bad endpoint was tried before being ejected');
  } finally {
    await bad.close();
  }
});

test('a resource the client rejects shows as NACK in /debug/syncz while traffic keeps flowing', async () => {
  mesh.apply(serviceYaml('nack', { v1: backends.v1! }));
  const c = client('nack');
  await eventually(async () => (await callEcho(c)).backend ?? false, 'service reachable');
  // A cluster grpc-js cannot use: the client NACKs CDS. The change that carries it is an
  // ordinary DestinationRule edit.
  rejectedClusters.add('outbound|50051||nack.default.svc.cluster.local');
  mesh.apply(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: nack }
spec:
  host: nack.default.svc.cluster.local
  trafficPolicy:
    loadBalancer: { simple: ROUND_ROBIN }
`);
  const nack = await eventually(async () => {
    const rows = (await (await fetch(`${mesh.httpUrl}/debug/syncz`)).json()) as {
      types: Record<string, { status: string; lastNack?: { message: string } }>;
    }[];
    return rows.flatMap((r) => Object.values(r.types)).find((t) => t.status === 'NACK') ?? false;
  }, 'a NACK in syncz');
  assert.match(nack.lastNack?.message ?? '', /lb_policy/i);
  assert.deepEqual(await tally(c, 20), { v1: 20 }, 'traffic flows on the previous config');
  rejectedClusters.clear();
  mesh.remove('DestinationRule', 'nack');
});

test('clients keep working through a control-plane restart and reconnect', async () => {
  mesh.apply(serviceYaml('restart', { v1: backends.v1!, v2: backends.v2! }));
  mesh.apply(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: restart }
spec:
  hosts: [restart.default.svc.cluster.local]
  http:
  - route: [{ destination: { host: restart.default.svc.cluster.local, subset: v1 } }]
`);
  const c = client('restart');
  await eventually(async () => (await callEcho(c)).backend === 'v1', 'routed to v1');
  const port = mesh.xdsPort;
  const resources = [...mesh.store.snapshot().all()];
  await mesh.stop();
  assert.deepEqual(
    await tally(c, 20),
    { v1: 20 },
    'served from the last config while the control plane is down',
  );

  // A new control plane on the same port, with the routing changed to v2.
  const { MemoryConfigStore } = await import('../../src/config/memory-store.js');
  const { ControlPlane } = await import('../../src/controlplane/control-plane.js');
  const store = new MemoryConfigStore();
  for (const r of resources) store.apply(r);
  const cp2 = new ControlPlane({ config: store, debounce: { quietMs: 10, maxMs: 1000 } });
  await cp2.start({ host: '127.0.0.1', port }, { host: '127.0.0.1', port: 0 });
  mesh.stop = () => cp2.stop();
  store.apply({
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'restart', namespace: 'default' },
    spec: {
      hosts: ['restart.default.svc.cluster.local'],
      http: [{ route: [{ destination: { host: 'restart.default.svc.cluster.local', subset: 'v2' } }] }],
    },
  });
  await eventually(async () => (await callEcho(c)).backend === 'v2', {
    what: 'reconnected and routed to v2',
    timeoutMs: 20_000,
  });
});
