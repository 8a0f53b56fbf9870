/**
 * The Trellis proxy speaks delta (incremental) xDS to the real control plane: it subscribes
 * wildcard to CDS and LDS and by name to EDS and RDS, a config change arrives as only the
 * resources that changed, a removal as removed_resources (and the proxy unsubscribes what it no
 * longer needs), and after a control plane restart it resumes with initial_resource_versions so
 * unchanged resources are not sent again.
 *
 *   proxy (auto -> delta) --> DeltaTap (records both directions) --> ControlPlane (memory store)
 *                                                                     restarted mid-test
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../src/core/logger.js';
import { seededRandom } from '../../src/core/random.js';
import { ControlPlane } from '../../src/controlplane/control-plane.js';
import { TrellisProxy } from '../../src/proxy/proxy.js';
import { request, startBackend, type Backend } from '../../src/proxy/testing/harness.js';
import { DeltaTap, type TappedResponse } from './helpers/delta-tap.js';
import { eventually } from '../../src/core/testing/eventually.js';
import { startMesh, type TestMesh } from './helpers/mesh.js';

const NODE = 'sidecar~10.9.0.1~client-1.default~default.svc.cluster.local';
const host = (svc: string) => `${svc}.default.svc.cluster.local`;
const cluster = (svc: string, port: number) => `outbound|${port}||${host(svc)}`;

let mesh: TestMesh;
/** The control plane serving now (the mesh's, then its replacement). */
let cp: ControlPlane;
let tap: DeltaTap;
let proxy: TrellisProxy;
let sotwProxy: TrellisProxy | undefined;
let reviews: Backend;
let ratings: Backend;

const clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimeout: (fn: () => void, ms: number) => {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

function serviceEntry(svc: string, port: number, weight = 1): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${svc} }
spec:
  hosts: [${host(svc)}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: ${port}, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1, weight: ${weight}, labels: { app: ${svc} } }]
`;
}

async function startTrellisProxy(xds: string, protocol?: 'sotw'): Promise<TrellisProxy> {
  const p = new TrellisProxy({
    xds,
    bootstrap: {
      nodeId: protocol ? NODE.replace('client-1', 'client-2') : NODE,
      cluster: 'client.default',
      mode: 'sidecar',
      namespace: 'default',
      workloadName: 'client-1',
      labels: { app: 'client' },
      instanceIps: ['10.9.0.1'],
      locality: '',
    },
    version: 'test',
    bindAddress: '127.0.0.1',
    adminAddress: '127.0.0.1',
    adminPort: 0,
    outboundPort: 0,
    inboundPort: 0,
    bindListeners: [],
    clock,
    random: seededRandom(3),
    logger: silentLogger,
    accessLogStdout: { write: () => true },
    xdsBackoff: { baseMs: 20, maxMs: 200 },
    ...(protocol ? { xdsProtocol: protocol } : {}),
  });
  await p.start();
  return p;
}

async function status(svc: string, port: number, via = proxy): Promise<number> {
  const authority = `${host(svc)}:${port}`;
  return (await request(via.listeners.ports.outbound, { host: authority, path: `http://${authority}/` }))
    .status;
}

/** Every resource name the tap saw pushed (per type) from response index `from` on. */
function pushedSince(from: number, type: string): string[] {
  return tap.responses.slice(from).flatMap((r: TappedResponse) => (r.type === type ? r.names : []));
}

before(async () => {
  reviews = await startBackend('reviews');
  ratings = await startBackend('ratings');
  mesh = await startMesh({ debounceMs: 10 });
  cp = mesh.cp;
  mesh.apply(serviceEntry('reviews', reviews.port));
  tap = await DeltaTap.start(`127.0.0.1:${mesh.xdsPort}`);
  proxy = await startTrellisProxy(tap.address);
});

after(async () => {
  await proxy.stop(100);
  await sotwProxy?.stop(100);
  await tap.close();
  await cp.stop();
  await reviews.close();
  await ratings.close();
});

