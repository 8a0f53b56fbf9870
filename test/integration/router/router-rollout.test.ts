/**
 * The test that proves the Router (issue #13): under load, through a real sidecar and a real
 * control plane, a Router walks a service through add-version, 10%, 50%, 100%, remove-old-version
 * and back without one non-2xx answer, because each step reaches the store only once the one
 * before it is in effect on every proxy (subsets before routes, routes before removals).
 *
 * Side by side, in the same test and under the same load, the same change made as plain
 * DestinationRule/VirtualService writes in the order tools and people often make them (the route
 * first, the subset a moment later, as two `kubectl apply`s or two owners do) answers 503s while
 * the route names a subset no proxy has yet: Istio's issue 8420. (One write holding both is safe
 * on a Trellis proxy already: ADS orders clusters before routes, canary-zero-503.test.ts.)
 *
 * Then a proxy that stops taking clusters (it NACKs) stops the rollout: the Router's status turns
 * Stalled and names it, and no route naming the new subset is written.
 *
 *   load (8 keep-alive connections) --> sidecar outbound --> reviews v1 | reviews v2
 *                                          ^ xDS, 25 ms each way (a relay)
 *                                                        --> ratings v1 | ratings v2 (plain writes)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBackend, type Backend } from '../../../src/proxy/testing/harness.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import type { RouterStatus } from '../../../src/controllers/router/controller.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { startSidecar } from '../helpers/sidecar.js';
import { startLatencyRelay } from '../helpers/latency-relay.js';
import { connectControllable } from './controllable-client.js';
import { runTrellis } from '../helpers/process.js';

const REVIEWS = 'reviews.default.svc.cluster.local';
const RATINGS = 'ratings.default.svc.cluster.local';
const CONCURRENCY = 8;
/** A bound on any one load run, so a broken rollout fails the test instead of hanging it. */
const MAX_REQUESTS = 200_000;

const workloads = (app: string, v1: Backend, v2: Backend) =>
  [
    [v1, 'v1'],
    [v2, 'v2'],
  ]
    .map(
      ([b, v]) => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: ${app}-${v as string}, namespace: default }
spec:
  address: 127.0.0.1
  ports: { http-9080: ${(b as Backend).port} }
  labels: { app: ${app}, branch: master, version: ${v as string} }
`,
    )
    .join('---\n');

const router = (versions: Record<string, number>, extra = '') => `apiVersion: trellis.io/v1alpha1
kind: Router
metadata: { name: reviews, namespace: default }
spec:
  port: 9080
  protocol: http
${extra}  subsets:
  - branch: master
    versions: { ${Object.entries(versions)
      .map(([v, w]) => `${v}: ${w}`)
      .join(', ')} }
`;

/** ratings as a user writes it by hand: one ServiceEntry, then DR and VS as separate writes. */
const RATINGS_SERVICE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ratings, namespace: default }
spec:
  hosts: [${RATINGS}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http-9080, protocol: HTTP }]
  workloadSelector: { labels: { app: ratings } }
`;
const ratingsRule = (subsets: string[]) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ratings, namespace: default }
spec:
  host: ${RATINGS}
  subsets:
${subsets.map((s) => `  - { name: ${s}, labels: { version: ${s} } }`).join('\n')}
`;
const ratingsRoute = (weights: Record<string, number>) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings, namespace: default }
spec:
  hosts: [${RATINGS}]
  http:
  - route:
${Object.entries(weights)
  .map(([s, w]) => `    - { destination: { host: ${RATINGS}, subset: ${s} }, weight: ${w} }`)
  .join('\n')}
`;

interface Load {
  total: number;
  failures: Map<string, number>;
  byBackend: Map<string, number>;
  stop(): Promise<void>;
}

/** A bounded client loop against `host` through the sidecar's outbound port, until stopped. */
function startLoad(port: number, host: string): Load {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let stopping = false;
  const load: Load = {
    total: 0,
    failures: new Map(),
    byBackend: new Map(),
    stop: async () => {
      stopping = true;
      await workers;
      agent.destroy();
    },
  };
  const one = () =>
    new Promise<{ status: string; backend: string }>((resolve) => {
      const req = http.request(
        { host: '127.0.0.1', port, path: `http://${host}:9080/`, headers: { host: `${host}:9080` }, agent },
        (res) => {
          res.resume();
          res.on('end', () =>
            resolve({ status: String(res.statusCode ?? 0), backend: String(res.headers['x-backend'] ?? '') }),
          );
          res.on('error', (err) => resolve({ status: `error: ${err.message}`, backend: '' }));
        },
      );
      req.on('error', (err) => resolve({ status: `error: ${err.message}`, backend: '' }));
      req.end();
    });
  const workers = Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (!stopping && load.total < MAX_REQUESTS) {
        load.total++;
        const { status, backend } = await one();
        if (!status.startsWith('2')) load.failures.set(status, (load.failures.get(status) ?? 0) + 1);
        load.byBackend.set(backend, (load.byBackend.get(backend) ?? 0) + 1);
      }
    }),
  );
  return load;
}

