/**
 * Issue #13: a chaos filter (fault injection) added and removed without touching the platform's
 * retries and timeout filters, through a real control plane and a real proxy.
 *
 *   client --> sidecar outbound --> reviews (answers 503 to every other request)
 *                 ^ xDS
 *   VirtualService reviews (the frame, written by the service team)
 *   + TrafficFilter platform-retries (owner platform): retries 3 on 5xx   -> no request fails
 *   + TrafficFilter platform-timeout (owner platform): timeout 5s
 *   + TrafficFilter chaos (owner chaos, priority 100): abort 503, 100%   -> every request fails,
 *                                                                        the backend sees none
 *   - chaos deleted                                                      -> no request fails again
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startBackend } from '../../../src/proxy/testing/harness.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import { startMesh } from '../helpers/mesh.js';
import { startSidecar, viaSidecar } from '../helpers/sidecar.js';

const HOST = 'reviews.default.svc.cluster.local';

const frame = (port: number) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews }
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1, ports: { http: ${port} } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
  - name: primary
    route: [{ destination: { host: reviews } }]
`;

const PLATFORM = `apiVersion: trellis.io/v1alpha1
kind: TrafficFilter
metadata: { name: platform-retries }
spec:
  target: { host: reviews }
  owner: platform
  retries: { attempts: 3, retryOn: 5xx, perTryTimeout: 2s }
---
apiVersion: trellis.io/v1alpha1
kind: TrafficFilter
metadata: { name: platform-timeout }
spec:
  target: { host: reviews, route: primary }
  owner: platform
  timeout: 5s
`;

const CHAOS = `apiVersion: trellis.io/v1alpha1
kind: TrafficFilter
metadata: { name: chaos }
spec:
  target: { host: reviews }
  owner: chaos
  priority: 100
  fault: { abort: { httpStatus: 503, percentage: { value: 100 } } }
`;

type Served = {
  spec: { http: Record<string, unknown>[] };
  status: { provenance: Record<string, { filter: string; owner: string; priority: number }> };
};

test('a chaos filter comes and goes; the platform`s retries and timeout stay', async (t) => {
  // Every other request fails: only retries make them all succeed.
  let n = 0;
  const backend = await startBackend('reviews', (_req, res) => {
    n++;
    res.writeHead(n % 2 === 1 ? 503 : 200, { 'x-backend': 'reviews' });
    res.end(n % 2 === 1 ? 'flaky' : 'ok');
  });
  const mesh = await startMesh();
  const proxy = await startSidecar(mesh.xdsPort);
  t.after(async () => {
    await proxy.stop(100);
    await mesh.stop();
    await backend.close();
  });
  const served = async (): Promise<Served> =>
    (await (await fetch(`${mesh.httpUrl}/v1/config/vs/default/reviews?effective=true`)).json()) as Served;
  /** Ten requests: their statuses and how many reached the backend. */
  const ten = async () => {
    const before = backend.hits;
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await viaSidecar(proxy, `${HOST}:9080`)).status);
    return { statuses, reached: backend.hits - before };
  };
  const all = (s: number) => Array<number>(10).fill(s);

  mesh.apply(frame(backend.port) + '---\n' + PLATFORM);
  await eventually(
    async () => {
      const r = await ten();
      assert.deepEqual(r.statuses, all(200));
      assert.ok(r.reached >= 15, `retries answered the failures (${r.reached} backend requests)`);
    },
    { what: 'the platform retries in service', timeoutMs: 10_000 },
  );
  const platform = await served();
  assert.deepEqual(platform.spec.http[0]?.retries, { attempts: 3, retryOn: '5xx', perTryTimeout: '2s' });
  assert.equal(platform.spec.http[0]?.timeout, '5s');

  mesh.apply(CHAOS);
  await eventually(
    async () => {
      const r = await ten();
      assert.deepEqual(r.statuses, all(503));
      assert.equal(r.reached, 0, 'the fault answers before any backend request');
    },
    { what: 'the chaos fault in service', timeoutMs: 10_000 },
  );
  const chaos = await served();
  assert.deepEqual(chaos.spec.http[0]?.fault, { abort: { httpStatus: 503, percentage: { value: 100 } } });
  assert.deepEqual(chaos.spec.http[0]?.retries, platform.spec.http[0]?.retries, 'retries untouched');
  assert.equal(chaos.spec.http[0]?.timeout, '5s', 'timeout untouched');
  assert.equal(chaos.status.provenance['spec.http[0].fault.abort.httpStatus']?.filter, 'default/chaos');
  assert.equal(chaos.status.provenance['spec.http[0].retries.attempts']?.filter, 'default/platform-retries');
  assert.equal(chaos.status.provenance['spec.http[0].timeout']?.filter, 'default/platform-timeout');

  mesh.remove('TrafficFilter', 'chaos');
  await eventually(
    async () => {
      const r = await ten();
      assert.deepEqual(r.statuses, all(200));
      assert.ok(r.reached >= 15, `retries still answer the failures (${r.reached} backend requests)`);
    },
    { what: 'the fault gone, the retries still there', timeoutMs: 10_000 },
  );
  const after = await served();
  assert.deepEqual(after, platform, 'exactly the platform`s layering again');
});
