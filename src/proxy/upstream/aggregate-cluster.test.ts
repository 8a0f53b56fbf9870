/**
 * The Trellis proxy's aggregate cluster (envoy.clusters.aggregate), live: a route to an
 * aggregate of [canary, stable] goes to the canary while it has healthy hosts, to stable when
 * its endpoints are gone, unhealthy or ejected, and back when they return; a failed attempt's
 * retry moves to stable once the canary host is ejected.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeAds } from '../testing/fake-ads.js';
import { eventually } from '../../core/testing/eventually.js';
import { request, startBackend, startMesh } from '../testing/harness.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  routeTo,
  virtualHost,
} from '../testing/resources.js';
import { packAny, TYPE } from '../../protocol/protos.js';

const CANARY = 'outbound|9080|canary|svc.default.svc.cluster.local';
const STABLE = 'outbound|9080|stable|svc.default.svc.cluster.local';
const AGG = 'outbound|9080|canary~fallback~stable|svc.default.svc.cluster.local';

const aggregate = {
  name: AGG,
  connect_timeout: { seconds: 1 },
  lb_policy: 'CLUSTER_PROVIDED',
  cluster_type: {
    name: 'envoy.clusters.aggregate',
    typed_config: packAny(TYPE.aggregateCluster, { clusters: [CANARY, STABLE] }),
  },
};

test('an aggregate cluster serves from its first member with healthy hosts and follows endpoint and health changes', async (t) => {
  let canaryFails = false;
  const canary = await startBackend('canary', (_req, res) => {
    if (canaryFails) res.writeHead(503).end('failing');
    else res.writeHead(200, { 'x-backend': 'canary' }).end('canary');
  });
  const stable = await startBackend('stable');
  t.after(async () => {
    await canary.close();
    await stable.close();
  });
  const outlier = {
    outlier_detection: {
      consecutive_5xx: { value: 1 },
      base_ejection_time: { seconds: 30 },
      max_ejection_percent: { value: 100 },
    },
  };
  const mesh = await startMesh(
    {
      CDS: [edsCluster(CANARY, outlier), edsCluster(STABLE), aggregate],
      EDS: [endpoints(CANARY, [{ port: canary.port }]), endpoints(STABLE, [{ port: stable.port }])],
      LDS: [httpListener(9080)],
      RDS: [
        routeConfig('9080', [
          virtualHost(
            'svc',
            ['svc:9080'],
            [routeTo(AGG, { prefix: '/' }, { retry_policy: { retry_on: '5xx', num_retries: { value: 1 } } })],
          ),
        ]),
      ],
    },
    {},
    FakeAds,
  );
  t.after(() => mesh.close());
  const backend = async () => {
    const res = await request(mesh.port, { host: 'svc:9080' });
    assert.equal(res.status, 200, res.body);
    return String(res.headers['x-backend']);
  };
  const all = async (want: string) => {
    for (let i = 0; i < 10; i++) if ((await backend()) !== want) return false;
    return true;
  };
  assert.ok(await all('canary'), 'a healthy canary takes everything');

  const setCanary = (eps: { port: number; healthy?: boolean }[]) =>
    mesh.ads.set('EDS', [endpoints(CANARY, eps), endpoints(STABLE, [{ port: stable.port }])]);
  setCanary([]);
  await eventually(() => all('stable'), 'no canary endpoints: stable');
  setCanary([{ port: canary.port, healthy: false }]);
  await eventually(() => all('stable'), 'an unhealthy canary: stable');
  setCanary([{ port: canary.port }]);
  await eventually(() => all('canary'), 'the canary back');

  // Failing: the first 503 ejects the canary host; that request's retry goes to stable.
  canaryFails = true;
  assert.equal(await backend(), 'stable', 'the retry after the ejection');
  assert.ok(await all('stable'), 'ejected: stable');
  assert.ok(mesh.ads.nacks().length === 0, 'no NACK');
});
