import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource } from '../../api/resource.js';
import { MemoryConfigStore } from '../../config/memory-store.js';
import { clashMessage, nameClashes, routerConflicts } from './conflicts.js';

const OWNER = 'Router/shop/web';
const HOST = 'web.shop.svc.cluster.local';
const res = (kind: string, name: string, spec: object, owner?: string): Resource => ({
  apiVersion: 'networking.istio.io/v1',
  kind,
  metadata: { name, namespace: 'shop', ...(owner ? { annotations: { 'trellis.io/owned-by': owner } } : {}) },
  spec,
});

function snapshot(...resources: Resource[]) {
  const store = new MemoryConfigStore();
  for (const r of resources) store.apply(r);
  return store.snapshot();
}

test('routerConflicts: by host (hosts or host, short or full) and by name, the Router own ones aside, sorted', () => {
  const config = snapshot(
    res('VirtualService', 'z-mine', { hosts: ['web', 7] }),
    res('DestinationRule', 'a-mine', { host: HOST }),
    res('DestinationRule', 'other', { host: 'api' }),
    res('ServiceEntry', 'web', { hosts: ['other.example.com'] }),
    res('VirtualService', 'web', { hosts: [HOST] }, OWNER),
    res('VirtualService', 'owned', { hosts: [HOST] }, OWNER),
    res('VirtualService', 'odd', { hosts: 'web' }),
  );
  assert.deepEqual(routerConflicts(config, HOST, OWNER), [
    'DestinationRule/shop/a-mine',
    'ServiceEntry/shop/web',
    'VirtualService/shop/z-mine',
  ]);
  assert.deepEqual(nameClashes(config, OWNER), ['ServiceEntry/shop/web']);
  assert.deepEqual(nameClashes(config, 'Router/shop/none'), []);
});

test('clashMessage: names every clash and what to do, singular and plural', () => {
  assert.equal(
    clashMessage(['VirtualService/shop/web'], OWNER),
    'VirtualService/shop/web is your own and named as Router/shop/web, whose resources would replace it: the Router writes nothing until you rename or delete VirtualService/shop/web (or rename the Router)',
  );
  assert.equal(
    clashMessage(['DestinationRule/shop/web', 'VirtualService/shop/web'], OWNER),
    'DestinationRule/shop/web, VirtualService/shop/web are your own and named as Router/shop/web, whose resources would replace them: the Router writes nothing until you rename or delete DestinationRule/shop/web, VirtualService/shop/web (or rename the Router)',
  );
});
