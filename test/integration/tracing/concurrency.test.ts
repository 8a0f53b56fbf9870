/**
 * `trellis proxy --concurrency 2` with tracing: each worker makes and exports its own spans; the
 * primary's /stats sums the workers' tracing counters.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually } from '../../../src/core/testing/eventually.js';
import { FakeAds } from '../../../src/proxy/testing/fake-ads.js';
import { request, startBackend, type Backend } from '../../../src/proxy/testing/harness.js';
import { edsCluster, endpoints, routeConfig, virtualHost } from '../../../src/proxy/testing/resources.js';
import { startTrellis, type RunningCommand } from '../helpers/process.js';
import { OtlpReceiver } from './otlp-receiver.js';
import {
  REVIEWS,
  collectorCluster,
  collectorEndpoints,
  decoratedRoute,
  tracedListener,
  tracingField,
} from './trace-mesh.js';

let ads: FakeAds;
let app: Backend;
let receiver: OtlpReceiver;
let proxy: RunningCommand;
let outbound = 0;
let admin = 0;

before(async () => {
  app = await startBackend('reviews');
  receiver = await OtlpReceiver.http();
  ads = await FakeAds.start();
  ads.set('CDS', [edsCluster(REVIEWS), collectorCluster()]);
  ads.set('EDS', [endpoints(REVIEWS, [{ port: app.port }]), collectorEndpoints(receiver.port)]);
  ads.set('LDS', [tracedListener(9080, '9080', 'OUTBOUND', tracingField({ protocol: 'http' }))]);
  ads.set('RDS', [routeConfig('9080', [virtualHost('reviews', ['*'], [decoratedRoute(REVIEWS)])])]);
  proxy = startTrellis(
    [
      'proxy',
      '--xds',
      ads.address,
      '--concurrency',
      '2',
      '--admin-port',
      '0',
      '--outbound-port',
      '0',
      '--inbound-port',
      '0',
      '--drain-seconds',
      '1',
    ],
    { env: { TRELLIS_LOG_LEVEL: 'info' } },
  );
  const m = await proxy.waitForOutput(
    /proxy ready: .* outbound 127\.0\.0\.1:(\d+), inbound :\d+, admin 127\.0\.0\.1:(\d+); 2 workers/,
    20_000,
  );
  outbound = Number(m[1]);
  admin = Number(m[2]);
});

after(async () => {
  await proxy?.stop('SIGKILL');
  await ads.close();
  await app.close();
  await receiver.close();
});

test('both workers export their spans; /stats sums their counters', async () => {
  for (let i = 0; i < 40; i++) {
    const res = await request(outbound, { host: 'reviews:9080', path: '/' });
    assert.equal(res.status, 200);
  }
  await receiver.waitForSpans(40);
  assert.equal(receiver.spans.length, 40);
  assert.equal(new Set(receiver.spans.map((s) => s.traceId)).size, 40);
  assert.ok(receiver.exports.length >= 2, 'one export per worker at least');
  await eventually(
    async () =>
      /^tracing\.opentelemetry\.spans_sent: 40$/m.test((await request(admin, { path: '/stats' })).body),
    { what: 'spans_sent summed over the workers', timeoutMs: 5000 },
  );
});
