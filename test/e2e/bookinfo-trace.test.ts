/**
 * `trellis up examples/bookinfo --otlp URL` end to end: one request through the gateway to
 * /productpage yields one trace, received over OTLP/HTTP by a receiver in the test that decodes
 * the official protobuf, with spans from the gateway and every sidecar on the path
 * (productpage -> details, productpage -> reviews v2 -> ratings), each CLIENT span the parent of
 * the next hop's SERVER span; then the collector goes down and requests still answer 200.
 */
import assert from 'node:assert/strict';
import { cp, copyFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { eventually } from '../../src/core/testing/eventually.js';
import { REPO, startTrellis } from '../integration/helpers/process.js';
import { OtlpReceiver, type ReceivedSpan } from '../integration/tracing/otlp-receiver.js';
import { describeTrace, traceEdges } from './helpers/trace-tree.js';

const EXAMPLE = path.join(REPO, 'examples/bookinfo');
const SERVER = 2;
const CLIENT = 3;
const GATEWAY = 'bookinfo-gateway.default';
const cluster = (host: string, subset = '') => `outbound|9080|${subset}|${host}.default.svc.cluster.local`;
const op = (host: string, path = '/*') => `${host}.default.svc.cluster.local:9080${path}`;
const EXPECTED_NAMES = [
  `${GATEWAY} SERVER ${op('productpage', '/productpage')}`,
  `${GATEWAY} CLIENT router ${cluster('productpage')} egress`,
  `productpage-v1.default SERVER ${op('productpage', '/productpage')}`,
  `productpage-v1.default CLIENT ${op('details')}`,
  `productpage-v1.default CLIENT ${op('reviews')}`,
  `details-v1.default SERVER ${op('details')}`,
  `reviews-v2.default SERVER ${op('reviews')}`,
  `reviews-v2.default CLIENT ${op('ratings')}`,
  `ratings-v1.default SERVER ${op('ratings')}`,
];
/** Who calls whom on jason's page: each hop's SERVER span under the caller's CLIENT span. */
const EXPECTED_EDGES = [
  `${GATEWAY} SERVER -> ${GATEWAY} CLIENT ${cluster('productpage')}`,
  `${GATEWAY} CLIENT ${cluster('productpage')} -> productpage-v1.default SERVER`,
  `productpage-v1.default SERVER -> productpage-v1.default CLIENT ${cluster('details')}`,
  `productpage-v1.default SERVER -> productpage-v1.default CLIENT ${cluster('reviews', 'v2')}`,
  `productpage-v1.default CLIENT ${cluster('details')} -> details-v1.default SERVER`,
  `productpage-v1.default CLIENT ${cluster('reviews', 'v2')} -> reviews-v2.default SERVER`,
  `reviews-v2.default SERVER -> reviews-v2.default CLIENT ${cluster('ratings', 'v1')}`,
  `reviews-v2.default CLIENT ${cluster('ratings', 'v1')} -> ratings-v1.default SERVER`,
];

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(15_000) });
  return { status: res.status, text: await res.text() };
}

