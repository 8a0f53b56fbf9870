/**
 * The lane filter in a real proxy over xDS: the lane is settled before the route is chosen (a
 * header match on x-trellis-lane sees the own branch the filter added), the upstream gets it,
 * and a lane filter with a field this proxy does not honour is NACKed while the last good
 * listener keeps serving.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TYPE, packAny } from '../../protocol/protos.js';
import { LANE_FILTER_NAME, LANE_FILTER_TYPE_URL } from '../../protocol/trellis/lanes-filter.js';
import { FakeAds } from '../testing/fake-ads.js';
import { request, startBackend, startMesh } from '../testing/harness.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  routeTo,
  virtualHost,
} from '../testing/resources.js';

const PROD = 'outbound|9080|v1|reviews.default.svc.cluster.local';
const BOX = 'outbound|9080|box-x|reviews.default.svc.cluster.local';

function laneFilter(fields: Record<string, string | boolean>): object {
  const value = Object.fromEntries(
    Object.entries(fields).map(([k, v]) => [
      k,
      typeof v === 'boolean' ? { boolValue: v } : { stringValue: v },
    ]),
  );
  return {
    name: LANE_FILTER_NAME,
    typed_config: packAny(TYPE.typedStruct, { type_url: LANE_FILTER_TYPE_URL, value: { fields: value } }),
  };
}

test('a sandboxed sidecar: its own lane routes the request, a carried lane wins, bad fields are NACKed', async (t) => {
  const prod = await startBackend('v1');
  const box = await startBackend('box-x');
  const mesh = await startMesh(
    {
      CDS: [edsCluster(PROD), edsCluster(BOX)],
      EDS: [endpoints(PROD, [{ port: prod.port }]), endpoints(BOX, [{ port: box.port }])],
      LDS: [
        httpListener(9080, '9080', {
          httpFilters: [laneFilter({ direction: 'OUTBOUND', own_lane: 'box-x' })],
        }),
      ],
      RDS: [
        routeConfig('9080', [
          virtualHost(
            'reviews',
            ['reviews:9080'],
            [
              routeTo(BOX, {
                prefix: '/',
                headers: [{ name: 'x-trellis-lane', string_match: { exact: 'box-x' } }],
              }),
              routeTo(PROD),
            ],
          ),
        ]),
      ],
    },
    {},
    FakeAds,
  );
  t.after(async () => {
    await mesh.close();
    await prod.close();
    await box.close();
  });
  const get = async (headers: Record<string, string> = {}) => {
    const r = await request(mesh.port, { host: 'reviews:9080', headers });
    assert.equal(r.status, 200, r.body);
    const body = r.json<{ backend: string; headers: Record<string, string> }>();
    return { backend: body.backend, lane: body.headers['x-trellis-lane'] };
  };
  assert.deepEqual(await get(), { backend: 'box-x', lane: 'box-x' });
  assert.deepEqual(await get({ 'x-trellis-lane': 'master' }), { backend: 'v1', lane: 'master' });
  assert.deepEqual(await get({ 'x-trellis-lane': 'box-y' }), { backend: 'v1', lane: 'box-y' });
  assert.deepEqual(await get({ baggage: 'trellis-lane=box-y' }), { backend: 'v1', lane: 'box-y' });
  // A lane header naming no lane is replaced, not forwarded: here by the own branch.
  assert.deepEqual(await get({ 'x-trellis-lane': 'box-y, box-x' }), { backend: 'box-x', lane: 'box-x' });
  // Visible in the config dump, as every filter the proxy runs.
  const dump = await (await fetch(`http://127.0.0.1:${mesh.proxy.adminPort}/config_dump`)).text();
  assert.ok(dump.includes(LANE_FILTER_TYPE_URL), dump.slice(0, 200));
  assert.ok(dump.includes('box-x'));

  mesh.ads.set('LDS', [
    httpListener(9080, '9080', {
      httpFilters: [laneFilter({ direction: 'OUTBOUND', own_lane: 'box-x', sticky: true })],
    }),
  ]);
  await mesh.ads.waitFor(() => mesh.ads.nacks('LDS').length === 1, 'LDS NACK');
  assert.match(
    mesh.ads.nacks('LDS')[0]!.error_detail?.message ?? '',
    /http_filters\[0\]\.typed_config\.value\.sticky: unknown lane filter field/,
  );
  assert.deepEqual(await get(), { backend: 'box-x', lane: 'box-x' });
});
