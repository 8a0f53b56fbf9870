/**
 * Issue #16: a proxy given several control planes keeps serving while the one it is connected to
 * dies, moves to a survivor within seconds, and takes that survivor's later changes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeAds } from '../../../src/proxy/testing/fake-ads.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import { request, startBackend, startProxy } from '../../../src/proxy/testing/harness.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  routeTo,
  virtualHost,
} from '../../../src/proxy/testing/resources.js';

const C = 'outbound|9080||reviews.default.svc.cluster.local';

test('a proxy fails over to the second control plane with no failed request, then follows it', async (t) => {
  const backend = await startBackend('reviews');
  const resources = {
    CDS: [edsCluster(C)],
    EDS: [endpoints(C, [{ port: backend.port }])],
    LDS: [httpListener(9080)],
    RDS: [routeConfig('9080', [virtualHost('reviews', ['reviews:9080'], [routeTo(C, { prefix: '/' })])])],
  };
  const [a, b] = [await FakeAds.start(), await FakeAds.start()];
  for (const ads of [a, b])
    for (const [type, list] of Object.entries(resources)) ads.set(type as 'CDS', list);
  const proxy = await startProxy(a, { xds: [a.address, b.address] });
  t.after(async () => {
    await proxy.stop(100);
    await a.close();
    await b.close();
    await backend.close();
  });
  await eventually(() => proxy.ready, 'proxy ready');
  for (const type of ['CDS', 'EDS', 'LDS', 'RDS'] as const) await a.waitForAck(type);
  const port = proxy.listeners.ports.outbound;
  assert.equal((await request(port, { host: 'reviews:9080', path: '/' })).status, 200);
  assert.equal(b.requests.length, 0, 'the second control plane is not used while the first serves');

  // Steady traffic while the first control plane goes away.
  let stop = false;
  const statuses: number[] = [];
  const load = (async () => {
    while (!stop) statuses.push((await request(port, { host: 'reviews:9080', path: '/' })).status);
  })();
  const killedAt = Date.now();
  await a.close();
  await b.waitForAck('RDS');
  const resyncMs = Date.now() - killedAt;
  stop = true;
  await load;
  assert.ok(statuses.length > 0);
  assert.deepEqual(
    statuses.filter((s) => s !== 200),
    [],
    `${statuses.length} requests during the failover`,
  );
  assert.ok(resyncMs < 5000, `resynced to the survivor in ${resyncMs} ms`);

  // The survivor's changes reach the proxy.
  b.set('RDS', [
    routeConfig('9080', [virtualHost('reviews', ['reviews:9080'], [routeTo(C, { prefix: '/new-only' })])]),
  ]);
  await eventually(
    async () => (await request(port, { host: 'reviews:9080', path: '/' })).status === 404,
    'the route from the second control plane',
  );
  assert.equal((await request(port, { host: 'reviews:9080', path: '/new-only' })).status, 200);
});
