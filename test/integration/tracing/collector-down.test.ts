/**
 * The collector is not the request's problem: down, every request still succeeds and the lost
 * spans are counted (at /stats too); hanging, the queue stays at its bound and the rest is
 * dropped, counted. An unsupported tracer is NACKed and the proxy keeps its last good listeners.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import test from 'node:test';
import { eventually } from '../../../src/core/testing/eventually.js';
import { TYPE, packAny } from '../../../src/protocol/protos.js';
import { request } from '../../../src/proxy/testing/harness.js';
import { startBackend, startTracedProxy, tracedListener, tracingField } from './trace-mesh.js';

const DROPPED = 'tracing.opentelemetry.spans_dropped';

async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function adminText(port: number, path: string): Promise<string> {
  const res = await request(port, { path });
  return res.body;
}

for (const protocol of ['http', 'grpc'] as const)
  test(`collector down (${protocol}): every request succeeds, lost spans are counted and shown at /stats`, async (t) => {
    const app = await startBackend('reviews');
    const proxy = await startTracedProxy(app, await closedPort(), tracingField({ protocol }), {
      proxy: { tracingLimits: { maxQueue: 2048, batchSize: 10, flushIntervalMs: 20 } },
    });
    t.after(async () => {
      await proxy.close();
      await app.close();
    });
    for (let i = 0; i < 50; i++) {
      const res = await request(proxy.listenerPort, { host: 'reviews:9080' });
      assert.equal(res.status, 200);
    }
    const stats = proxy.proxy.stats;
    await eventually(() => stats.envoyCounter(DROPPED) === 50, { what: '50 spans dropped', timeoutMs: 5000 });
    assert.equal(stats.envoyCounter('tracing.opentelemetry.spans_sent'), 50);
    assert.ok(stats.envoyCounter(`tracing.opentelemetry.${protocol}_reports_failed`) >= 5);
    assert.equal(stats.envoyCounter(`tracing.opentelemetry.${protocol}_reports_success`), 0);
    const text = await adminText(proxy.proxy.adminPort, '/stats');
    assert.match(text, /^tracing\.opentelemetry\.spans_dropped: 50$/m);
    const prom = await adminText(proxy.proxy.adminPort, '/stats/prometheus');
    assert.match(prom, /^envoy_tracing_opentelemetry_spans_dropped 50$/m);
  });

test('a collector that never answers: requests are not slowed, the queue holds at its bound, the rest is dropped', async (t) => {
  const hanging = http.createServer(() => undefined); // reads the export, never answers
  await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', () => r()));
  const app = await startBackend('reviews');
  const proxy = await startTracedProxy(
    app,
    (hanging.address() as net.AddressInfo).port,
    tracingField({ protocol: 'http', timeoutSeconds: 60 }),
    { proxy: { tracingLimits: { maxQueue: 10, batchSize: 5, flushIntervalMs: 60_000 } } },
  );
  t.after(async () => {
    // The collector goes first: its hanging export then fails and releases the cluster.
    hanging.closeAllConnections();
    await new Promise<void>((r) => hanging.close(() => r()));
    await proxy.close();
    await app.close();
  });
  for (let i = 0; i < 40; i++) {
    const started = performance.now();
    const res = await request(proxy.listenerPort, { host: 'reviews:9080' });
    assert.equal(res.status, 200);
    assert.ok(performance.now() - started < 1000, 'a request does not wait for the collector');
  }
  const stats = proxy.proxy.stats;
  // 5 in the export that hangs, 10 queued behind it, 25 dropped.
  assert.equal(stats.envoyCounter('tracing.opentelemetry.spans_sent'), 5);
  assert.equal(proxy.proxy.tracer.queued, 10);
  assert.equal(stats.envoyCounter(DROPPED), 25);
});

test('a tracer the proxy does not implement is NACKed with its path; the last good listener keeps serving', async (t) => {
  const app = await startBackend('reviews');
  const proxy = await startTracedProxy(app, await closedPort(), tracingField({ protocol: 'grpc' }));
  t.after(async () => {
    await proxy.close();
    await app.close();
  });
  const zipkin = {
    provider: {
      name: 'envoy.tracers.zipkin',
      typed_config: packAny(TYPE.router, {}),
    },
  };
  proxy.ads.set('LDS', [tracedListener(0, 'inbound', undefined, zipkin)]);
  await proxy.ads.waitFor(() => proxy.ads.nacks('LDS').length > 0, 'LDS NACK');
  const nack = proxy.ads.nacks('LDS')[0]?.error_detail?.message ?? '';
  assert.match(nack, /tracing\.provider: tracer "envoy\.tracers\.zipkin" is not supported/);
  const res = await request(proxy.listenerPort, { host: 'reviews:9080' });
  assert.equal(res.status, 200);
});
