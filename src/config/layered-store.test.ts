import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource } from '../api/resource.js';
import { LayeredConfigStore } from './layered-store.js';
import { MemoryConfigStore } from './memory-store.js';

const gateway = (port: number): Resource => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'Gateway',
  metadata: { name: 'gw', namespace: 'default' },
  spec: {
    selector: { istio: 'ingressgateway' },
    servers: [{ port: { number: port, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }],
  },
});
const vs: Resource = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'reviews', namespace: 'default' },
  spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }] }] },
};

test('reads every layer as one; the first layer wins a resource both define', () => {
  const derived = new MemoryConfigStore();
  const user = new MemoryConfigStore();
  derived.apply(gateway(18080));
  user.apply(gateway(80));
  user.apply(vs);
  const store = new LayeredConfigStore([derived, user]);
  assert.equal(store.list('Gateway').length, 1);
  assert.deepEqual(
    (store.get('Gateway', 'default', 'gw')?.spec as { servers: { port: { number: number } }[] }).servers[0]
      ?.port.number,
    18080,
  );
  assert.equal(store.snapshot().list('VirtualService').length, 1);
  assert.equal(store.list('VirtualService', 'other').length, 0);
  store.close();
});

test('a change in any layer is one event with a higher revision and a new snapshot', () => {
  const derived = new MemoryConfigStore();
  const user = new MemoryConfigStore();
  const store = new LayeredConfigStore([derived, user]);
  const revisions: number[] = [];
  store.watch((e) => revisions.push(e.revision));
  const before = store.revision;
  user.apply(vs);
  derived.apply(gateway(1));
  assert.equal(revisions.length, 2);
  assert.ok(revisions[0]! > before && revisions[1]! > revisions[0]!);
  assert.equal(store.snapshot().list('Gateway').length, 1);
  user.delete('VirtualService', 'default', 'reviews');
  assert.equal(store.list('VirtualService').length, 0);
  store.close();
});

test('errors of every layer are reported', () => {
  const user = new MemoryConfigStore();
  user.setErrors([
    {
      source: { file: 'a.yaml', doc: 1 },
      problems: [{ severity: 'error', path: 'spec', message: 'bad' }],
      at: 0,
    },
  ]);
  const store = new LayeredConfigStore([new MemoryConfigStore(), user]);
  assert.equal(store.errors().length, 1);
  store.close();
});
