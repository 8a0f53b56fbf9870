/**
 * Proxies named by their short names, as a user types them: `trellis proxy-status NAME` and
 * `trellis proxy-config TYPE NAME` run as processes against a real control plane, with real
 * Trellis proxies and Envoy-like ADS clients connected.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectEnvoyLike, type EnvoyLikeClient } from '../helpers/envoy-like-client.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { runTrellis } from '../helpers/process.js';
import { startSidecar } from '../helpers/sidecar.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import type { TrellisProxy } from '../../../src/proxy/proxy.js';

const PRODUCTPAGE = 'sidecar~10.9.0.1~productpage-1.default~default.svc.cluster.local';
const REVIEWS_DEFAULT = 'sidecar~10.9.0.2~reviews-v1.default~default.svc.cluster.local';
const REVIEWS_STAGING = 'sidecar~10.9.0.3~reviews-v1.staging~staging.svc.cluster.local';

const SERVICE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews }
spec:
  hosts: [reviews.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1, ports: { http: 9 } }]
`;

async function withMesh(fn: (mesh: TestMesh, proxy: TrellisProxy) => Promise<void>): Promise<void> {
  const mesh = await startMesh();
  mesh.apply(SERVICE);
  const proxy = await startSidecar(mesh.xdsPort, { app: 'productpage' });
  const clients: EnvoyLikeClient[] = [
    connectEnvoyLike(mesh.xdsPort, {
      id: REVIEWS_DEFAULT,
      metadata: { NAMESPACE: 'default', WORKLOAD_NAME: 'reviews-v1' },
    }),
    connectEnvoyLike(mesh.xdsPort, { id: REVIEWS_STAGING }), // no metadata: names come from the id
  ];
  try {
    await eventually(async () => {
      const rows = (await (await fetch(`${mesh.httpUrl}/debug/syncz`)).json()) as unknown[];
      return rows.length === 3;
    }, 'three proxies connected');
    await fn(mesh, proxy);
  } finally {
    for (const c of clients) c.close();
    await proxy.stop(0);
    await mesh.stop();
  }
}

test('proxy-status and proxy-config accept a workload name, NAME.NAMESPACE or an id prefix', async () => {
  await withMesh(async (mesh) => {
    const cp = ['--control-plane', mesh.httpUrl];
    for (const name of ['productpage-1', 'productpage-1.default', 'sidecar~10.9.0.1', PRODUCTPAGE]) {
      const r = await runTrellis(['proxy-status', name, ...cp]);
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
      const rows = r.stdout.split('\n').filter((l) => l.startsWith('sidecar~'));
      assert.deepEqual(
        rows.map((l) => l.split(/\s+/)[0]),
        [PRODUCTPAGE],
        `${name}:\n${r.stdout}`,
      );
    }
    const json = await runTrellis(['proxy-status', 'reviews-v1.staging', '-o', 'json', ...cp]);
    assert.equal(json.code, 0, json.stderr);
    const rows = JSON.parse(json.stdout) as { proxy: string; workloadName: string; namespace: string }[];
    assert.deepEqual(
      rows.map((r) => [r.proxy, r.workloadName, r.namespace]),
      [[REVIEWS_STAGING, 'reviews-v1', 'staging']],
    );

    const routes = await runTrellis(['proxy-config', 'routes', 'productpage-1', ...cp]);
    assert.equal(routes.code, 0, routes.stderr);
    assert.match(routes.stdout, /\n9080\s+reviews\.default\.svc\.cluster\.local:9080\s/);
    const clusters = await runTrellis(['proxy-config', 'clusters', 'reviews-v1.default', ...cp]);
    assert.equal(clusters.code, 0, clusters.stderr);
    assert.match(clusters.stdout, /\nreviews\.default\.svc\.cluster\.local\s+9080\s+-\s+outbound\s+EDS/);
  });
});

test('an ambiguous or unknown proxy name is exit 1 listing the candidates, never an empty answer', async () => {
  await withMesh(async (mesh) => {
    const cp = ['--control-plane', mesh.httpUrl];
    const ambiguous = await runTrellis(['proxy-status', 'reviews-v1', ...cp]);
    assert.equal(ambiguous.code, 1);
    assert.equal(ambiguous.stdout, '');
    assert.match(
      ambiguous.stderr,
      /proxy "reviews-v1" is ambiguous: 2 proxies match; name one by its full id/,
    );
    assert.match(ambiguous.stderr, /\n {2}reviews-v1\.default\s+sidecar~10\.9\.0\.2~reviews-v1\.default~/);
    assert.match(ambiguous.stderr, /\n {2}reviews-v1\.staging\s+sidecar~10\.9\.0\.3~reviews-v1\.staging~/);
    assert.doesNotMatch(ambiguous.stderr, /productpage/);

    for (const args of [
      ['proxy-status', 'productpage-v1'],
      ['proxy-config', 'listeners', 'productpage-v1'],
      ['proxy-config', 'routes', 'product'], // a prefix of a name is not a name
    ]) {
      const r = await runTrellis([...args, ...cp]);
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.stdout, '');
      assert.match(
        r.stderr,
        /no connected proxy "[^"]+"; name a proxy by its workload name, NAME\.NAMESPACE or a prefix of its id\. Connected:/,
      );
      assert.match(r.stderr, /\n {2}productpage-1\.default\s+sidecar~10\.9\.0\.1~productpage-1\.default~/);
      assert.match(r.stderr, /\n {2}reviews-v1\.staging\s+/);
    }
  });
});

test('a proxy name with no proxies connected is exit 1, not "No proxies connected" with exit 0', async () => {
  const mesh = await startMesh();
  try {
    const r = await runTrellis(['proxy-status', 'productpage-v1', '--control-plane', mesh.httpUrl]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      /^trellis proxy-status: no proxy "productpage-v1": no proxies are connected to this control plane \(start them with 'trellis up' or 'trellis proxy'\) \(control plane http:\/\/127\.0\.0\.1:\d+\)\n$/,
    );
    // Without a name, an empty mesh is not an error.
    const all = await runTrellis(['proxy-status', '--control-plane', mesh.httpUrl]);
    assert.equal(all.code, 0);
    assert.equal(all.stdout, 'No proxies connected.\n');
  } finally {
    await mesh.stop();
  }
});
