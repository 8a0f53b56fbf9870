import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeAds } from './testing/fake-ads.js';
import { eventually } from '../core/testing/eventually.js';
import { request, startBackend, startProxy } from './testing/harness.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  routeTo,
  virtualHost,
} from './testing/resources.js';

const REVIEWS = 'outbound|9080||reviews.default.svc.cluster.local';
const RATINGS = 'outbound|9080||ratings.default.svc.cluster.local';

test('routes HTTP/1.1 by host and path to two backends, subscribing in Envoy order', async (t) => {
  const reviews = await startBackend('reviews');
  const ratings = await startBackend('ratings');
  const ads = await FakeAds.start();
  ads.set('CDS', [edsCluster(REVIEWS), edsCluster(RATINGS)]);
  ads.set('EDS', [
    endpoints(REVIEWS, [{ port: reviews.port }]),
    endpoints(RATINGS, [{ port: ratings.port }]),
  ]);
  ads.set('LDS', [httpListener(9080)]);
  ads.set('RDS', [
    routeConfig('9080', [
      virtualHost(
        'reviews',
        ['reviews', 'reviews:9080', 'reviews.default.svc.cluster.local:9080'],
        [routeTo(REVIEWS)],
      ),
      virtualHost('ratings', ['ratings:9080'], [routeTo(RATINGS, { prefix: '/ratings' })]),
    ]),
  ]);
  const proxy = await startProxy(ads);
  t.after(async () => {
    await proxy.stop(100);
    await ads.close();
    await reviews.close();
    await ratings.close();
  });
  await eventually(() => proxy.ready, 'proxy ready');
  await ads.waitForAck('RDS');
  const order = ads.requests.filter((r) => r.response_nonce === '').map((r) => r.type);
  assert.deepEqual(order, ['CDS', 'EDS', 'LDS', 'RDS']);
  assert.equal(
    ads.requests[0]!.node?.id,
    'sidecar~127.0.0.1~productpage-v1.default~default.svc.cluster.local',
  );

  const port = proxy.listeners.ports.outbound;
  const a = await request(port, { host: 'reviews:9080', path: '/reviews/1' });
  assert.equal(a.status, 200);
  assert.equal(a.json().backend, 'reviews');
  assert.ok(a.headers['x-envoy-upstream-service-time'] !== undefined);
  const b = await request(port, { host: 'ratings:9080', path: '/ratings/1' });
  assert.equal(b.json().backend, 'ratings');
  const headers = b.json<{ headers: Record<string, string> }>().headers;
  assert.match(headers['x-request-id'] ?? '', /^[0-9a-f-]{36}$/);
  assert.match(headers.traceparent ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);

  const nr = await request(port, { host: 'ratings:9080', path: '/other' });
  assert.equal(nr.status, 404);
  assert.match(nr.body, /no route/);
});
