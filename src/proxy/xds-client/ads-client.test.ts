import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TYPE, packAny } from '../../protocol/protos.js';
import { FakeAds } from '../testing/fake-ads.js';
import { eventually } from '../../core/testing/eventually.js';
import { memoryLogger, request, startBackend, startMesh } from '../testing/harness.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  routeTo,
  virtualHost,
} from '../testing/resources.js';

const C = 'outbound|9080||reviews.default.svc.cluster.local';

test('an invalid update is NACKed with the resource and field, and the last good config keeps serving', async (t) => {
  const backend = await startBackend('reviews');
  const mesh = await startMesh(
    {
      CDS: [edsCluster(C)],
      EDS: [endpoints(C, [{ port: backend.port }])],
      LDS: [httpListener(9080)],
      RDS: [routeConfig('9080', [virtualHost('reviews', ['reviews:9080'], [routeTo(C)])])],
    },
    {},
    FakeAds,
  );
  t.after(async () => {
    await mesh.close();
    await backend.close();
  });
  const { ads, port } = mesh;
  assert.equal((await request(port, { host: 'reviews:9080' })).status, 200);

  ads.set('RDS', [
    routeConfig('9080', [
      virtualHost('reviews', ['reviews:9080'], [routeTo(C, { safe_regex: { regex: '(unclosed' } })]),
    ]),
  ]);
  await ads.waitFor(() => ads.nacks('RDS').length === 1, 'RDS NACK');
  const nack = ads.nacks('RDS')[0]!;
  assert.equal(nack.error_detail?.code, 3);
  assert.equal(nack.version_info, '1', 'a NACK carries the last accepted version');
  assert.match(
    nack.error_detail?.message ?? '',
    /RouteConfiguration "9080"\.virtual_hosts\[0\]\.routes\[0\]\.match\.safe_regex\.regex/,
  );

  const fault = {
    name: 'envoy.filters.http.made_up',
    typed_config: packAny(TYPE.typedStruct, { type_url: 'example.com/MadeUp' }),
  };
  const bad = httpListener(9080) as { filter_chains: { filters: { typed_config: unknown }[] }[] };
  bad.filter_chains[0]!.filters[0]!.typed_config = packAny(TYPE.hcm, {
    stat_prefix: 'x',
    rds: { route_config_name: '9080', config_source: { ads: {} } },
    http_filters: [fault, { name: 'envoy.filters.http.router', typed_config: packAny(TYPE.router, {}) }],
  });
  ads.set('LDS', [bad]);
  await ads.waitFor(() => ads.nacks('LDS').length === 1, 'LDS NACK');
  assert.match(
    ads.nacks('LDS')[0]!.error_detail?.message ?? '',
    /Listener "0.0.0.0_9080".*http_filters\[0\].*made_up.*not supported/,
  );

  ads.set('CDS', [{ name: C, type: 'EDS', lb_policy: 'CLUSTER_PROVIDED' }]);
  await ads.waitFor(() => ads.nacks('CDS').length === 1, 'CDS NACK');
  assert.match(
    ads.nacks('CDS')[0]!.error_detail?.message ?? '',
    /Cluster "outbound\|9080\|\|reviews.default.svc.cluster.local"\.lb_policy/,
  );

  const still = await request(port, { host: 'reviews:9080' });
  assert.equal(still.status, 200);
  assert.equal(still.json().backend, 'reviews');
  assert.equal(mesh.proxy.snapshot().versions.RDS, '1');
});

test('keeps serving while the control plane is away and resyncs when it returns', async (t) => {
  const backend = await startBackend('reviews');
  const resources = {
    CDS: [edsCluster(C)],
    EDS: [endpoints(C, [{ port: backend.port }])],
    LDS: [httpListener(9080)],
    RDS: [routeConfig('9080', [virtualHost('reviews', ['reviews:9080'], [routeTo(C, { prefix: '/old' })])])],
  };
  const { logger, lines } = memoryLogger('proxy');
  const mesh = await startMesh(resources, { logger }, FakeAds);
  const adsPort = Number(mesh.ads.address.split(':')[1]);
  const restarted: { ads?: FakeAds } = {};
  t.after(async () => {
    await mesh.proxy.stop(100);
    await restarted.ads?.close();
    await backend.close();
  });
  await mesh.ads.close();
  await eventually(
    () => lines.some((l) => l.includes('control plane stream closed')),
    'the proxy to see it go',
  );
  assert.equal((await request(mesh.port, { host: 'reviews:9080', path: '/old' })).status, 200);

  const second = await FakeAds.start(adsPort);
  restarted.ads = second;
  second.set('CDS', resources.CDS);
  second.set('EDS', resources.EDS);
  second.set('LDS', resources.LDS);
  second.set('RDS', [
    routeConfig('9080', [virtualHost('reviews', ['reviews:9080'], [routeTo(C, { prefix: '/new' })])]),
  ]);
  await second.waitForAck('RDS');
  const resumed = second.requests.find((r) => r.type === 'CDS');
  assert.equal(resumed?.version_info, '1', 'the first request after reconnect carries the version it has');
  await eventually(
    async () => (await request(mesh.port, { host: 'reviews:9080', path: '/new' })).status === 200,
    'new routes',
  );
  assert.equal((await request(mesh.port, { host: 'reviews:9080', path: '/old' })).status, 404);
});
