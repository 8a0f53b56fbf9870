/**
 * `GET /v1/config/...?effective=true`: the resource as served, with the provenance of every field
 * a TrafficFilter set and the filters' problems, through a real control plane.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateResource } from '../api/validate.js';
import { MemoryConfigStore } from '../config/memory-store.js';
import type { Resource } from '../api/resource.js';
import { ControlPlane } from './control-plane.js';

type J = any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON answers, read field by field

const VS: Resource = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'reviews', namespace: 'shop' },
  spec: { hosts: ['reviews'], http: [{ name: 'primary', route: [{ destination: { host: 'reviews' } }] }] },
};

const filter = (name: string, owner: string, priority: number, feature: object): Resource => ({
  apiVersion: 'trellis.io/v1alpha1',
  kind: 'TrafficFilter',
  metadata: { name, namespace: 'shop' },
  spec: { target: { host: 'reviews' }, owner, priority, ...feature },
});

async function withControlPlane(
  resources: Resource[],
  fn: (get: (path: string) => Promise<{ status: number; body: J }>) => Promise<void>,
) {
  const store = new MemoryConfigStore((r) => validateResource(r));
  for (const r of resources) store.apply(r);
  const cp = new ControlPlane({ config: store, debounce: { quietMs: 1, maxMs: 10 } });
  const bound = await cp.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 });
  try {
    await fn(async (path) => {
      const res = await fetch(`http://127.0.0.1:${bound.http.port}${path}`);
      return { status: res.status, body: await res.json() };
    });
  } finally {
    await cp.stop();
  }
}

test('a VirtualService as served: the filters` fields, who set each, and the conflicts', async () => {
  await withControlPlane(
    [
      VS,
      filter('platform-retries', 'platform', 0, { retries: { attempts: 3, perTryTimeout: '2s' } }),
      filter('chaos', 'chaos', 100, { fault: { abort: { httpStatus: 503, percentage: { value: 100 } } } }),
      filter('team-a', 'team-a', 5, { timeout: '1s' }),
      filter('team-b', 'team-b', 5, { timeout: '2s' }),
    ],
    async (get) => {
      const written = await get('/v1/config/vs/shop/reviews');
      assert.equal(written.body.spec.http[0].retries, undefined, 'as written: no filter in it');
      assert.equal(written.body.status, undefined);

      const served = await get('/v1/config/vs/shop/reviews?effective=true');
      assert.equal(served.status, 200);
      assert.deepEqual(served.body.spec.http[0].retries, { attempts: 3, perTryTimeout: '2s' });
      assert.deepEqual(served.body.spec.http[0].fault, {
        abort: { httpStatus: 503, percentage: { value: 100 } },
      });
      assert.equal(served.body.spec.http[0].timeout, undefined, 'the tie applies neither timeout');
      assert.equal(
        served.body.metadata.annotations,
        undefined,
        'provenance is shown in status, not as an annotation',
      );
      assert.deepEqual(served.body.status.provenance['spec.http[0].retries.attempts'], {
        filter: 'shop/platform-retries',
        owner: 'platform',
        priority: 0,
      });
      assert.equal(served.body.status.provenance['spec.http[0].fault.abort.httpStatus'].owner, 'chaos');
      assert.deepEqual(served.body.status.conflicts, [
        { at: 'spec.http[0].timeout', priority: 5, filters: ['shop/team-a', 'shop/team-b'] },
      ]);

      const filters = await get('/v1/config/tf?namespace=shop&effective=true');
      const a = filters.body.items.find((i: Resource) => i.metadata.name === 'team-a');
      assert.equal(a.status.problems.length, 1);
      assert.equal(a.status.problems[0].derivation, 'traffic-filter');
      assert.match(
        a.status.problems[0].message,
        /conflicts with TrafficFilter shop\/team-b \(owner team-b\) at the same priority 5/,
      );
      const chaos = filters.body.items.find((i: Resource) => i.metadata.name === 'chaos');
      assert.deepEqual(chaos.status.problems, []);
    },
  );
});

test('effective answers: a resource only a derivation serves, not-served names, and a bad flag', async () => {
  await withControlPlane(
    [filter('limit', 'platform', 0, { rateLimit: { tokensPerFill: 5, fillInterval: '1s' } })],
    async (get) => {
      const name = 'traffic-filter.reviews.shop.svc.cluster.local';
      assert.equal((await get(`/v1/config/rl/shop/${name}`)).status, 404, 'not written by anyone');
      const served = await get(`/v1/config/rl/shop/${name}?effective=true`);
      assert.equal(served.status, 200);
      assert.deepEqual(served.body.spec.limits[0].quota, { requests: 5, per: 'second' });
      const missing = await get('/v1/config/vs/shop/nope?effective=true');
      assert.equal(missing.status, 404);
      assert.match(
        missing.body.error.message,
        /VirtualService shop\/nope is not served \(trellis get virtualservice -A --effective lists them\)/,
      );
      const bad = await get('/v1/config/vs?effective=yes');
      assert.equal(bad.status, 400);
      assert.match(bad.body.error.message, /effective=yes: expected true or false/);
    },
  );
});
