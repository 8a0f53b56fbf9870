/**
 * Two control planes on one etcd, as two replicas of `trellis control-plane --store etcd://`:
 * an apply through one is served by the other's xDS; a registration through one is in the
 * other's EDS, heart-beats through either and expires exactly once; with etcd stopped both keep
 * serving xDS and refuse writes with a 503, and catch up when it returns.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '../../../src/core/testing/eventually.js';
import { memoryLogger } from '../../../src/core/logger.js';
import { EtcdConfigStore } from '../../../src/config/etcd-store.js';
import { parseEtcdUrl } from '../../../src/config/etcd-keys.js';
import { ControlPlane } from '../../../src/controlplane/control-plane.js';
import { TYPE } from '../../../src/protocol/protos.js';
import { connectEnvoyLike, type EnvoyLikeClient } from '../helpers/envoy-like-client.js';
import { EtcdServer, etcdSkip } from '../helpers/etcd.js';

interface Replica {
  name: string;
  cp: ControlPlane;
  store: EtcdConfigStore;
  http: string;
  xdsPort: number;
  proxy: EnvoyLikeClient;
  lines: string[];
  close(): Promise<void>;
}

async function replica(etcd: EtcdServer, name: string): Promise<Replica> {
  const { logger, lines } = memoryLogger(name);
  const endpoints = parseEtcdUrl(etcd.url);
  const store = new EtcdConfigStore({ endpoints, logger: logger.child('config') });
  await store.start();
  const cp = new ControlPlane({
    config: store,
    etcd: { client: store.client, endpoints },
    logger,
    debounce: { quietMs: 10, maxMs: 50 },
  });
  const bound = await cp.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 });
  const proxy = connectEnvoyLike(bound.xds.port, {
    id: `sidecar~10.1.0.${name === 'a' ? 1 : 2}~client-${name}.default~default.svc.cluster.local`,
  });
  return {
    name,
    cp,
    store,
    http: `http://127.0.0.1:${bound.http.port}`,
    xdsPort: bound.xds.port,
    proxy,
    lines,
    close: async () => {
      proxy.close();
      await cp.stop();
      await store.close();
    },
  };
}

const CLUSTER = 'outbound|9080||reviews.default.svc.cluster.local';

function endpointsOf(r: Pick<Replica, 'proxy'>, cluster = CLUSTER): string[] {
  const cla = r.proxy.resources.get(TYPE.endpoint)?.get(cluster) as
    | {
        endpoints?: {
          lb_endpoints?: { endpoint?: { address?: { socket_address?: { address?: string } } } }[];
        }[];
      }
    | undefined;
  return (cla?.endpoints ?? [])
    .flatMap((l) => l.lb_endpoints ?? [])
    .map((e) => e.endpoint?.address?.socket_address?.address ?? '?')
    .sort();
}

type J = any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON answers, read field by field

async function call(url: string, method: string, body?: unknown): Promise<{ status: number; json: J }> {
  const res = await fetch(url, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

const serviceEntry = (hosts: string[], addresses: string[]) => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'ServiceEntry',
  metadata: { name: 'payments', namespace: 'default' },
  spec: {
    hosts,
    location: 'MESH_INTERNAL',
    resolution: 'STATIC',
    ports: [{ number: 8080, name: 'http', protocol: 'HTTP' }],
    endpoints: addresses.map((address) => ({ address })),
  },
});

test('control-plane replicas on one etcd', { skip: etcdSkip, timeout: 120_000 }, async (t) => {
  const etcd = await EtcdServer.start();
  t.after(() => etcd.close());
  const a = await replica(etcd, 'a');
  const b = await replica(etcd, 'b');
  t.after(async () => {
    await a.close();
    await b.close();
  });
  const context = () =>
    `etcd:\n${etcd.log()}\nA:\n${a.lines.slice(-20).join('')}\nB:\n${b.lines.slice(-20).join('')}`;

  await t.test('an apply through A is served by B’s xDS', async () => {
    const res = await call(
      `${a.http}/v1/config`,
      'POST',
      serviceEntry(['payments.default.svc.cluster.local'], ['10.9.0.1']),
    );
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const payments = 'outbound|8080||payments.default.svc.cluster.local';
    await eventually(() => assert.deepEqual(endpointsOf(b, payments), ['10.9.0.1']), {
      what: 'B serves the ServiceEntry written through A',
      context,
    });
    const got = await call(`${b.http}/v1/config/serviceentries/default/payments`, 'GET');
    assert.equal(got.json.metadata.resourceVersion, String(res.json.revision));
    // And back the other way, an update through B reaches A's proxy.
    await call(
      `${b.http}/v1/config`,
      'POST',
      serviceEntry(['payments.default.svc.cluster.local'], ['10.9.0.2']),
    );
    await eventually(() => assert.deepEqual(endpointsOf(a, payments), ['10.9.0.2']), { context });
  });

  await t.test('a registration through A is in B’s EDS, kept alive through B, and expires once', async () => {
    const reg = await call(`${a.http}/v1/registrations`, 'POST', {
      service: 'reviews',
      address: '10.2.0.7',
      ports: { http: 9080 },
      ttlSeconds: 2,
    });
    assert.equal(reg.status, 201, JSON.stringify(reg.json));
    const id = reg.json.id as string;
    await eventually(() => assert.deepEqual(endpointsOf(b, CLUSTER), ['10.2.0.7']), {
      what: 'B’s EDS',
      context,
    });
    assert.deepEqual(
      (await call(`${b.http}/v1/registrations`, 'GET')).json.map((r: { id: string }) => r.id),
      [id],
    );
    // Heart-beating through B past two TTLs keeps it registered.
    const until = Date.now() + 4500;
    while (Date.now() < until) {
      const hb = await call(`${b.http}/v1/registrations/${encodeURIComponent(id)}/heartbeat`, 'POST');
      assert.equal(hb.status, 200, JSON.stringify(hb.json));
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.deepEqual(endpointsOf(a, CLUSTER), ['10.2.0.7'], 'still registered after 2 TTLs of heartbeats');
    // Stop heart-beating: etcd expires it; both replicas drop it from EDS.
    await eventually(
      () => {
        assert.deepEqual(endpointsOf(a, CLUSTER), []);
        assert.deepEqual(endpointsOf(b, CLUSTER), []);
      },
      { what: 'expiry reaches both replicas’ EDS', timeoutMs: 10_000, context },
    );
    const expiredLines = () => [...a.lines, ...b.lines].filter((l) => /instance expired/.test(l));
    await eventually(() => assert.equal(expiredLines().length, 1), { what: 'one expiry report', context });
    const counted = [a, b].map(
      (r) => /trellis_registration_expiries_total(?:\{\})? (\d+)/.exec(r.cp.metrics.render())?.[1] ?? '0',
    );
    assert.deepEqual(
      counted.map(Number).reduce((x, y) => x + y, 0),
      1,
      `expiry counters ${counted.join(',')}`,
    );
    const late = await call(`${a.http}/v1/registrations/${encodeURIComponent(id)}/heartbeat`, 'POST');
    assert.equal(late.status, 404);
    assert.match(late.json.error.message, /expired or never registered/);
  });

  await t.test('a deregistration is not an expiry', async () => {
    const reg = await call(`${b.http}/v1/registrations`, 'POST', {
      service: 'reviews',
      address: '10.2.0.8',
      ports: { http: 9080 },
      ttlSeconds: 30,
    });
    await eventually(() => assert.deepEqual(endpointsOf(a, CLUSTER), ['10.2.0.8']), { context });
    const del = await call(`${a.http}/v1/registrations/${encodeURIComponent(reg.json.id)}`, 'DELETE');
    assert.equal(del.status, 200);
    await eventually(() => assert.deepEqual(endpointsOf(b, CLUSTER), []), { context });
    assert.equal(
      [...a.lines, ...b.lines].filter((l) => /instance expired/.test(l)).length,
      1,
      'still the one expiry',
    );
  });

  await t.test('etcd stopped: xDS keeps serving, writes get 503, then both catch up', async () => {
    await etcd.stop();
    const started = Date.now();
    const refused = await call(
      `${a.http}/v1/config`,
      'POST',
      serviceEntry(['payments.default.svc.cluster.local'], ['10.9.0.3']),
    );
    assert.equal(refused.status, 503, JSON.stringify(refused.json));
    assert.equal(refused.json.error.code, 'TRELLIS_STORE_UNAVAILABLE');
    assert.match(
      refused.json.error.message,
      /etcd at 127\.0\.0\.1:\d+ is unreachable.*writes are refused until it returns; the last state \(revision \d+\) keeps serving/,
    );
    assert.ok(Date.now() - started < 3000, `answered in ${Date.now() - started} ms`);
    const regRefused = await call(`${b.http}/v1/registrations`, 'POST', {
      service: 'x',
      address: '10.0.0.1',
      ports: { http: 1 },
    });
    assert.equal(regRefused.status, 503);
    // Connected proxies keep their config, and one connecting now gets the last state.
    assert.deepEqual(endpointsOf(b, 'outbound|8080||payments.default.svc.cluster.local'), ['10.9.0.2']);
    const late = connectEnvoyLike(b.xdsPort, {
      id: 'sidecar~10.1.0.9~late.default~default.svc.cluster.local',
    });
    t.after(() => late.close());
    await eventually(
      () =>
        assert.deepEqual(endpointsOf({ proxy: late }, 'outbound|8080||payments.default.svc.cluster.local'), [
          '10.9.0.2',
        ]),
      { what: 'a proxy connecting while etcd is down gets the last state', context },
    );
    const problems = await call(`${a.http}/debug/config_errors`, 'GET');
    assert.ok(JSON.stringify(problems.json).includes('etcd is unreachable'), JSON.stringify(problems.json));

    await etcd.restart();
    const ok = await eventually(
      async () => {
        const r = await call(
          `${a.http}/v1/config`,
          'POST',
          serviceEntry(['payments.default.svc.cluster.local'], ['10.9.0.4']),
        );
        assert.equal(r.status, 200, JSON.stringify(r.json));
        return r;
      },
      { what: 'a write succeeds after etcd returns', timeoutMs: 15_000, intervalMs: 250, context },
    );
    for (const r of [a, b])
      await eventually(
        () => {
          assert.equal(r.store.revision >= ok.json.revision, true);
          assert.deepEqual(endpointsOf(r, 'outbound|8080||payments.default.svc.cluster.local'), ['10.9.0.4']);
        },
        { what: `replica ${r.name} catches up`, timeoutMs: 10_000, context },
      );
  });
});