const describeLoad = (l: Load) =>
  `${l.total} requests, failures ${JSON.stringify([...l.failures])}, backends ${JSON.stringify([...l.byBackend])}`;

function status(mesh: TestMesh): RouterStatus | undefined {
  return mesh.cp.routers.controller.statuses().find((s) => s.name === 'reviews');
}

/** Applies a Router version and waits until its rollout is Ready for that generation. */
async function step(mesh: TestMesh, versions: Record<string, number>): Promise<void> {
  mesh.apply(router(versions));
  const generation = mesh.store.get('Router', 'default', 'reviews')?.metadata.resourceVersion;
  await eventually(
    () => {
      const s = status(mesh);
      assert.equal(s?.observedGeneration, generation);
      assert.equal(s?.phase, 'Ready', s?.message);
    },
    { what: `the Router at ${JSON.stringify(versions)} in effect`, timeoutMs: 15_000 },
  );
}

test('Router: add-version, 10%, 50%, 100%, remove-old-version and back with 0 non-2xx; plain writes in the wrong order 503', async (t) => {
  const backends = {
    reviews: [await startBackend('reviews-v1'), await startBackend('reviews-v2')] as const,
    ratings: [await startBackend('ratings-v1'), await startBackend('ratings-v2')] as const,
  };
  const mesh = await startMesh({ debounceMs: 10 });
  // The sidecar hears the control plane 25 ms late each way, so a step is in effect well after
  // it is written: the gate has something to wait for.
  const relay = await startLatencyRelay(mesh.xdsPort, 25);
  const sidecar = await startSidecar(relay.port, { app: 'productpage' });
  t.after(async () => {
    await sidecar.stop(100);
    await relay.close();
    await mesh.stop();
    for (const b of [...backends.reviews, ...backends.ratings]) await b.close();
  });
  mesh.apply(workloads('reviews', ...backends.reviews));
  mesh.apply(workloads('ratings', ...backends.ratings));
  const port = sidecar.listeners.ports.outbound;

  // --- the Router ------------------------------------------------------------------------------
  await step(mesh, { v1: 100 });
  await eventually(async () => {
    const probe = startLoad(port, REVIEWS);
    await sleep(20);
    await probe.stop();
    assert.ok((probe.byBackend.get('reviews-v1') ?? 0) > 0 && probe.failures.size === 0, describeLoad(probe));
  }, 'the Router serves v1');
  const routed = startLoad(port, REVIEWS);
  const walk: Record<string, number>[] = [
    { v1: 100, v2: 0 }, // add the version
    { v1: 90, v2: 10 },
    { v1: 50, v2: 50 },
    { v1: 0, v2: 100 },
    { v2: 100 }, // remove the old version
    { v1: 0, v2: 100 }, // and back
    { v1: 50, v2: 50 },
    { v1: 100, v2: 0 },
    { v1: 100 },
  ];
  for (const versions of walk) {
    await step(mesh, versions);
    await sleep(150); // load at each step
  }
  await routed.stop();
  t.diagnostic(`Router: ${describeLoad(routed)}`);
  assert.equal(routed.failures.size, 0, `Router: ${describeLoad(routed)}`);
  assert.ok((routed.byBackend.get('reviews-v2') ?? 0) > 0, `v2 was reached: ${describeLoad(routed)}`);

  // --- the same change as plain writes, route first ------------------------------------------
  mesh.apply(RATINGS_SERVICE + '---\n' + ratingsRule(['v1']) + '---\n' + ratingsRoute({ v1: 100 }));
  // Probe only once the sidecar runs it: a request sent before goes to the allow_any egress
  // route, whose DNS lookup of the mesh name can take seconds to fail where no resolver answers.
  const ratingsRevision = mesh.store.revision;
  await eventually(() => {
    const report = mesh.cp.apiViews().convergence!.report(ratingsRevision);
    assert.ok(report.inEffect, JSON.stringify(report.lagging));
  }, 'ratings in effect on the sidecar');
  await eventually(async () => {
    const probe = startLoad(port, RATINGS);
    await sleep(20);
    await probe.stop();
    assert.ok(probe.failures.size === 0 && (probe.byBackend.get('ratings-v1') ?? 0) > 0, describeLoad(probe));
  }, 'ratings serves v1');
  const plain = startLoad(port, RATINGS);
  await sleep(100);
  mesh.apply(ratingsRoute({ v1: 50, v2: 50 })); // the route names v2...
  await sleep(300);
  mesh.apply(ratingsRule(['v1', 'v2'])); // ...before the subset exists
  await sleep(300);
  await plain.stop();
  t.diagnostic(`plain writes: ${describeLoad(plain)}`);
  assert.ok(plain.failures.size > 0, `plain writes in the wrong order fail requests: ${describeLoad(plain)}`);
  assert.ok(
    [...plain.failures.keys()].every((s) => s === '503'),
    describeLoad(plain),
  );
});

