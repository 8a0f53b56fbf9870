/**
 * Subset fallback through the control plane and a real sidecar (issue #13 item 5): with
 * `trellis.io/fallback-subset: stable`, a 50% canary and a sandbox lane route (x-trellis-lane:
 * box-1 -> canary) keep answering while the canary's endpoints disappear or fail, and traffic
 * returns to the canary once it is back.
 *
 *   1. the canary is deregistered (its ServiceEntry endpoint removed): no request fails, all
 *      answers come from stable, the lane too; re-registered: canary answers again;
 *   2. the canary starts failing (503): outlier detection ejects it after one failure, the
 *      failed attempt's retry goes to stable through the aggregate, no request fails; once it
 *      recovers and the ejection ends, canary answers again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startBackend } from '../../../src/proxy/testing/harness.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import { startMesh } from '../helpers/mesh.js';
import { startSidecar, viaSidecar } from '../helpers/sidecar.js';

const HOST = 'reviews.default.svc.cluster.local';

const serviceEntry = (
  stablePort: number,
  canaryPort: number | undefined,
) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews, namespace: default }
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  endpoints:
  - { address: 127.0.0.1, ports: { http: ${stablePort} }, labels: { version: stable } }
${canaryPort === undefined ? '' : `  - { address: 127.0.0.1, ports: { http: ${canaryPort} }, labels: { version: canary } }`}
`;

const rules = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: ${HOST}
  trafficPolicy:
    outlierDetection: { consecutive5xxErrors: 1, interval: 100ms, baseEjectionTime: 1s, maxEjectionPercent: 100 }
  subsets:
  - { name: stable, labels: { version: stable } }
  - { name: canary, labels: { version: canary } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: default
  annotations: { trellis.io/fallback-subset: stable }
spec:
  hosts: [${HOST}]
  http:
  - match: [{ headers: { x-trellis-lane: { exact: box-1 } } }]
    route: [{ destination: { host: ${HOST}, subset: canary } }]
  - route:
    - { destination: { host: ${HOST}, subset: stable }, weight: 50 }
    - { destination: { host: ${HOST}, subset: canary }, weight: 50 }
`;

test('subset fallback: a canary and a lane whose endpoints disappear or fail fall back to stable without a failed request, and come back', async (t) => {
  let canaryFailing = false;
  const stable = await startBackend('stable');
  const canary = await startBackend('canary', (_req, res) => {
    if (canaryFailing) res.writeHead(503).end('failing');
    else res.writeHead(200, { 'x-backend': 'canary' }).end('canary');
  });
  const mesh = await startMesh();
  const proxy = await startSidecar(mesh.xdsPort);
  t.after(async () => {
    await proxy.stop(100);
    await mesh.stop();
    await stable.close();
    await canary.close();
  });
  mesh.apply(serviceEntry(stable.port, canary.port));
  mesh.apply(rules);

  const answers = { statuses: new Map<number, number>(), backends: new Map<string, number>() };
  const call = async (headers: Record<string, string> = {}) => {
    const res = await viaSidecar(proxy, `${HOST}:9080`, '/', headers);
    answers.statuses.set(res.status, (answers.statuses.get(res.status) ?? 0) + 1);
    const backend = String(res.headers['x-backend']);
    answers.backends.set(backend, (answers.backends.get(backend) ?? 0) + 1);
    return { status: res.status, backend };
  };
  // A bounded load loop (4 callers, half of them in the lane) while `during` runs.
  const underLoad = async (during: () => Promise<void>) => {
    let done = false;
    const callers = Array.from({ length: 4 }, async (_, i) => {
      for (let n = 0; !done && n < 5000; n++) await call(i % 2 === 0 ? { 'x-trellis-lane': 'box-1' } : {});
    });
    try {
      await during();
    } finally {
      done = true;
      await Promise.all(callers);
    }
  };
  const onlyStable = async () => {
    for (let i = 0; i < 20; i++)
      if ((await call({ 'x-trellis-lane': 'box-1' })).backend !== 'stable') return false;
    return true;
  };

  await eventually(
    async () => (await call({ 'x-trellis-lane': 'box-1' })).backend === 'canary',
    'the lane route',
  );
  answers.statuses.clear();

  // 1. Deregistered, then back.
  await underLoad(async () => {
    mesh.apply(serviceEntry(stable.port, undefined));
    await eventually(onlyStable, 'the lane and the canary fall back to stable');
    mesh.apply(serviceEntry(stable.port, canary.port));
    await eventually(
      async () => (await call({ 'x-trellis-lane': 'box-1' })).backend === 'canary',
      'the canary back',
    );
  });
  assert.deepEqual([...answers.statuses.keys()], [200], `statuses ${JSON.stringify([...answers.statuses])}`);

  // 2. Failing (ejected after one 503; its retry falls back), then recovered.
  answers.statuses.clear();
  answers.backends.clear();
  await underLoad(async () => {
    canaryFailing = true;
    await eventually(onlyStable, 'the failing canary ejected, traffic on stable');
    canaryFailing = false;
    await eventually(
      async () => (await call({ 'x-trellis-lane': 'box-1' })).backend === 'canary',
      'the canary back',
    );
  });
  assert.deepEqual([...answers.statuses.keys()], [200], `statuses ${JSON.stringify([...answers.statuses])}`);
  assert.ok((answers.backends.get('stable') ?? 0) > 0 && (answers.backends.get('canary') ?? 0) > 0);
});
