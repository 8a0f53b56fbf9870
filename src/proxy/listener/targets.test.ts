import { test } from 'node:test';
import assert from 'node:assert/strict';
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

test('inbound capture forwards to inbound|PORT|| (STATIC and ORIGINAL_DST) and reports as destination', async (t) => {
  const app = await startBackend('app');
  const mesh = await startMesh(
    {
      CDS: [
        {
          name: 'inbound|9080||',
          type: 'STATIC',
          connect_timeout: { seconds: 1 },
          load_assignment: {
            cluster_name: 'inbound|9080||',
            endpoints: [
              {
                lb_endpoints: [
                  {
                    endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: app.port } } },
                  },
                ],
              },
            ],
          },
        },
        {
          name: `inbound|${app.port}||`,
          type: 'ORIGINAL_DST',
          connect_timeout: { seconds: 1 },
          lb_policy: 'CLUSTER_PROVIDED',
        },
      ],
      LDS: [],
    },
    {},
    FakeAds,
  );
  t.after(async () => {
    await mesh.close();
    await app.close();
  });
  const inbound = mesh.proxy.listeners.ports.inbound;
  const res = await request(inbound, { host: 'reviews:9080', path: '/r' });
  assert.equal(res.status, 200);
  assert.equal(res.json().path, '/r');
  const direct = await request(inbound, { host: `app:${app.port}`, path: '/od' });
  assert.equal(direct.json().path, '/od', 'ORIGINAL_DST goes to 127.0.0.1:PORT');
  const none = await request(inbound, { host: 'reviews:7777' });
  assert.equal(none.status, 404);
  assert.match(
    mesh.proxy.stats.prometheus(),
    /istio_requests_total\{reporter="destination",source_workload="unknown".*destination_workload="productpage-v1".*response_code="200"/,
  );
});

test('inbound capture on an ephemeral port (0) uses the Listener bound on the port it got', async (t) => {
  const app = await startBackend('app');
  const mesh = await startMesh(
    { CDS: [edsCluster('app')], EDS: [endpoints('app', [{ port: app.port }])], LDS: [] },
    { inboundPort: 0 },
    FakeAds,
  );
  t.after(async () => {
    await mesh.close();
    await app.close();
  });
  const inbound = mesh.proxy.listeners.ports.inbound;
  // Istio's virtualInbound shape: a listener on the inbound capture port, here with RDS.
  mesh.ads.set('LDS', [httpListener(inbound, 'inbound')]);
  mesh.ads.set('RDS', [routeConfig('inbound', [virtualHost('any', ['*'], [routeTo('app')])])]);
  await mesh.ads.waitForAck('RDS');
  const res = await request(inbound, { host: `reviews:${inbound}`, path: '/in' });
  assert.equal(res.status, 200, 'routed by the listener, not the missing inbound|PORT|| cluster');
  assert.equal(res.json().path, '/in');
});
