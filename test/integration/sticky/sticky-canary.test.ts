/**
 * Sticky canary through the control plane and a real sidecar (issue #13 item 4): a VirtualService
 * with `trellis.io/sticky-canary: header:x-user` walks its canary from 10% to 20%, 50% and 100%;
 * every user keeps answering from the same version within a step, and a user once on the canary
 * is never sent back to stable. Requests without the header still get ordinary weighted picks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startBackend } from '../../../src/proxy/testing/harness.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import { startMesh } from '../helpers/mesh.js';
import { startSidecar, viaSidecar } from '../helpers/sidecar.js';

const HOST = 'reviews.default.svc.cluster.local';
const USERS = Array.from({ length: 300 }, (_, i) => `user-${i}`);
const CONCURRENCY = 12;

async function inBatches<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

const virtualService = (canary: number) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: default
  annotations: { trellis.io/sticky-canary: "header:x-user" }
spec:
  hosts: [${HOST}]
  http:
  - match: [{ uri: { exact: /step } }]
    directResponse: { status: 200, body: { string: "step-${canary}" } }
  - route:
    - { destination: { host: ${HOST}, subset: stable }, weight: ${100 - canary} }
    - { destination: { host: ${HOST}, subset: canary }, weight: ${canary} }
`;

test('sticky canary: users stay on one version within a step and never move back across 10 -> 20 -> 50 -> 100', async (t) => {
  const stable = await startBackend('stable');
  const canary = await startBackend('canary');
  const mesh = await startMesh();
  const proxy = await startSidecar(mesh.xdsPort);
  t.after(async () => {
    await proxy.stop(100);
    await mesh.stop();
    await stable.close();
    await canary.close();
  });
  mesh.apply(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews, namespace: default }
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  endpoints:
  - { address: 127.0.0.1, ports: { http: ${stable.port} }, labels: { version: stable } }
  - { address: 127.0.0.1, ports: { http: ${canary.port} }, labels: { version: canary } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: ${HOST}
  subsets:
  - { name: stable, labels: { version: stable } }
  - { name: canary, labels: { version: canary } }
`);

  const versionOf = async (headers: Record<string, string>): Promise<string> => {
    const res = await viaSidecar(proxy, `${HOST}:9080`, '/', headers);
    assert.equal(res.status, 200, `status ${res.status}: ${res.body}`);
    return String(res.headers['x-backend']);
  };

  let previous = new Map<string, string>();
  for (const weight of [10, 20, 50, 100]) {
    mesh.apply(virtualService(weight));
    await eventually(
      async () => (await viaSidecar(proxy, `${HOST}:9080`, '/step')).body === `step-${weight}`,
      `the ${weight}% route in effect`,
    );
    const first = await inBatches(USERS, (u) => versionOf({ 'x-user': u }));
    const again = await inBatches(USERS, (u) => versionOf({ 'x-user': u }));
    const now = new Map(USERS.map((u, i) => [u, first[i]!]));
    USERS.forEach((u, i) =>
      assert.equal(again[i], first[i], `${u} switched versions within the ${weight}% step`),
    );
    for (const [u, v] of previous) {
      if (v === 'canary') assert.equal(now.get(u), 'canary', `${u} moved back to stable at ${weight}%`);
    }
    const share = first.filter((v) => v === 'canary').length / USERS.length;
    assert.ok(
      Math.abs(share - weight / 100) <= 0.08,
      `${weight}%: ${(share * 100).toFixed(1)}% of users on the canary`,
    );
    if (weight === 50) {
      // Without the key: ordinary weighted picks, both versions answer one anonymous caller.
      const anonymous = await inBatches(
        Array.from({ length: 60 }, () => ({})),
        (h) => versionOf(h),
      );
      assert.deepEqual([...new Set(anonymous)].sort(), ['canary', 'stable']);
    }
    previous = now;
  }
  assert.ok(
    [...previous.values()].every((v) => v === 'canary'),
    'at 100% everyone is on the canary',
  );
});
