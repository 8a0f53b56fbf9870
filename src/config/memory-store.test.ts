import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTrellisError } from '../core/errors.js';
import type { Resource } from '../api/resource.js';
import { MemoryConfigStore } from './memory-store.js';
import type { ConfigEvent } from './store.js';

function vs(name: string, weight: number, namespace = 'default'): Resource {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name, namespace },
    spec: { hosts: [name], http: [{ route: [{ destination: { host: name }, weight }] }] },
  };
}

test('apply, get, list, delete with revisions and events', () => {
  const store = new MemoryConfigStore();
  const events: ConfigEvent[] = [];
  store.watch((e) => events.push(e));
  const a = store.apply(vs('reviews', 100));
  assert.equal(a.metadata.resourceVersion, '1');
  store.apply(vs('ratings', 100, 'prod'));
  assert.equal(store.revision, 2);
  assert.deepEqual(
    store.list('VirtualService').map((r) => `${r.metadata.namespace}/${r.metadata.name}`),
    ['default/reviews', 'prod/ratings'],
  );
  assert.equal(store.list('VirtualService', 'prod').length, 1);
  store.apply(vs('reviews', 100));
  assert.equal(store.revision, 2, 'an identical write is not a change');
  store.apply(vs('reviews', 90));
  assert.equal(store.get('VirtualService', 'default', 'reviews')?.metadata.resourceVersion, '3');
  assert.equal(store.delete('VirtualService', 'default', 'reviews'), true);
  assert.equal(store.delete('VirtualService', 'default', 'reviews'), false);
  assert.deepEqual(
    events.map((e) => `${e.revision}:${e.changes.map((c) => `${c.type} ${c.name}`).join(',')}`),
    ['1:added reviews', '2:added ratings', '3:updated reviews', '4:deleted reviews'],
  );
});

test('snapshots are immutable and keep their revision', () => {
  const store = new MemoryConfigStore();
  store.apply(vs('reviews', 100));
  const before = store.snapshot();
  store.apply(vs('reviews', 50));
  assert.equal(before.revision, 1);
  const spec = before.get('VirtualService', 'default', 'reviews')?.spec as {
    http: { route: { weight: number }[] }[];
  };
  assert.equal(spec.http[0]?.route[0]?.weight, 100);
  assert.throws(() => {
    (spec.http[0]!.route[0] as { weight: number }).weight = 1;
  }, TypeError);
});

test('an invalid write is rejected with its problems and the last good version stays', () => {
  const store = new MemoryConfigStore((r) =>
    (r.spec as { hosts?: string[] }).hosts?.length
      ? []
      : [{ severity: 'error', path: 'spec.hosts', message: 'required' }],
  );
  store.apply(vs('reviews', 100));
  const bad = vs('reviews', 100);
  (bad.spec as { hosts: string[] }).hosts = [];
  assert.throws(
    () => store.apply(bad),
    (err) => isTrellisError(err, 'TRELLIS_INVALID_CONFIG') && /spec\.hosts: required/.test(err.message),
  );
  assert.deepEqual((store.get('VirtualService', 'default', 'reviews')?.spec as { hosts: string[] }).hosts, [
    'reviews',
  ]);
});

test('expectedVersion guards against lost updates', () => {
  const store = new MemoryConfigStore();
  const first = store.apply(vs('reviews', 100));
  store.apply(vs('reviews', 90), { expectedVersion: first.metadata.resourceVersion! });
  assert.throws(
    () => store.apply(vs('reviews', 80), { expectedVersion: first.metadata.resourceVersion! }),
    (err) => isTrellisError(err, 'TRELLIS_CONFLICT'),
  );
});
