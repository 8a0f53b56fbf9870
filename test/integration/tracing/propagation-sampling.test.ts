/**
 * One ingress proxy with tracing, exporting over OTLP HTTP/protobuf: W3C in -> B3 out and the
 * reverse, decisions carried in and made here (force trace, client trace id, random percentage).
 * "Nothing was exported" is checked with a barrier: a later sampled request's span arrives alone.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { eventually } from '../../../src/core/testing/eventually.js';
import { request } from '../../../src/proxy/testing/harness.js';
import { OtlpReceiver } from './otlp-receiver.js';
import {
  COLLECTOR_HOST,
  startBackend,
  startTracedProxy,
  tracingField,
  type TracingOptions,
} from './trace-mesh.js';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const S = '00f067aa0ba902b7';

async function traced(t: test.TestContext, o: Partial<TracingOptions> = {}) {
  const receiver = await OtlpReceiver.http();
  const app = await startBackend('reviews');
  const proxy = await startTracedProxy(app, receiver.port, tracingField({ protocol: 'http', ...o }));
  t.after(async () => {
    await proxy.close();
    await app.close();
    await receiver.close();
  });
  const send = async (headers: Record<string, string> = {}) => {
    const res = await request(proxy.listenerPort, { host: 'reviews:9080', path: '/p', headers });
    assert.equal(res.status, 200);
    return res.json<{ headers: Record<string, string> }>().headers;
  };
  /** A sampled request with a trace id of its own; resolves with every span received by then. */
  const barrier = async (traceId = 'b'.repeat(32)) => {
    await send({ traceparent: `00-${traceId}-${S}-01` });
    await eventually(() => receiver.spans.some((s) => s.traceId === traceId), 'the barrier span');
    return receiver.spans;
  };
  return { receiver, proxy, send, barrier };
}

test('W3C in -> B3 (and W3C) out; the export is HTTP/protobuf to the collector host', async (t) => {
  const { receiver, send } = await traced(t);
  const seen = await send({ traceparent: `00-${T}-${S}-01`, tracestate: 'congo=t61rcWkgMzE' });
  const [span] = await receiver.waitForSpans(1);
  assert.ok(span);
  assert.equal(span.traceId, T);
  assert.equal(span.parentSpanId, S);
  assert.equal(span.traceState, 'congo=t61rcWkgMzE');
  assert.equal(span.kind, 2, 'an ingress listener makes a SERVER span');
  assert.equal(seen['x-b3-traceid'], T);
  assert.equal(seen['x-b3-spanid'], span.spanId);
  assert.equal(seen['x-b3-parentspanid'], S);
  assert.equal(seen['x-b3-sampled'], '1');
  assert.equal(seen.traceparent, `00-${T}-${span.spanId}-01`);
  assert.equal(seen.tracestate, 'congo=t61rcWkgMzE');
  const exp = receiver.exports[0];
  assert.equal(exp?.path, '/v1/traces');
  assert.equal(exp?.contentType, 'application/x-protobuf');
  assert.equal(exp?.headers.host, COLLECTOR_HOST);
  assert.equal(exp?.headers['x-collector-token'], 'abc');
});

