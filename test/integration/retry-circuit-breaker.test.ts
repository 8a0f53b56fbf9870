/**
 * Issue #10 finding 6: with no DestinationRule a cluster has Istio's circuit-breaker defaults
 * (every limit at math.MaxUint32), so more than Envoy's default of 3 retries may be in flight at
 * once. When a backend restarts, every in-flight request fails once and is retried; a limit of 3
 * concurrent retries turned all but three of those into client-facing 503s. (The backend here
 * answers 503 and the route retries on 5xx; a refused connection is retried the same way.)
 *
 * Issue #13 puts a retry budget on every outbound cluster by default (20% of active requests, at
 * least 3: test/integration/sticky/retry-budget.test.ts), which by design caps a burst like this
 * one at 3 concurrent retries; the DestinationRule here turns the budget off
 * (`trellis.io/retry-budget: off`) to keep checking Istio's max_retries limits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startBackend } from '../../src/proxy/testing/harness.js';
import { eventually } from '../../src/core/testing/eventually.js';
import { startMesh } from './helpers/mesh.js';
import { startSidecar, viaSidecar } from './helpers/sidecar.js';

const HOST = 'reviews.default.svc.cluster.local';
const CONCURRENT = 12;

test(`${CONCURRENT} concurrent retries through a cluster with Istio's limits and no retry budget are not overflowed`, async (t) => {
  // First attempt of each request: 503 (a backend going away). Retries are held until all
  // CONCURRENT of them are in flight at once (or a deadline passes), then answered 200.
  const attempts = new Map<string, number>();
  const held: (() => void)[] = [];
  let releaseAll: NodeJS.Timeout | undefined;
  const backend = await startBackend('reviews', (req, res) => {
    const id = String(req.headers['x-id'] ?? '');
    const n = (attempts.get(id) ?? 0) + 1;
    attempts.set(id, n);
    if (id === '' || id === 'ready') {
      res.writeHead(200).end('ok');
      return;
    }
    if (n === 1) {
      res.writeHead(503).end('restarting');
      return;
    }
    held.push(() => res.writeHead(200).end('ok'));
    const flush = () => {
      clearTimeout(releaseAll);
      for (const answer of held.splice(0)) answer();
    };
    if (held.length >= CONCURRENT) flush();
    else releaseAll ??= setTimeout(flush, 3000);
  });
  const mesh = await startMesh();
  const proxy = await startSidecar(mesh.xdsPort);
  t.after(async () => {
    clearTimeout(releaseAll);
    await proxy.stop(100);
    await mesh.stop();
    await backend.close();
  });
  mesh.apply(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews, namespace: default }
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1, ports: { http: ${backend.port} } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
  namespace: default
  annotations: { trellis.io/retry-budget: "off" }
spec:
  host: ${HOST}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [${HOST}]
  http:
  - route: [{ destination: { host: ${HOST} } }]
    retries: { attempts: 2, retryOn: 5xx }
`);
  await eventually(
    async () => (await viaSidecar(proxy, `${HOST}:9080`, '/', { 'x-id': 'ready' })).status === 200,
    'the route to reviews',
  );

  const statuses = await Promise.all(
    Array.from({ length: CONCURRENT }, async (_, i) => {
      const res = await viaSidecar(proxy, `${HOST}:9080`, '/', { 'x-id': `r${i}` });
      return res.status;
    }),
  );
  assert.deepEqual(
    statuses,
    statuses.map(() => 200),
    'every request succeeds on its retry',
  );
  const admin = async (path: string) =>
    await (await fetch(`http://127.0.0.1:${proxy.adminPort}${path}`)).text();
  const name = `outbound|9080||${HOST}`;
  assert.ok(
    (await admin('/clusters')).includes(`${name}::default_priority::max_retries::4294967295`),
    'the proxy holds the translated limit',
  );
  assert.ok(
    (await admin('/stats')).includes(`cluster.${name}.upstream_rq_retry_overflow: 0`),
    'no retry overflowed the circuit breaker',
  );
});