test(
  'trellis up examples/bookinfo --otlp: one trace over the gateway and every sidecar; a collector that is down costs no request',
  { timeout: 180_000 },
  async (t) => {
    const receiver = await OtlpReceiver.http();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'trellis-bookinfo-trace-'));
    await cp(path.join(EXAMPLE, 'config'), dir, { recursive: true });
    // jason's requests go to reviews v2, which calls ratings: the longest path bookinfo has.
    await copyFile(path.join(EXAMPLE, 'scenarios/jason-v2.yaml'), path.join(dir, 'reviews.yaml'));
    const up = startTrellis([
      'up',
      'examples/bookinfo',
      '--config',
      dir,
      '--otlp',
      `http://127.0.0.1:${receiver.port}/v1/traces`,
      '--gateway-port',
      '0',
      '--base-port',
      '0',
      '--xds-port',
      '0',
      '--http-port',
      '0',
      '--stop-grace',
      '3',
    ]);
    const context = () => `\ntrellis up output (tail):\n${(up.stdout() + up.stderr()).slice(-4000)}`;
    t.after(async () => {
      await up.stop('SIGKILL');
      await receiver.close();
      await rm(dir, { recursive: true, force: true });
    });
    const [, gateway] = await up.waitForOutput(/gateway: +(http:\/\/127\.0\.0\.1:\d+)/, 60_000);
    const page = `${gateway}/productpage`;
    const jason = { 'end-user': 'jason' };

    // Wait until the page is whole (reviews v2 with stars from ratings) before the traced request.
    await eventually(async () => /class="stars"/.test((await get(page, jason)).text), {
      what: 'the page served with ratings',
      timeoutMs: 30_000,
      intervalMs: 200,
      context,
    });

    await t.test('one request yields one trace whose spans nest hop by hop', async () => {
      const probe = `trace-e2e-${process.pid}-${Date.now()}`;
      const r = await get(`${page}?probe=${probe}`, jason);
      assert.equal(r.status, 200);
      assert.match(r.text, /William Shakespeare/);
      assert.match(r.text, /class="stars"/, 'reviews v2 called ratings');
      // The gateway's span of this request is the root; its trace id names the trace.
      const root = await eventually(
        () =>
          receiver.spans.find(
            (s) =>
              s.serviceName === GATEWAY && s.kind === SERVER && s.attributes['http.url']?.endsWith(probe),
          ) ?? false,
        {
          what: "the gateway's span of the request",
          timeoutMs: 10_000,
          context: () => `\nreceived ${receiver.spans.length} spans${context()}`,
        },
      );
      const trace = (): ReceivedSpan[] => receiver.spans.filter((s) => s.traceId === root.traceId);
      // Spans reach the receiver in batches from six proxies; wait for the last hop's.
      await eventually(() => trace().length >= EXPECTED_EDGES.length + 1, {
        what: 'every hop of the trace exported',
        timeoutMs: 10_000,
        context: () => `\n${describeTrace(trace())}`,
      });
      const spans = trace();
      assert.equal(root.parentSpanId, '', 'the gateway starts the trace');
      assert.deepEqual(traceEdges(spans), [...EXPECTED_EDGES].sort(), describeTrace(spans));
      // Every CLIENT span has exactly one child, the SERVER span of the hop it called.
      for (const client of spans.filter((s) => s.kind === CLIENT)) {
        const children = spans.filter((s) => s.parentSpanId === client.spanId);
        assert.equal(children.length, 1, describeTrace(spans));
        assert.equal(children[0]?.kind, SERVER, describeTrace(spans));
      }
      // Spans are named by the routes' decorators (Istio's HOST:PORT/PATH); a SERVER span takes
      // the name its caller's proxy sent on.
      const names = spans
        .map((s) => `${s.serviceName} ${s.kind === SERVER ? 'SERVER' : 'CLIENT'} ${s.name}`)
        .sort();
      assert.deepEqual(names, [...EXPECTED_NAMES].sort(), describeTrace(spans));
      // One request id from the gateway to ratings (Envoy's upstream spans carry none).
      const ids = new Set(
        spans.filter((s) => !s.name.startsWith('router ')).map((s) => s.attributes['guid:x-request-id']),
      );
      assert.equal(ids.size, 1, describeTrace(spans));
      assert.ok([...ids][0], 'a request id');
      assert.ok(
        spans.every((s) => s.status === 0 && s.attributes['http.status_code'] === '200'),
        describeTrace(spans),
      );
    });

    await t.test('a collector that is down costs no request', async () => {
      const [, admin] =
        /gateway: +http:\/\/127\.0\.0\.1:\d+ +\(admin (http:\/\/127\.0\.0\.1:\d+)\)/.exec(up.stdout()) ?? [];
      assert.ok(admin, `the gateway's admin URL in the summary${context()}`);
      const failed = async () => {
        const stats = (await get(`${admin}/stats`)).text;
        return Number(/tracing\.opentelemetry\.http_reports_failed: (\d+)/.exec(stats)?.[1] ?? 0);
      };
      const before = await failed();
      await receiver.close();
      const started = performance.now();
      for (let i = 0; i < 20; i++) {
        const res = await get(page, jason);
        assert.equal(res.status, 200);
        assert.match(res.text, /class="stars"/);
      }
      const ms = performance.now() - started;
      // Twenty whole pages (four hops each) on loopback; a request waiting on the collector would
      // take its export timeout.
      assert.ok(ms < 10_000, `20 requests took ${Math.round(ms)} ms`);
      // The gateway did try to export them, and counted the failure.
      await eventually(async () => (await failed()) > before, {
        what: 'a failed export counted by the gateway',
        timeoutMs: 15_000,
        intervalMs: 250,
      });
    });
  },
);
