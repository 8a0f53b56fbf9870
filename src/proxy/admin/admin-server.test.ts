import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { memoryLogger } from '../../core/logger.js';
import { rawGet, rawRequest } from '../../core/testing/raw-http.js';
import type { ProxyConfigSnapshot } from '../model/config.js';
import type { NodeMsg } from '../xds-client/bootstrap.js';
import { AdminServer } from './admin-server.js';
import { FakeAds } from '../testing/fake-ads.js';
import { eventually } from '../../core/testing/eventually.js';
import { request, startBackend, startProxy } from '../testing/harness.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  routeTo,
  virtualHost,
} from '../testing/resources.js';

const C = 'outbound|9080|v1|reviews.default.svc.cluster.local';

test('admin: /ready, /config_dump, /clusters, /stats/prometheus and the access log', async (t) => {
  const backend = await startBackend('reviews');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-proxy-'));
  const logPath = path.join(dir, 'access.log');
  const ads = await FakeAds.start();
  const proxy = await startProxy(ads);
  t.after(async () => {
    await proxy.stop(100);
    await ads.close();
    await backend.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const admin = proxy.adminPort;
  assert.equal((await request(admin, { path: '/ready' })).status, 503);

  ads.set('CDS', [edsCluster(C)]);
  ads.set('EDS', [
    endpoints(C, [
      { port: backend.port, workload: 'reviews-v1;default;reviews;v1;Kubernetes' },
      { port: 1, healthy: false },
    ]),
  ]);
  ads.set('LDS', [httpListener(9080, '9080', { accessLogPath: logPath })]);
  ads.set('RDS', [
    routeConfig('9080', [virtualHost('reviews', ['reviews:9080'], [routeTo(C, { prefix: '/r' })])]),
  ]);
  await eventually(async () => (await request(admin, { path: '/ready' })).status === 200, 'ready');
  await ads.waitForAck('RDS');
  await eventually(() => proxy.snapshot().routes.size === 1, 'routes applied');

  assert.equal(
    (await request(proxy.listeners.ports.outbound, { host: 'reviews:9080', path: '/r/1' })).status,
    200,
  );
  assert.equal(
    (await request(proxy.listeners.ports.outbound, { host: 'reviews:9080', path: '/x' })).status,
    404,
  );

  const dump = (await request(admin, { path: '/config_dump' })).json<{
    configs: Record<string, unknown>[];
  }>();
  const types = dump.configs.map((c) => c['@type']);
  assert.ok(types.includes('type.googleapis.com/envoy.admin.v3.ClustersConfigDump'));
  const clusters = dump.configs.find(
    (c) => c['@type'] === 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
  ) as {
    dynamicActiveClusters: {
      versionInfo: string;
      lastUpdated: string;
      cluster: { '@type': string; name: string };
    }[];
  };
  assert.equal(clusters.dynamicActiveClusters[0]!.cluster.name, C);
  assert.equal(
    clusters.dynamicActiveClusters[0]!.cluster['@type'],
    'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  );
  assert.equal(clusters.dynamicActiveClusters[0]!.versionInfo, '1');
  assert.match(clusters.dynamicActiveClusters[0]!.lastUpdated, /^\d{4}-\d\d-\d\dT/);
  const listeners = dump.configs.find(
    (c) => c['@type'] === 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
  ) as {
    dynamicListeners: { name: string; activeState: { listener: { name: string } } }[];
  };
  assert.equal(listeners.dynamicListeners[0]!.activeState.listener.name, '0.0.0.0_9080');

  const clusterText = (await request(admin, { path: '/clusters' })).body;
  assert.ok(clusterText.includes(`${C}::127.0.0.1:${backend.port}::health_flags::healthy`));
  assert.ok(clusterText.includes(`${C}::127.0.0.1:1::health_flags::/failed_eds_health`));

  const stats = (await request(admin, { path: '/stats/prometheus' })).body;
  assert.match(
    stats,
    /istio_requests_total\{reporter="source",source_workload="productpage-v1",source_workload_namespace="default",source_version="v1",source_app="productpage",source_canonical_service="productpage",source_canonical_revision="v1",source_cluster="Kubernetes",destination_service="reviews.default.svc.cluster.local",destination_service_name="reviews",destination_service_namespace="default",destination_workload="reviews-v1",destination_workload_namespace="default",destination_version="v1",destination_app="reviews",destination_canonical_service="reviews",destination_canonical_revision="v1",destination_cluster="Kubernetes",request_protocol="http",response_code="200",response_flags="-",grpc_response_status="",source_principal="unknown",destination_principal="unknown",connection_security_policy="unknown"\} 1/,
  );
  assert.match(
    stats,
    /istio_request_duration_milliseconds_bucket\{.*response_code="404",response_flags="NR".*le="\+Inf"\} 1/,
  );
  assert.match(stats, /# TYPE istio_response_bytes histogram/);

  await eventually(
    () => fs.existsSync(logPath) && fs.readFileSync(logPath, 'utf8').split('\n').length >= 3,
    'access log lines',
  );
  const lines = fs.readFileSync(logPath, 'utf8').trim().split('\n');
  assert.match(
    lines[0]!,
    /^\[.*\] "GET \/r\/1 HTTP\/1.1" 200 - 0 \d+ \d+ \d+ "-" "-" "[0-9a-f-]{36}" "reviews:9080" "127.0.0.1:\d+"$/,
  );
  assert.match(lines[1]!, /"GET \/x HTTP\/1.1" 404 NR /);
});

test('admin: malformed requests get a coded 4xx, a failing view a 500 and a log line; the proxy carries on', async (t) => {
  const { logger, lines } = memoryLogger('admin');
  const admin = new AdminServer({
    snapshot: (): ProxyConfigSnapshot => {
      throw new TypeError('snapshot exploded');
    },
    ready: () => true,
    node: { id: 'sidecar~127.0.0.1~a.default~default.svc.cluster.local' } as NodeMsg,
    dataPlane: {
      clusters: () => {
        throw new Error('clusters exploded');
      },
      clusterStats: () => Promise.reject(new Error('stats exploded')),
      prometheus: () => '',
    },
    xds: () => ({ acks: 0, nacks: 0, connects: 0, lastNack: '' }),
    logger,
  });
  const port = await admin.listen('127.0.0.1', 0);
  t.after(() => admin.close());
  const cases: [string, string, number, RegExp][] = [
    ['invalid request line', 'GARBAGE\r\n\r\n', 400, /^TRELLIS_BAD_REQUEST: /],
    ['unknown method', 'BREW /ready HTTP/1.1\r\nhost: x\r\n\r\n', 400, /^TRELLIS_BAD_REQUEST: /],
    [
      'header block too large',
      `GET /ready HTTP/1.1\r\nx: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
      /^TRELLIS_TOO_LARGE: /,
    ],
    ['bad percent-escape', rawGet('/%zz'), 404, /admin paths/],
    ['sync throw in a view', rawGet('/config_dump'), 500, /^TRELLIS_INTERNAL: snapshot exploded/],
    ['throw in an async view', rawGet('/clusters'), 500, /^TRELLIS_INTERNAL: clusters exploded/],
    ['rejected view', rawGet('/stats'), 500, /^TRELLIS_INTERNAL: stats exploded/],
  ];
  for (const [name, bytes, status, body] of cases) {
    const res = await rawRequest(port, bytes);
    assert.equal(res.status, status, `${name}: ${res.body}`);
    assert.match(res.body, body, name);
    const ready = await rawRequest(port, rawGet('/ready'));
    assert.equal(ready.status, 200, `still serving after ${name}`);
  }
  assert.equal(lines.filter((l) => / error admin: admin request failed/.test(l)).length, 3, lines.join(''));
});
