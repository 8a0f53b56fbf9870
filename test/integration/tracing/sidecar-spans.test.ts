/**
 * Two sidecars with tracing (outbound -> inbound) in front of an app, exporting over OTLP/gRPC:
 * one trace, the outbound CLIENT span the parent of the inbound SERVER span, the app's request
 * carrying the inbound span as its parent, Envoy's tags on both.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { FakeAds } from '../../../src/proxy/testing/fake-ads.js';
import { request, startMesh } from '../../../src/proxy/testing/harness.js';
import { edsCluster, endpoints, routeConfig, virtualHost } from '../../../src/proxy/testing/resources.js';
import { OtlpReceiver } from './otlp-receiver.js';
import {
  OPERATION,
  REVIEWS,
  collectorCluster,
  collectorEndpoints,
  decoratedRoute,
  startBackend,
  startTracedProxy,
  tracedListener,
  tracingField,
} from './trace-mesh.js';

async function sidecarPair(t: test.TestContext, spawnUpstreamSpan = false) {
  const receiver = await OtlpReceiver.grpc();
  const app = await startBackend('reviews');
  const server = await startTracedProxy(app, receiver.port, tracingField({ protocol: 'grpc' }), {
    direction: 'INBOUND',
  });
  const client = await startMesh(
    {
      CDS: [edsCluster(REVIEWS), collectorCluster()],
      EDS: [endpoints(REVIEWS, [{ port: server.listenerPort }]), collectorEndpoints(receiver.port)],
      LDS: [
        tracedListener(
          9080,
          '9080',
          'OUTBOUND',
          tracingField({ protocol: 'grpc', serviceName: 'productpage.default', spawnUpstreamSpan }),
        ),
      ],
      RDS: [routeConfig('9080', [virtualHost('reviews', ['reviews:9080'], [decoratedRoute(REVIEWS)])])],
    },
    {},
    FakeAds,
  );
  t.after(async () => {
    await client.close();
    await server.close();
    await app.close();
    await receiver.close();
  });
  return { receiver, app, server, client };
}

test('an outbound CLIENT span and the inbound SERVER span nest in one trace (OTLP/gRPC)', async (t) => {
  const { receiver, client } = await sidecarPair(t);
  const res = await request(client.port, {
    host: 'reviews:9080',
    path: '/ratings/1?x=y',
    headers: { 'user-agent': 'curl/8' },
  });
  assert.equal(res.status, 200);
  const seen = res.json<{ headers: Record<string, string> }>().headers;
  const spans = await receiver.waitForSpans(2);
  assert.equal(spans.length, 2);
  const out = spans.find((s) => s.kind === 3);
  const inb = spans.find((s) => s.kind === 2);
  assert.ok(out && inb, `one CLIENT and one SERVER span: ${JSON.stringify(spans.map((s) => s.kind))}`);
  // One trace; the inbound span is the child of the outbound one; the app's parent is the inbound span.
  assert.equal(inb.traceId, out.traceId);
  assert.equal(out.parentSpanId, '');
  assert.equal(inb.parentSpanId, out.spanId);
  assert.equal(seen.traceparent, `00-${out.traceId}-${inb.spanId}-01`);
  assert.equal(seen['x-b3-traceid'], out.traceId);
  assert.equal(seen['x-b3-spanid'], inb.spanId);
  assert.equal(seen['x-b3-parentspanid'], out.spanId);
  assert.equal(seen['x-b3-sampled'], '1');
  // Named by the route's decorator; the inbound span takes the operation the caller propagated,
  // and the header stops at the inbound proxy.
  assert.equal(out.name, OPERATION);
  assert.equal(inb.name, OPERATION);
  assert.equal(seen['x-envoy-decorator-operation'], undefined);
  assert.equal(out.serviceName, 'productpage.default');
  assert.equal(inb.serviceName, 'reviews.default');
  for (const s of [out, inb]) {
    assert.equal(s.attributes['http.method'], 'GET');
    assert.equal(s.attributes['http.url'], 'http://reviews:9080/ratings/1?x=y');
    assert.equal(s.attributes['http.status_code'], '200');
    assert.equal(s.attributes['http.protocol'], 'HTTP/1.1');
    assert.equal(s.attributes.component, 'proxy');
    assert.equal(s.attributes.user_agent, 'curl/8');
    assert.equal(s.attributes.response_flags, '-');
    assert.equal(s.attributes['guid:x-request-id'], seen['x-request-id']);
    assert.equal(s.attributes['istio.canonical_service'], 'reviews');
    assert.match(s.attributes.node_id ?? '', /^sidecar~/);
    assert.equal(s.attributes.error, undefined);
    assert.equal(s.status, 0);
    assert.ok(s.endNs >= s.startNs);
    assert.match(s.attributes['peer.address'] ?? '', /127\.0\.0\.1/);
  }
  assert.equal(out.attributes.upstream_cluster, REVIEWS);
  assert.equal(inb.attributes.upstream_cluster, 'inbound|9080||');
  assert.equal(client.proxy.stats.envoyCounter('tracing.opentelemetry.spans_sent'), 1);
});

test('spawn_upstream_span: the outbound hop is a SERVER span with a CLIENT child the inbound span hangs from', async (t) => {
  const { receiver, client } = await sidecarPair(t, true);
  const res = await request(client.port, { host: 'reviews:9080', path: '/' });
  assert.equal(res.status, 200);
  const spans = await receiver.waitForSpans(3);
  const hop = spans.find((s) => s.serviceName === 'productpage.default' && s.kind === 2);
  const upstream = spans.find((s) => s.serviceName === 'productpage.default' && s.kind === 3);
  const inb = spans.find((s) => s.serviceName === 'reviews.default');
  assert.ok(hop && upstream && inb, JSON.stringify(spans.map((s) => [s.serviceName, s.kind, s.name])));
  assert.equal(upstream.parentSpanId, hop.spanId);
  assert.equal(inb.parentSpanId, upstream.spanId);
  assert.equal(upstream.name, `router ${REVIEWS} egress`);
  assert.equal(upstream.attributes.upstream_cluster, REVIEWS);
  assert.match(upstream.attributes['peer.address'] ?? '', /^127\.0\.0\.1:\d+$/);
});

test('an upstream 5xx marks both spans as errors', async (t) => {
  const receiver = await OtlpReceiver.grpc();
  const app = await startBackend('broken', (_req, res) => res.writeHead(503).end('down'));
  const server = await startTracedProxy(app, receiver.port, tracingField({ protocol: 'grpc' }), {
    direction: 'INBOUND',
  });
  t.after(async () => {
    await server.close();
    await app.close();
    await receiver.close();
  });
  const res = await request(server.listenerPort, { host: 'reviews:9080' });
  assert.equal(res.status, 503);
  const [span] = await receiver.waitForSpans(1);
  assert.equal(span?.attributes['http.status_code'], '503');
  assert.equal(span?.attributes.error, 'true');
  assert.equal(span?.status, 2);
});