test('the proxy uses delta xDS against the control plane: wildcard CDS/LDS, named EDS/RDS', async () => {
  await eventually(async () => (await status('reviews', reviews.port)) === 200, 'traffic to reviews');
  assert.equal(proxy.ads.stats.protocol, 'delta');
  assert.equal(proxy.ads.stats.fallbacks, 0);
  const row = cp.ads.status().find((s) => s.proxy === NODE);
  assert.equal(row?.mode, 'delta');

  const cds = tap.requestsOn(1, 'CDS')[0];
  assert.deepEqual(cds?.resource_names_subscribe, [], 'the first CDS request is a wildcard subscription');
  assert.deepEqual(cds?.initial_resource_versions, {});
  const eds = tap.requestsOn(1, 'EDS')[0];
  assert.ok(eds?.resource_names_subscribe.includes(cluster('reviews', reviews.port)));
  assert.equal(eds?.response_nonce, '', 'a subscription change carries no nonce');
  const rds = tap.requestsOn(1, 'RDS')[0];
  assert.ok(rds?.resource_names_subscribe.includes(String(reviews.port)));
  // Every response was ACKed with its nonce and nothing was rejected.
  await eventually(
    () =>
      tap.responsesOn(1).every((res) => tap.requestsOn(1).some((req) => req.response_nonce === res.nonce)),
    'ACKs',
  );
  assert.equal(tap.requests.filter((r) => r.error_detail).length, 0);
  assert.equal(proxy.ads.stats.nacks, 0);
  const info = (await (await fetch(`http://127.0.0.1:${proxy.adminPort}/server_info`)).json()) as {
    xds: { protocol: string };
  };
  assert.equal(info.xds.protocol, 'delta', '/server_info says which protocol is in use');

  // `--xds-protocol sotw` still works against the same control plane.
  sotwProxy = await startTrellisProxy(`127.0.0.1:${mesh.xdsPort}`, 'sotw');
  await eventually(
    async () => (await status('reviews', reviews.port, sotwProxy)) === 200,
    'sotw proxy traffic',
  );
  assert.equal(sotwProxy.ads.stats.protocol, 'sotw');
  assert.equal(cp.ads.status().find((s) => s.proxy !== NODE)?.mode, 'sotw');
  await sotwProxy.stop(100);
  sotwProxy = undefined;
});

test('a config change arrives as an increment: only the new and changed resources are sent', async () => {
  const mark = tap.responses.length;
  const updatedBefore = proxy.ads.stats.resourcesUpdated;
  mesh.apply(serviceEntry('ratings', ratings.port));
  await eventually(async () => (await status('ratings', ratings.port)) === 200, 'traffic to ratings');
  assert.deepEqual(pushedSince(mark, 'CDS'), [cluster('ratings', ratings.port)]);
  assert.deepEqual(pushedSince(mark, 'EDS'), [cluster('ratings', ratings.port)]);
  assert.deepEqual(pushedSince(mark, 'LDS'), [`0.0.0.0_${ratings.port}`]);
  assert.deepEqual(pushedSince(mark, 'RDS'), [String(ratings.port)]);
  assert.equal(proxy.ads.stats.resourcesUpdated - updatedBefore, 4);
  // The EDS and RDS subscriptions grew by exactly the new names.
  const newSubs = tap.requests.filter((r) => r.resource_names_subscribe.length > 0).slice(-2);
  assert.deepEqual(
    newSubs.map((r) => [r.type, r.resource_names_subscribe]),
    [
      ['EDS', [cluster('ratings', ratings.port)]],
      ['RDS', [String(ratings.port)]],
    ],
  );

  // An endpoint-only change: one ClusterLoadAssignment, nothing else.
  const mark2 = tap.responses.length;
  mesh.apply(serviceEntry('reviews', reviews.port, 3));
  await eventually(() => pushedSince(mark2, 'EDS').length > 0, 'the EDS update');
  // Anything else that change sent would arrive before the push of a later change: make one
  // (ratings' weight) and expect exactly the two endpoint updates.
  mesh.apply(serviceEntry('ratings', ratings.port, 2));
  await eventually(
    () => pushedSince(mark2, 'EDS').includes(cluster('ratings', ratings.port)),
    'the second EDS update',
  );
  assert.deepEqual(
    tap.responses.slice(mark2).flatMap((r) => r.names.map((n) => `${r.type} ${n}`)),
    [`EDS ${cluster('reviews', reviews.port)}`, `EDS ${cluster('ratings', ratings.port)}`],
  );
  assert.equal(
    proxy.snapshot().endpoints.get(cluster('reviews', reviews.port))?.localities[0]?.endpoints[0]?.weight,
    3,
  );
  assert.equal(await status('reviews', reviews.port), 200);
});

