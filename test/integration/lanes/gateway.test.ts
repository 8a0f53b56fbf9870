/**
 * Lanes never widen who may reach what (issue #13, item 3, security): an outside caller at a
 * Trellis gateway cannot put a request in a lane (the header and the baggage member are taken
 * off, however spelt or repeated) unless its Gateway says `trellis.io/accept-lanes: "true"`; and
 * a request in a lane still meets the AuthorizationPolicy of the version it reaches.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { test } from 'node:test';
import { eventually } from '../../../src/core/testing/eventually.js';
import { freePort, HOST, pathOf, startLaneMesh, startLaneProxy, type ChainAnswer } from './lane-mesh.js';

const LANE = ['a-v1', 'b-box-x', 'c-v1'];
const PRODUCTION = ['a-v1', 'b-v1', 'c-v1'];

const gatewayYaml = (port: number, accept: boolean) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: shop
  namespace: default
  ${accept ? 'annotations: { trellis.io/accept-lanes: "true" }' : 'annotations: {}'}
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: ${port}, name: http, protocol: HTTP }
    hosts: [shop.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: shop, namespace: default }
spec:
  hosts: [shop.example.com]
  gateways: [shop]
  http:
  - route: [{ destination: { host: ${HOST('a')}, port: { number: 9080 } } }]
`;

/** A request from outside; headers as raw pairs, so names can repeat and keep their case. */
async function outside(
  port: number,
  headers: [string, string][] = [],
  path = '/',
): Promise<{ status: number; answer?: ChainAnswer }> {
  return await new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, headers: [['host', 'shop.example.com'], ...headers].flat() },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            ...(res.statusCode === 200 ? { answer: JSON.parse(body) as ChainAnswer } : {}),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('a gateway keeps outside callers out of lanes unless its Gateway accepts them', async (t) => {
  const m = await startLaneMesh(t);
  const port = await freePort();
  const gw = await startLaneProxy(m.mesh.xdsPort, {
    name: 'ingress',
    ip: '10.9.2.1',
    labels: { istio: 'ingressgateway' },
    bind: [port],
    mode: 'gateway',
  });
  t.after(() => gw.stop(100));
  m.mesh.apply(gatewayYaml(port, false));
  await eventually(async () => (await outside(port)).status === 200, 'the gateway route');

  await t.test('forged lanes are taken off: header, baggage member, any case, repeated', async () => {
    const before = m.apps.get('b-box-x')!.hits;
    const forged: [string, string][][] = [
      [['x-trellis-lane', 'box-x']],
      [['X-Trellis-Lane', 'box-x']],
      [
        ['x-trellis-lane', 'box-x'],
        ['x-trellis-lane', 'box-x'],
      ],
      [['baggage', 'trellis-lane=box-x']],
      [['baggage', 'user=alice, Trellis-Lane = box-x;p=1']],
      [
        ['baggage', 'user=alice'],
        ['baggage', 'trellis-lane=box-x'],
      ],
      [['baggage', `pad=${'x'.repeat(9000)},trellis-lane=box-x`]],
    ];
    for (const headers of forged) {
      const r = await outside(port, headers);
      assert.equal(r.status, 200, JSON.stringify(headers).slice(0, 80));
      assert.deepEqual(pathOf(r.answer), PRODUCTION, JSON.stringify(headers).slice(0, 80));
      // A saw no lane at all, and the rest of the baggage arrived.
      assert.equal(r.answer?.lane, undefined);
      assert.ok(!(r.answer?.baggage ?? '').toLowerCase().includes('trellis-lane'));
    }
    assert.equal(
      (await outside(port, [['baggage', 'user=alice,trellis-lane=box-x']])).answer?.baggage,
      'user=alice',
    );
    assert.equal(m.apps.get('b-box-x')!.hits, before);
    assert.ok(gw.stats.envoyCounter('trellis_lanes.stripped') >= forged.length);
  });

  await t.test('over HTTP/2 too (repeated headers arrive as a list)', async () => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    t.after(() => session.close());
    const get = (headers: http2.OutgoingHttpHeaders) =>
      new Promise<ChainAnswer>((resolve, reject) => {
        const stream = session.request({ ':path': '/', ':authority': 'shop.example.com', ...headers });
        let body = '';
        stream.setEncoding('utf8');
        stream.on('data', (c: string) => (body += c));
        stream.on('end', () => resolve(JSON.parse(body) as ChainAnswer));
        stream.on('error', reject);
        stream.end();
      });
    for (const headers of [
      { 'x-trellis-lane': 'box-x' },
      { 'x-trellis-lane': ['box-x', 'box-x'] },
      { baggage: ['a=1', 'trellis-lane=box-x'] },
    ]) {
      const answer = await get(headers);
      assert.deepEqual(pathOf(answer), PRODUCTION, JSON.stringify(headers));
      assert.equal(answer.lane, undefined);
    }
  });

  await t.test('a Gateway annotated trellis.io/accept-lanes lets callers choose a lane', async () => {
    m.mesh.apply(gatewayYaml(port, true));
    await eventually(
      async () => pathOf((await outside(port, [['x-trellis-lane', 'box-x']])).answer).includes('b-box-x'),
      'lanes accepted at the gateway',
    );
    assert.deepEqual(pathOf((await outside(port, [['baggage', 'trellis-lane=box-x']])).answer), LANE);
    assert.deepEqual(pathOf((await outside(port)).answer), PRODUCTION);
    // Accepted or not, a lane that names no lane is still none.
    assert.deepEqual(pathOf((await outside(port, [['x-trellis-lane', 'box-x, box-y']])).answer), PRODUCTION);
  });
});

test('a request in a lane meets the AuthorizationPolicy of the version it reaches', async (t) => {
  const m = await startLaneMesh(t);
  m.mesh.apply(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: b-no-admin, namespace: default }
spec:
  selector: { matchLabels: { app: b } }
  action: DENY
  rules:
  - to: [{ operation: { paths: ["/admin"] } }]
`);
  await eventually(async () => {
    const r = await m.call(m.client, '/admin');
    return r.status === 200 && pathOf(r.json<ChainAnswer>()).join(',') === 'a-v1,status 403';
  }, 'the policy in force on B');
  const lanes: Record<string, string>[] = [
    { 'x-trellis-lane': 'box-x' },
    { baggage: 'trellis-lane=box-x' },
    {},
  ];
  for (const headers of lanes) {
    const before = m.apps.get('b-box-x')!.hits + m.apps.get('b-v1')!.hits;
    const r = await m.call(m.client, '/admin', headers);
    assert.deepEqual(pathOf(r.json<ChainAnswer>()), ['a-v1', 'status 403'], JSON.stringify(headers));
    assert.equal(m.apps.get('b-box-x')!.hits + m.apps.get('b-v1')!.hits, before);
  }
  // The same lane request elsewhere is allowed, and reaches the sandbox.
  assert.deepEqual(
    pathOf((await m.call(m.client, '/', { 'x-trellis-lane': 'box-x' })).json<ChainAnswer>()),
    LANE,
  );
  const sandboxed = await m.call(m.sandboxClient, '/admin');
  assert.deepEqual(pathOf(sandboxed.json<ChainAnswer>()), ['a-v1', 'status 403']);
});
