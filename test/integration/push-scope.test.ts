/**
 * Config is pushed only where it matters: an endpoint-only change sends only EDS, and only to
 * proxies that use that service; a change a proxy cannot see (Sidecar egress scoping) sends it
 * nothing at all.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connectEnvoyLike, type EnvoyLikeClient } from './helpers/envoy-like-client.js';
import { eventually } from '../../src/core/testing/eventually.js';
import { startMesh, type TestMesh } from './helpers/mesh.js';

let mesh: TestMesh;
const RATINGS = 'outbound|9080||ratings.default.svc.cluster.local';
const clients: EnvoyLikeClient[] = [];

const service = (name: string, ip: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name} }
spec:
  hosts: [${name}.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  endpoints: [{ address: ${ip}, labels: { app: ${name}, version: v1 } }]
`;

before(async () => {
  mesh = await startMesh({ debounceMs: 10 });
  mesh.apply(service('reviews', '10.0.0.1'));
  mesh.apply(service('ratings', '10.0.0.2'));
  mesh.apply(service('details', '10.0.0.3'));
  // The `scoped` workload only sees ratings.
  mesh.apply(`apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: scoped }
spec:
  workloadSelector: { labels: { app: scoped } }
  egress: [{ hosts: [./ratings.default.svc.cluster.local] }]
`);
});

after(async () => {
  for (const c of clients) c.close();
  await mesh.stop();
});

function settled(c: EnvoyLikeClient): Promise<number> {
  // Settled = no new response for 300 ms after having CDS, EDS, LDS and RDS.
  let lastCount = -1;
  let stableSince = Date.now();
  return eventually(() => {
    const types = new Set(c.received.map((r) => r.type));
    if (c.received.length !== lastCount) {
      lastCount = c.received.length;
      stableSince = Date.now();
      return false;
    }
    return ['CDS', 'EDS', 'LDS', 'RDS'].every((t) => types.has(t)) && Date.now() - stableSince > 300
      ? c.received.length
      : false;
  }, 'client to settle');
}

test('endpoint-only change: only EDS, only to proxies that use the service; unseen changes send nothing', async () => {
  const all = connectEnvoyLike(mesh.xdsPort, {
    id: 'sidecar~10.1.0.1~productpage-1.default~default.svc.cluster.local',
    metadata: { LABELS: { app: 'productpage' } },
  });
  const scoped = connectEnvoyLike(mesh.xdsPort, {
    id: 'sidecar~10.1.0.2~scoped-1.default~default.svc.cluster.local',
    metadata: { LABELS: { app: 'scoped' } },
  });
  clients.push(all, scoped);
  const allBefore = await settled(all);
  const scopedBefore = await settled(scoped);
  assert.ok(
    all.resources
      .get('type.googleapis.com/envoy.config.cluster.v3.Cluster')
      ?.has('outbound|9080||reviews.default.svc.cluster.local'),
  );
  const scopedClusters = [
    ...(scoped.resources.get('type.googleapis.com/envoy.config.cluster.v3.Cluster')?.keys() ?? []),
  ];
  assert.ok(
    scopedClusters.includes('outbound|9080||ratings.default.svc.cluster.local'),
    scopedClusters.join(),
  );
  assert.ok(
    !scopedClusters.some((c) => c.includes('reviews')),
    `scoped proxy sees ${scopedClusters.join()} ${JSON.stringify(scoped.received)}`,
  );

  // reviews moves to a new address: EDS for the unscoped proxy, nothing for the scoped one.
  // Rather than wait and see that nothing came, follow with a change both proxies see (ratings
  // moves): each proxy's next messages must be exactly the ones that change calls for.
  mesh.apply(service('reviews', '10.0.0.9'));
  await eventually(() => all.received.length > allBefore, 'EDS push');
  await ratingsMovesTo('10.0.0.8', [all, scoped]);
  const pushed = all.received.slice(allBefore);
  assert.deepEqual(
    pushed.map((r) => r.type),
    ['EDS', 'EDS'],
    `reviews then ratings endpoints, nothing else: ${JSON.stringify(pushed)}`,
  );
  assert.deepEqual(
    scoped.received.slice(scopedBefore).map((r) => r.type),
    ['EDS'],
    `the scoped proxy got only the ratings change: ${JSON.stringify(scoped.received.slice(scopedBefore))}`,
  );

  // A VirtualService for reviews (invisible to `scoped`) changes routes of the other proxy only.
  const allMid = all.received.length;
  const scopedMid = scoped.received.length;
  mesh.apply(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http: [{ timeout: 3s, route: [{ destination: { host: reviews } }] }]
`);
  await eventually(() => all.received.slice(allMid).some((r) => r.type === 'RDS'), 'RDS push');
  await ratingsMovesTo('10.0.0.7', [scoped]);
  assert.deepEqual(
    scoped.received.slice(scopedMid).map((r) => r.type),
    ['EDS'],
    `the scoped proxy got only the ratings change: ${JSON.stringify(scoped.received.slice(scopedMid))}`,
  );
});

/** Moves ratings and waits until each client got the EDS push that carries the new address. */
async function ratingsMovesTo(ip: string, to: EnvoyLikeClient[]): Promise<void> {
  const marks = to.map((c) => c.received.length);
  mesh.apply(service('ratings', ip));
  await eventually(
    () =>
      to.every((c, i) =>
        c.received.slice(marks[i]).some((r) => r.type === 'EDS' && r.names.includes(RATINGS)),
      ),
    `the ratings move to ${ip}`,
  );
}