test('a removed service is removed from the proxy, which unsubscribes its endpoints and routes', async () => {
  const mark = tap.responses.length;
  const reqMark = tap.requests.length;
  mesh.remove('ServiceEntry', 'ratings');
  await eventually(() => !proxy.snapshot().clusters.has(cluster('ratings', ratings.port)), 'ratings gone');
  const removed = tap.responses.slice(mark).flatMap((r) => r.removed.map((n) => `${r.type} ${n}`));
  assert.ok(removed.includes(`CDS ${cluster('ratings', ratings.port)}`), removed.join(', '));
  await eventually(() => !proxy.snapshot().listeners.has(`0.0.0.0_${ratings.port}`), 'listener gone');
  assert.ok(
    tap.responses.slice(mark).some((r) => r.type === 'LDS' && r.removed.includes(`0.0.0.0_${ratings.port}`)),
  );
  await eventually(() => {
    const unsub = tap.requests
      .slice(reqMark)
      .flatMap((r) => r.resource_names_unsubscribe.map((n) => `${r.type} ${n}`));
    return unsub.includes(`EDS ${cluster('ratings', ratings.port)}`) && unsub.includes(`RDS ${ratings.port}`);
  }, 'unsubscribes');
  assert.deepEqual(proxy.ads.cache.resourceNames('EDS'), [cluster('reviews', reviews.port)]);
  assert.equal(proxy.snapshot().endpoints.has(cluster('ratings', ratings.port)), false);
  assert.notEqual(await status('ratings', ratings.port), 200);
  assert.equal(await status('reviews', reviews.port), 200);
  assert.ok(proxy.ads.stats.resourcesRemoved >= 2);
});

test('after a control plane restart the proxy resumes with initial_resource_versions; only changes are resent', async () => {
  const held = {
    CDS: proxy.ads.cache.heldVersions('CDS'),
    EDS: proxy.ads.cache.heldVersions('EDS'),
    LDS: proxy.ads.cache.heldVersions('LDS'),
    RDS: proxy.ads.cache.heldVersions('RDS'),
  };
  assert.ok(Object.keys(held.CDS).includes(cluster('reviews', reviews.port)));
  const lastStream = tap.streams;
  await cp.stop();
  // A change while the control plane is away; the new one starts from the same store.
  mesh.apply(serviceEntry('details', 9080));
  cp = new ControlPlane({ config: mesh.store, debounce: { quietMs: 10, maxMs: 1000 } });
  const bound = await cp.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 });
  tap.target = `127.0.0.1:${bound.xds.port}`;

  await eventually(
    () => proxy.snapshot().clusters.has(cluster('details', 9080)),
    'details from the new control plane',
  );
  // The stream that reached the new control plane: the first after the restart with responses.
  const stream = tap.responses.find((r) => r.stream > lastStream)!.stream;
  for (const type of ['CDS', 'EDS', 'LDS', 'RDS'] as const) {
    const first = tap.requestsOn(stream, type)[0];
    assert.deepEqual(first?.initial_resource_versions, held[type], `${type} initial_resource_versions`);
    assert.deepEqual(
      first?.resource_names_subscribe,
      type === 'CDS' || type === 'LDS' ? [] : Object.keys(held[type]).sort(),
      `${type} resubscribes every name it needs`,
    );
  }
  // Nothing the proxy already had was sent again: only details' resources crossed the wire.
  await eventually(
    () => proxy.snapshot().endpoints.has(cluster('details', 9080)) && proxy.snapshot().routes.has('9080'),
    'details endpoints and routes',
  );
  const sent = tap.responsesOn(stream).flatMap((r) => r.names.map((n) => `${r.type} ${n}`));
  assert.deepEqual(sent.sort(), [
    `CDS ${cluster('details', 9080)}`,
    `EDS ${cluster('details', 9080)}`,
    'LDS 0.0.0.0_9080',
    'RDS 9080',
  ]);
  assert.equal(cp.ads.status().find((s) => s.proxy === NODE)?.mode, 'delta');
  assert.equal(await status('reviews', reviews.port), 200);
});
