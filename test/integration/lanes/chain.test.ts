/**
 * Sandbox lanes across hops (issue #13, item 3): a three-service chain A -> B -> C with real
 * Trellis proxies and a real control plane, where only B has a sandbox version (branch box-x).
 * The apps forward trace context but never the lane: the sidecars carry it. A request entering
 * the lane (the header, W3C baggage, or a caller in branch box-x) goes A -> B(box-x) -> C, C in
 * production (it has no version in the lane); production requests never touch B(box-x); and
 * requests in different lanes at once do not mix.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually } from '../../../src/core/testing/eventually.js';
import { pathOf, startLaneMesh, type ChainAnswer, type LaneMesh } from './lane-mesh.js';

const LANE = ['a-v1', 'b-box-x', 'c-v1'];
const PRODUCTION = ['a-v1', 'b-v1', 'c-v1'];
const TP = (n: number) => `00-${n.toString(16).padStart(32, '0')}-00f067aa0ba902b7-01`;

async function chain(
  m: LaneMesh,
  from: 'client' | 'sandbox' | 'envoy-sandbox',
  path = '/',
  headers: Record<string, string> = {},
) {
  const proxy = from === 'client' ? m.client : from === 'sandbox' ? m.sandboxClient : m.envoySandboxClient;
  const r = await m.call(proxy, path, headers);
  assert.equal(r.status, 200, r.body);
  const answer = r.json<ChainAnswer>();
  return { path: pathOf(answer), answer };
}

test('lanes through A -> B -> C', async (t) => {
  const m = await startLaneMesh(t);
  const boxHits = () => m.apps.get('b-box-x')!.hits;

  await t.test('production requests stay in production and never touch the sandbox', async () => {
    const before = boxHits();
    for (let i = 0; i < 20; i++) assert.deepEqual((await chain(m, 'client')).path, PRODUCTION);
    assert.equal(boxHits(), before);
  });

  await t.test('the lane header: A -> B(box-x) -> C(production), carried by the sidecars', async () => {
    const { path, answer } = await chain(m, 'client', '/', { 'x-trellis-lane': 'box-x' });
    assert.deepEqual(path, LANE);
    // C has no version in the lane: production C, still told the lane by B(box-x)'s sidecar.
    const c = (answer.next as ChainAnswer).next as ChainAnswer;
    assert.equal(c.lane, 'box-x');
    // Header names are case-insensitive; the lane itself is a label value, compared exactly.
    assert.deepEqual((await chain(m, 'client', '/', { 'X-Trellis-Lane': 'box-x' })).path, LANE);
  });

  await t.test('W3C baggage enters the lane (the apps forward no baggage)', async () => {
    assert.deepEqual(
      (await chain(m, 'client', '/', { baggage: 'user=alice,trellis-lane=box-x;p=1' })).path,
      LANE,
    );
  });

  await t.test('a caller in branch box-x enters the lane without saying so', async () => {
    assert.deepEqual((await chain(m, 'sandbox')).path, LANE);
    // ... unless its request says production explicitly.
    assert.deepEqual((await chain(m, 'sandbox', '/', { 'x-trellis-lane': 'master' })).path, PRODUCTION);
  });

  await t.test(
    'a sandboxed caller served as Envoy is (no lane filter) enters the lane by its routes',
    async () => {
      const envoy = m.envoySandboxClient.snapshot();
      const hcm = [...envoy.listeners.values()].flatMap((l) => l.filterChains.map((c) => c.filter));
      assert.ok(hcm.every((f) => f.kind !== 'http' || f.httpFilters.every((h) => h.kind !== 'lanes')));
      assert.deepEqual((await chain(m, 'envoy-sandbox')).path, LANE);
      assert.deepEqual(
        (await chain(m, 'envoy-sandbox', '/', { 'x-trellis-lane': 'master' })).path,
        PRODUCTION,
      );
      // Its own first hop is routed in the lane too (Envoy adds the header after routing).
      const direct = await m.call(m.envoySandboxClient, '/', {}, 'b');
      assert.deepEqual(pathOf(direct.json<ChainAnswer>()), ['b-box-x', 'c-v1']);
      const sandboxDirect = await m.call(m.sandboxClient, '/', {}, 'b');
      assert.deepEqual(pathOf(sandboxDirect.json<ChainAnswer>()), ['b-box-x', 'c-v1']);
    },
  );

  await t.test('carried by the W3C trace id alone, or by x-request-id alone', async () => {
    const byTrace = await chain(m, 'client', '/?forward=traceparent', {
      'x-trellis-lane': 'box-x',
      traceparent: TP(1),
    });
    assert.deepEqual(byTrace.path, LANE);
    assert.deepEqual(
      (await chain(m, 'client', '/?forward=x-request-id', { 'x-trellis-lane': 'box-x' })).path,
      LANE,
    );
  });

  await t.test(
    'an app that forwards no trace context loses the lane after its hop (documented)',
    async () => {
      assert.deepEqual(
        (await chain(m, 'client', '/?forward=none', { 'x-trellis-lane': 'box-x' })).path,
        PRODUCTION,
      );
    },
  );

  await t.test('a lane naming no branch, or a malformed one, falls back to production', async () => {
    const before = boxHits();
    const cases: Record<string, string>[] = [
      { 'x-trellis-lane': 'box-nope' },
      { 'x-trellis-lane': 'box-x, box-x' },
      { 'x-trellis-lane': 'BOX-X' },
      { 'x-trellis-lane': '' },
      { baggage: 'trellis-lane=box-x,trellis-lane=box-y' },
      { baggage: `${'k=v,'.repeat(64)}trellis-lane=box-x` },
      { baggage: `pad=${'x'.repeat(8200)},trellis-lane=box-x` },
      { baggage: 'trellis-lane=box%ZZ' },
    ];
    for (const headers of cases) {
      assert.deepEqual(
        (await chain(m, 'client', '/', headers)).path,
        PRODUCTION,
        JSON.stringify(headers).slice(0, 60),
      );
    }
    assert.equal(boxHits(), before);
  });

  await t.test('a forged trace id cannot pull a production request into a lane', async () => {
    // A lane request with trace id T, then a production request reusing T at the same hop.
    assert.deepEqual(
      (await chain(m, 'client', '/?forward=traceparent', { 'x-trellis-lane': 'box-x', traceparent: TP(9) }))
        .path,
      LANE,
    );
    assert.deepEqual(
      (await chain(m, 'client', '/?forward=traceparent', { traceparent: TP(9) })).path,
      PRODUCTION,
    );
  });

  await t.test('concurrent requests in and out of the lane do not mix', async () => {
    const before = boxHits();
    let lane = 0;
    const results = await Promise.all(
      Array.from({ length: 120 }, async (_, i) => {
        const inLane = i % 3 !== 0;
        if (inLane) lane++;
        const how = i % 4;
        const headers: Record<string, string> = {};
        if (inLane && how === 0) headers['x-trellis-lane'] = 'box-x';
        if (inLane && how !== 0) headers.baggage = 'trellis-lane=box-x';
        if (how === 1) headers.traceparent = TP(1000 + i);
        const from = inLane && how === 3 ? 'sandbox' : 'client';
        if (from === 'sandbox') delete headers.baggage;
        return {
          inLane,
          path: (await chain(m, from, how === 1 ? '/?forward=traceparent' : '/', headers)).path,
        };
      }),
    );
    for (const r of results) assert.deepEqual(r.path, r.inLane ? LANE : PRODUCTION);
    assert.equal(boxHits() - before, lane);
  });

  await t.test('the sidecars count what they carried', async () => {
    const b = m.proxies.get('b-box-x')!;
    await eventually(() => b.stats.envoyCounter('trellis_lanes.remembered') > 0, 'B(box-x) remembered lanes');
    assert.ok(b.stats.envoyCounter('trellis_lanes.carried') > 0);
    assert.ok(m.proxies.get('client')!.stats.envoyCounter('trellis_lanes.invalid') > 0);
    assert.ok(m.proxies.get('client-box-x')!.stats.envoyCounter('trellis_lanes.entered') > 0);
  });
});
