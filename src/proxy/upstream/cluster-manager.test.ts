import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeAds } from '../testing/fake-ads.js';
import { eventually } from '../../core/testing/eventually.js';
import { request, startBackend, startMesh } from '../testing/harness.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  routeTo,
  virtualHost,
} from '../testing/resources.js';

const C = 'outbound|9080||svc.default.svc.cluster.local';

async function setup(
  t: import('node:test').TestContext,
  cluster: object,
  eps: { port: number; healthy?: boolean }[],
  routeAction: object = {},
) {
  const mesh = await startMesh(
    {
      CDS: [edsCluster(C, cluster)],
      EDS: [endpoints(C, eps)],
      LDS: [httpListener(9080)],
      RDS: [
        routeConfig('9080', [virtualHost('svc', ['svc:9080'], [routeTo(C, { prefix: '/' }, routeAction)])]),
      ],
    },
    {},
    FakeAds,
  );
  t.after(() => mesh.close());
  return mesh;
}

test('circuit breaker max_requests overflows with 503 UO', async (t) => {
  const slow = await startBackend('slow', (req, res) => {
    req.resume();
    const timer = setTimeout(() => res.end('done'), 300);
    res.on('close', () => clearTimeout(timer));
  });
  t.after(() => slow.close());
  const { port, proxy } = await setup(
    t,
    { circuit_breakers: { thresholds: [{ max_requests: { value: 1 } }] } },
    [{ port: slow.port }],
  );
  const first = request(port, { host: 'svc:9080' });
  await eventually(() => slow.hits === 1, 'first request upstream');
  const second = await request(port, { host: 'svc:9080' });
  assert.equal(second.status, 503);
  assert.match(second.body, /overflow/);
  assert.equal((await first).status, 200);
  assert.match(proxy.stats.prometheus(), /response_code="503",response_flags="UO"/);
  assert.equal((await request(port, { host: 'svc:9080' })).status, 200, 'the slot is released');
});

test('outlier detection ejects a host after consecutive 5xx and traffic moves to the healthy one', async (t) => {
  const good = await startBackend('good');
  const bad = await startBackend('bad', (req, res) => {
    req.resume();
    res.writeHead(500);
    res.end('broken');
  });
  t.after(async () => {
    await good.close();
    await bad.close();
  });
  const { port, proxy } = await setup(
    t,
    {
      outlier_detection: {
        consecutive_5xx: { value: 2 },
        interval: { seconds: 10 },
        base_ejection_time: { seconds: 30 },
        max_ejection_percent: { value: 100 },
      },
    },
    [{ port: good.port }, { port: bad.port }],
  );
  for (let i = 0; i < 10 && bad.hits < 2; i++) await request(port, { host: 'svc:9080' });
  assert.equal(bad.hits, 2);
  const after = await Promise.all(Array.from({ length: 10 }, () => request(port, { host: 'svc:9080' })));
  assert.deepEqual(new Set(after.map((r) => r.status)), new Set([200]));
  assert.equal(bad.hits, 2, 'the ejected host gets no more requests');
  const clusters = (await request(proxy.adminPort, { path: '/clusters' })).body;
  assert.ok(clusters.includes(`127.0.0.1:${bad.port}::health_flags::/failed_outlier_check`));
  const stats = (await request(proxy.adminPort, { path: '/stats' })).body;
  assert.ok(stats.includes(`cluster.${C}.upstream_rq_5xx: 2`), stats);
  assert.ok(stats.includes(`cluster.${C}.outlier_detection.ejections_active: 1`), stats);
});

test('with every endpoint unhealthy, panic mode still sends traffic (Envoy default threshold 50%)', async (t) => {
  const only = await startBackend('only');
  t.after(() => only.close());
  const { port } = await setup(t, {}, [{ port: only.port, healthy: false }]);
  assert.equal((await request(port, { host: 'svc:9080' })).status, 200);
});

test('ring hash with a header hash policy keeps each user on one endpoint', async (t) => {
  const a = await startBackend('a');
  const b = await startBackend('b');
  t.after(async () => {
    await a.close();
    await b.close();
  });
  const { port } = await setup(t, { lb_policy: 'RING_HASH' }, [{ port: a.port }, { port: b.port }], {
    hash_policy: [{ header: { header_name: 'x-user' } }],
  });
  const seen = new Map<string, Set<string>>();
  for (let i = 0; i < 40; i++) {
    const user = `user-${i % 8}`;
    const res = await request(port, { host: 'svc:9080', headers: { 'x-user': user } });
    const set = seen.get(user) ?? new Set<string>();
    set.add(res.json<{ backend: string }>().backend);
    seen.set(user, set);
  }
  for (const [user, backends] of seen)
    assert.equal(backends.size, 1, `${user} went to ${[...backends].join(',')}`);
  const all = new Set([...seen.values()].flatMap((s) => [...s]));
  assert.equal(all.size, 2, 'users spread over both endpoints');
});
