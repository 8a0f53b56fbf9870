/**
 * Istio's standard metric labels through two real sidecars (fake ADS): the client reports
 * reporter="source" with its own canonical labels and the destination's from endpoint metadata;
 * the server reports reporter="destination" with the caller's workload from Istio's metadata
 * exchange headers (which the app never sees) and the principals the mTLS handshake proved.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '../../core/testing/eventually.js';
import { packAny, TYPE } from '../../protocol/protos.js';
import { request, startBackend, startMesh } from '../testing/harness.js';
import { FakeAds } from '../testing/fake-ads.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  routeTo,
  virtualHost,
} from '../testing/resources.js';
import { statsFilter } from '../testing/stats-filter.js';
import { spiffe } from '../testing/mesh-tls.js';
import { findSeries, scrape, type Series } from '../testing/prometheus-series.js';
import { startSidecars, type SidecarOptions } from '../testing/sidecars.js';
import type { ProxyBootstrap } from '../xds-client/bootstrap.js';

const CLIENT: ProxyBootstrap = {
  nodeId: 'sidecar~127.0.0.1~productpage-v1-abc.default~default.svc.cluster.local',
  cluster: 'productpage.default',
  mode: 'sidecar',
  namespace: 'default',
  workloadName: 'productpage-v1',
  labels: { app: 'productpage', version: 'v1', 'service.istio.io/canonical-name': 'pp' },
  instanceIps: ['127.0.0.1'],
  locality: '',
};
const SERVER: ProxyBootstrap = {
  nodeId: 'sidecar~127.0.0.1~reviews-v2-xyz.bookinfo~bookinfo.svc.cluster.local',
  cluster: 'reviews.bookinfo',
  mode: 'sidecar',
  namespace: 'bookinfo',
  workloadName: 'reviews-v2',
  labels: {
    'app.kubernetes.io/name': 'reviews',
    'app.kubernetes.io/version': 'v2',
    'topology.istio.io/cluster': 'east',
  },
  instanceIps: ['127.0.0.1'],
  locality: '',
};

async function sidecars(t: Parameters<typeof startSidecars>[0], opts: SidecarOptions = {}) {
  return await startSidecars(t, {
    clientBootstrap: CLIENT,
    serverBootstrap: SERVER,
    endpointIstio: { workload: 'reviews-v2;bookinfo;reviews;v2;east' },
    ...opts,
  });
}

async function one(port: number, all: () => Promise<Series[]>, name: string, match: Record<string, string>) {
  return await eventually(
    async () => {
      const found = findSeries(await all(), name, match);
      return found.length === 1 ? found[0]! : false;
    },
    `${name} ${JSON.stringify(match)} on :${port}`,
  );
}

test('mTLS on: both reporters carry Istio labels, canonical service and revision, principals and mutual_tls', async (t) => {
  const m = await sidecars(t);
  const res = await request(m.outboundPort, { host: 'reviews:9080', path: '/r' });
  assert.equal(res.status, 200);
  // The app sees neither the metadata exchange headers nor anything in their place.
  const seen = res.json().headers as Record<string, string>;
  assert.equal(seen['x-envoy-peer-metadata'], undefined);
  assert.equal(seen['x-envoy-peer-metadata-id'], undefined);

  const client = await one(m.client.adminPort, () => scrape(m.client.adminPort), 'istio_requests_total', {
    reporter: 'source',
  });
  assert.deepEqual(client.labels, {
    reporter: 'source',
    source_workload: 'productpage-v1',
    source_workload_namespace: 'default',
    source_version: 'v1',
    source_app: 'productpage',
    source_canonical_service: 'pp',
    source_canonical_revision: 'v1',
    source_cluster: 'Kubernetes',
    destination_service: 'reviews.default.svc.cluster.local',
    destination_service_name: 'reviews',
    destination_service_namespace: 'bookinfo',
    destination_workload: 'reviews-v2',
    destination_workload_namespace: 'bookinfo',
    destination_version: 'v2',
    destination_app: 'reviews',
    destination_canonical_service: 'reviews',
    destination_canonical_revision: 'v2',
    destination_cluster: 'east',
    request_protocol: 'http',
    response_code: '200',
    response_flags: '-',
    grpc_response_status: '',
    source_principal: 'unknown',
    destination_principal: 'unknown',
    connection_security_policy: 'unknown',
  });
  assert.equal(client.value, 1);

  const server = await one(m.server.adminPort, () => scrape(m.server.adminPort), 'istio_requests_total', {
    reporter: 'destination',
  });
  assert.deepEqual(server.labels, {
    reporter: 'destination',
    source_workload: 'productpage-v1',
    source_workload_namespace: 'default',
    source_version: 'v1',
    source_app: 'productpage',
    source_canonical_service: 'pp',
    source_canonical_revision: 'v1',
    source_cluster: 'Kubernetes',
    destination_service: 'reviews.bookinfo.svc.cluster.local',
    destination_service_name: 'reviews',
    destination_service_namespace: 'bookinfo',
    destination_workload: 'reviews-v2',
    destination_workload_namespace: 'bookinfo',
    destination_version: 'v2',
    destination_app: 'reviews',
    destination_canonical_service: 'reviews',
    destination_canonical_revision: 'v2',
    destination_cluster: 'east',
    request_protocol: 'http',
    response_code: '200',
    response_flags: '-',
    grpc_response_status: '',
    source_principal: spiffe('productpage'),
    destination_principal: spiffe('reviews'),
    connection_security_policy: 'mutual_tls',
  });
  const duration = findSeries(await scrape(m.server.adminPort), 'istio_request_duration_milliseconds_count', {
    reporter: 'destination',
    source_canonical_service: 'pp',
  });
  assert.equal(duration[0]?.value, 1);
});

test('mTLS off: the destination reports connection_security_policy none, no principals and no caller workload (unproven)', async (t) => {
  const m = await sidecars(t, { mode: 'PERMISSIVE', tlsMode: 'disabled' });
  assert.equal((await request(m.outboundPort, { host: 'reviews:9080', path: '/plain' })).status, 200);
  const server = await one(m.server.adminPort, () => scrape(m.server.adminPort), 'istio_requests_total', {
    reporter: 'destination',
  });
  assert.equal(server.labels.connection_security_policy, 'none');
  assert.equal(server.labels.source_principal, 'unknown');
  assert.equal(server.labels.destination_principal, 'unknown');
  assert.equal(server.labels.source_workload, 'unknown');
});

test("a caller's own metadata exchange headers are replaced by its sidecar's; garbage is ignored at the destination", async (t) => {
  const m = await sidecars(t, { mode: 'PERMISSIVE' });
  // The app behind the client claims to be someone else: its sidecar speaks for it.
  const forged = Buffer.from('not a struct at all').toString('base64');
  const res = await request(m.outboundPort, {
    host: 'reviews:9080',
    path: '/forged',
    headers: {
      'x-envoy-peer-metadata': forged,
      'x-envoy-peer-metadata-id': 'sidecar~1.2.3.4~evil.default~x',
    },
  });
  assert.equal(res.status, 200);
  assert.equal((res.json().headers as Record<string, string>)['x-envoy-peer-metadata-id'], undefined);
  const server = await one(m.server.adminPort, () => scrape(m.server.adminPort), 'istio_requests_total', {
    reporter: 'destination',
  });
  assert.equal(server.labels.source_workload, 'productpage-v1');
  // Garbage straight at the server's inbound port: no crash, the caller is unknown.
  const direct = await request(m.inboundPort, {
    host: 'reviews:9080',
    path: '/direct',
    headers: { 'x-envoy-peer-metadata': '%%%not base64', 'x-envoy-peer-metadata-id': 'x' },
  });
  assert.equal(direct.status, 200);
  assert.equal((direct.json().headers as Record<string, string>)['x-envoy-peer-metadata'], undefined);
  const unknown = await one(m.server.adminPort, () => scrape(m.server.adminPort), 'istio_requests_total', {
    reporter: 'destination',
    source_workload: 'unknown',
  });
  assert.equal(unknown.labels.source_canonical_service, 'unknown');
});

const ROUTER = { name: 'envoy.filters.http.router', typed_config: packAny(TYPE.router, {}) };

test('the istio.stats filter over xDS: a metric dropped, a tag removed, a tag added from a header; live changes apply', async (t) => {
  const overrides = {
    metrics: [
      { name: 'request_bytes', drop: true },
      { tags_to_remove: ['source_principal'] },
      { name: 'requests_total', dimensions: { tenant: "request.headers['x-tenant']" } },
    ],
  };
  const m = await sidecars(t, { outboundHcm: { http_filters: [statsFilter(overrides), ROUTER] } });
  for (const tenant of ['acme', 'acme', 'globex'])
    assert.equal(
      (await request(m.outboundPort, { host: 'reviews:9080', path: '/', headers: { 'x-tenant': tenant } }))
        .status,
      200,
    );
  assert.equal((await request(m.outboundPort, { host: 'reviews:9080', path: '/' })).status, 200);
  const all = await eventually(async () => {
    const s = await scrape(m.client.adminPort);
    return findSeries(s, 'istio_requests_total', { reporter: 'source' }).length === 3 ? s : false;
  }, 'three tenant series');
  const byTenant = Object.fromEntries(
    findSeries(all, 'istio_requests_total', { reporter: 'source' }).map((s) => [s.labels.tenant, s.value]),
  );
  assert.deepEqual(byTenant, { acme: 2, globex: 1, unknown: 1 });
  for (const s of findSeries(all, 'istio_requests_total', { reporter: 'source' }))
    assert.equal('source_principal' in s.labels, false);
  // Dropped on this connection manager: no source-reported request_bytes at all.
  assert.deepEqual(findSeries(all, 'istio_request_bytes_count', { reporter: 'source' }), []);
  const durations = findSeries(all, 'istio_request_duration_milliseconds_count', { reporter: 'source' });
  assert.equal(durations.length, 1);
  assert.equal(durations[0]!.value, 4);
  assert.equal('tenant' in durations[0]!.labels, false);

  // A field this proxy does not honour is NACKed, naming it, and the last good config keeps counting.
  m.clientAds.set('LDS', [
    httpListener(9080, '9080', {
      hcm: { http_filters: [statsFilter({ ...overrides, definitions: [] }), ROUTER] },
    }),
  ]);
  const nack = await eventually(() => m.clientAds.nacks('LDS')[0] ?? false, 'LDS NACK');
  assert.match(
    nack.error_detail?.message ?? '',
    /typed_config\.value\.definitions: unknown stats filter field/,
  );
  await request(m.outboundPort, { host: 'reviews:9080', path: '/', headers: { 'x-tenant': 'globex' } });
  await eventually(async () => {
    const s = findSeries(await scrape(m.client.adminPort), 'istio_requests_total', { tenant: 'globex' });
    return s[0]?.value === 2;
  }, 'globex counted twice under the last good config');
});

function grpcFrames(...lengths: number[]): Buffer {
  return Buffer.concat(
    lengths.map((n) => {
      const b = Buffer.alloc(5 + n, 7);
      b[0] = 0;
      b.writeUInt32BE(n, 1);
      return b;
    }),
  );
}

test('gRPC requests count their request and response messages; plain HTTP has no message series', async (t) => {
  const C = 'outbound|9080||greeter.default.svc.cluster.local';
  const backend = await startBackend('greeter', (req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.headers['content-type'] !== 'application/grpc') return res.end('plain');
      res.writeHead(200, { 'content-type': 'application/grpc', 'grpc-status': '0' });
      res.end(grpcFrames(2, 0));
    });
  });
  const m = await startMesh(
    {
      CDS: [edsCluster(C)],
      EDS: [endpoints(C, [{ port: backend.port, workload: 'greeter-v1;default;greeter;v1;Kubernetes' }])],
      LDS: [httpListener(9080, '9080')],
      RDS: [routeConfig('9080', [virtualHost('greeter', ['greeter:9080'], [routeTo(C)])])],
    },
    {},
    FakeAds,
  );
  t.after(async () => {
    await m.close();
    await backend.close();
  });
  const res = await request(m.port, {
    host: 'greeter:9080',
    method: 'POST',
    path: '/helloworld.Greeter/SayHello',
    headers: { 'content-type': 'application/grpc' },
    body: grpcFrames(1, 300, 0).toString('latin1'),
  });
  assert.equal(res.status, 200);
  await request(m.port, { host: 'greeter:9080', path: '/plain' });
  const all = await eventually(async () => {
    const s = await scrape(m.proxy.adminPort);
    return findSeries(s, 'istio_requests_total').length === 2 ? s : false;
  }, 'two requests');
  const sent = findSeries(all, 'istio_request_messages_total', { destination_workload: 'greeter-v1' });
  const received = findSeries(all, 'istio_response_messages_total', { destination_workload: 'greeter-v1' });
  assert.deepEqual(
    sent.map((s) => [s.labels.request_protocol, s.labels.grpc_response_status, s.value]),
    [['grpc', '0', 3]],
  );
  assert.deepEqual(
    received.map((s) => s.value),
    [2],
  );
});
