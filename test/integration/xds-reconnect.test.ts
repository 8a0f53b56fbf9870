/**
 * Issue #10 finding 9: after a long control-plane outage a proxy must resync within a few seconds
 * of the control plane's return, however many reconnect attempts failed meanwhile (the reconnect
 * backoff once grew to 28 s).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeAds } from '../../src/proxy/testing/fake-ads.js';
import { eventually } from '../../src/core/testing/eventually.js';
import { memoryLogger, request, startBackend, startMesh } from '../../src/proxy/testing/harness.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  routeTo,
  virtualHost,
} from '../../src/proxy/testing/resources.js';

const C = 'outbound|9080||reviews.default.svc.cluster.local';

test('a proxy resyncs within a few seconds of the control plane returning after many failed reconnects', async (t) => {
  const backend = await startBackend('reviews');
  const resources = {
    CDS: [edsCluster(C)],
    EDS: [endpoints(C, [{ port: backend.port }])],
    LDS: [httpListener(9080)],
    RDS: [routeConfig('9080', [virtualHost('reviews', ['reviews:9080'], [routeTo(C, { prefix: '/old' })])])],
  };
  const { logger, lines } = memoryLogger('proxy');
  // The proxy's own default reconnect backoff (the harness normally shortens it), with the
  // random source at its top so every delay is the longest the policy allows.
  const mesh = await startMesh(resources, { xdsBackoff: undefined, random: () => 0.999999, logger }, FakeAds);
  const adsPort = Number(mesh.ads.address.split(':')[1]);
  const restarted: { ads?: FakeAds } = {};
  t.after(async () => {
    await mesh.proxy.stop(100);
    await restarted.ads?.close();
    await backend.close();
  });
  const closes = () => lines.filter((l) => l.includes('control plane stream closed')).length;

  await mesh.ads.close();
  // Several failed attempts in a row: an uncapped exponential backoff is past 8 s by now.
  await eventually(() => closes() >= 5, { what: 'five failed reconnects', timeoutMs: 30_000 });
  assert.equal((await request(mesh.port, { host: 'reviews:9080', path: '/old' })).status, 200);

  const second = await FakeAds.start(adsPort);
  restarted.ads = second;
  second.set('CDS', resources.CDS);
  second.set('EDS', resources.EDS);
  second.set('LDS', resources.LDS);
  second.set('RDS', [
    routeConfig('9080', [virtualHost('reviews', ['reviews:9080'], [routeTo(C, { prefix: '/new' })])]),
  ]);
  const returnedAt = Date.now();
  await second.waitFor(() => second.acks('RDS').length > 0, 'the proxy to resync', 6000);
  const tookMs = Date.now() - returnedAt;
  await eventually(
    async () => (await request(mesh.port, { host: 'reviews:9080', path: '/new' })).status === 200,
    'new routes',
  );
  t.diagnostic(`resynced ${tookMs} ms after the control plane returned (${closes()} failed attempts before)`);
});