test('Router: a proxy that NACKs the new subset stalls the rollout with its name; the route is not written', async (t) => {
  const mesh = await startMesh({ debounceMs: 10 });
  const v1 = await startBackend('reviews-v1');
  const v2 = await startBackend('reviews-v2');
  const stuck = connectControllable(mesh.xdsPort, {
    id: 'sidecar~10.9.0.9~details-v1.default~default.svc.cluster.local',
    metadata: { NAMESPACE: 'default', WORKLOAD_NAME: 'details-v1' },
  });
  t.after(async () => {
    stuck.close();
    await mesh.stop();
    await v1.close();
    await v2.close();
  });
  mesh.apply(workloads('reviews', v1, v2));
  const timeout = '  rolloutTimeout: 300ms\n';
  mesh.apply(router({ v1: 100 }, timeout));
  await eventually(
    () => assert.equal(status(mesh)?.phase, 'Ready', status(mesh)?.message),
    'the first rollout',
  );

  stuck.answer('CDS', { nack: 'cluster outbound|9080|master-v2|reviews: refused' });
  mesh.apply(router({ v1: 90, v2: 10 }, timeout));
  await eventually(
    () => {
      const s = status(mesh);
      assert.equal(s?.phase, 'Stalled', s?.message);
      assert.equal(s?.step, 'add-subsets');
      assert.deepEqual(
        s?.lagging.map((l) => [l.name, l.reason]),
        [['details-v1.default', 'nack']],
      );
      assert.match(
        s?.message ?? '',
        /details-v1\.default \(nack: rejected CDS: cluster outbound\|9080\|master-v2\|reviews: refused\)/,
      );
    },
    { what: 'the rollout stalled on the NACKing proxy', timeoutMs: 5000 },
  );
  const vs = mesh.cp.routers.layer.get('VirtualService', 'default', 'reviews');
  assert.doesNotMatch(JSON.stringify(vs?.spec), /master-v2/, 'no route names the subset the proxy refused');
  // Over HTTP, as `trellis get routers` reads it.
  const api = (await (await fetch(`${mesh.httpUrl}/v1/routers`)).json()) as RouterStatus[];
  assert.equal(api[0]?.phase, 'Stalled');
  const cp = ['--control-plane', mesh.httpUrl];
  const get = await runTrellis(['get', 'routers', ...cp]);
  assert.equal(get.code, 0, get.stderr);
  assert.match(get.stdout, /NAME\s+PORT\s+BRANCHES\s+PHASE\s+STEP\s+REVISION\s+WAITING ON\s+AGE/);
  assert.match(
    get.stdout,
    /reviews\s+9080\s+master\s+Stalled\s+add-subsets\s+\d+\s+details-v1\.default \(nack\)/,
  );
  const waitStalled = await runTrellis(['wait', 'router', 'reviews', '--timeout', '300ms', ...cp]);
  assert.equal(waitStalled.code, 1, waitStalled.stdout);
  assert.match(waitStalled.stderr, /router\/reviews in namespace default is not in effect after 300ms/);
  assert.match(waitStalled.stderr, /details-v1\.default/);
  const derived = await runTrellis(['get', 'vs', '-o', 'wide', ...cp]);
  assert.equal(derived.code, 0, derived.stderr);
  assert.match(
    derived.stdout,
    /reviews\s+\["reviews\.default\.svc\.cluster\.local"\]\s+\S+\s+Router\/default\/reviews\n/,
  );

  // The proxy is fixed and comes back (a NACKed config is not sent again unchanged): it takes
  // the subset, and the rollout resumes and finishes.
  stuck.close();
  const fixed = connectControllable(mesh.xdsPort, {
    id: 'sidecar~10.9.0.9~details-v1.default~default.svc.cluster.local',
    metadata: { NAMESPACE: 'default', WORKLOAD_NAME: 'details-v1' },
  });
  t.after(() => fixed.close());
  await eventually(() => assert.equal(status(mesh)?.phase, 'Ready', status(mesh)?.message), {
    what: 'the rollout resumed',
    timeoutMs: 5000,
  });
  assert.match(
    JSON.stringify(mesh.cp.routers.layer.get('VirtualService', 'default', 'reviews')?.spec),
    /master-v2/,
  );
  const waited = await runTrellis(['wait', 'router', 'reviews', '--timeout', '5s', ...cp]);
  assert.equal(waited.code, 0, waited.stderr);
  assert.match(waited.stdout, /router\/reviews in namespace default in effect on 1 proxy/);
});