test('B3 in -> W3C out, from the multi headers and from the single header', async (t) => {
  const { receiver, send } = await traced(t);
  const multi = await send({ 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': '1' });
  const [span] = await receiver.waitForSpans(1);
  assert.equal(span?.traceId, T);
  assert.equal(span?.parentSpanId, S);
  assert.equal(multi.traceparent, `00-${T}-${span?.spanId}-01`);
  const T2 = 'a'.repeat(31) + '1';
  const single = await send({ b3: `${T2}-${S}-1` });
  const spans = await receiver.waitForSpans(2);
  const second = spans.find((s) => s.traceId === T2);
  assert.equal(second?.parentSpanId, S);
  assert.equal(single.traceparent, `00-${T2}-${second?.spanId}-01`);
  assert.equal(
    single.b3,
    `${T2}-${second?.spanId}-1-${S}`,
    'a b3 single header is rewritten, not left stale',
  );
});

test('an unsampled caller is honoured: its context goes on with sampled=0 and no span is exported', async (t) => {
  const { send, barrier } = await traced(t);
  const seen = await send({ 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': '0' });
  assert.match(seen.traceparent ?? '', new RegExp(`^00-${T}-[0-9a-f]{16}-00$`));
  assert.equal(seen['x-b3-sampled'], '0');
  const w3c = await send({ traceparent: `00-${'c'.repeat(32)}-${S}-00` });
  assert.match(w3c.traceparent ?? '', /-00$/);
  const spans = await barrier();
  assert.deepEqual(
    spans.map((s) => s.traceId),
    ['b'.repeat(32)],
  );
});

test('at 0%: x-envoy-force-trace and x-client-trace-id still trace; a plain first hop does not', async (t) => {
  const { receiver, send, barrier } = await traced(t, { random: 0 });
  const plain = await send();
  assert.match(plain.traceparent ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/, 'a new trace, unsampled');
  assert.equal(plain['x-b3-sampled'], '0');
  const forced = await send({ 'x-envoy-force-trace': '1' });
  assert.match(forced.traceparent ?? '', /-01$/);
  const client = await send({ 'x-client-trace-id': 'debug-42' });
  assert.match(client.traceparent ?? '', /-01$/);
  await receiver.waitForSpans(2);
  const spans = await barrier();
  assert.equal(spans.length, 3);
  const plainTrace = plain.traceparent?.split('-')[1];
  assert.ok(!spans.some((s) => s.traceId === plainTrace));
  const clientSpan = spans.find((s) => s.traceId === client.traceparent?.split('-')[1]);
  assert.equal(clientSpan?.attributes['guid:x-client-trace-id'], 'debug-42');
  assert.equal(clientSpan?.parentSpanId, '', 'a first hop starts a root span');
});

test('random_sampling 10%: about a tenth of 2000 first hops are sampled, and each sampled one is exported', async (t) => {
  const { receiver, send } = await traced(t, { random: 10 });
  let sampled = 0;
  const total = 2000;
  const workers = Array.from({ length: 20 }, async () => {
    for (let i = 0; i < total / 20; i++) {
      const seen = await send();
      if (seen.traceparent?.endsWith('-01')) {
        sampled++;
        assert.equal(seen['x-b3-sampled'], '1');
      } else assert.equal(seen['x-b3-sampled'], '0');
    }
  });
  await Promise.all(workers);
  // Binomial(2000, 0.1): mean 200, sd ~13.4; the proxy's random source is seeded.
  assert.ok(sampled > 150 && sampled < 250, `sampled ${sampled} of ${total}`);
  await receiver.waitForSpans(sampled);
  assert.equal(receiver.spans.length, sampled);
});

test('malformed trace headers never fail a request: the proxy starts a fresh trace', async (t) => {
  const { receiver, send } = await traced(t);
  const bad: Record<string, string>[] = [
    { traceparent: 'zz' },
    { traceparent: `00-${T}-${S}-01-extra` },
    { traceparent: `00-${T.toUpperCase()}-${S}-01` },
    { b3: '!!!' },
    { 'x-b3-traceid': 'x'.repeat(5000), 'x-b3-spanid': S, 'x-b3-sampled': '1' },
    { tracestate: 'a='.repeat(2000) },
    { 'x-envoy-decorator-operation': '\u00ff'.repeat(10) },
  ];
  for (const headers of bad) {
    const seen = await send(headers);
    assert.match(
      seen.traceparent ?? '',
      /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/,
      JSON.stringify(headers).slice(0, 80),
    );
    assert.notEqual(seen.traceparent?.split('-')[1], T);
  }
  const spans = await receiver.waitForSpans(bad.length);
  assert.ok(spans.every((s) => s.parentSpanId === '' && s.traceId !== T));
});
