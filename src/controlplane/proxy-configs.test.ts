import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateResource } from '../api/validate.js';
import { MemoryConfigStore } from '../config/memory-store.js';
import { ControlPlane } from './control-plane.js';
import { proxyConfigState } from './proxy-configs.js';

function store(): MemoryConfigStore {
  const s = new MemoryConfigStore((r) => validateResource(r));
  s.apply({
    apiVersion: 'networking.istio.io/v1beta1',
    kind: 'ProxyConfig',
    metadata: { name: 'mesh', namespace: 'istio-system' },
    spec: { environmentVariables: { A: 'root' } },
  });
  s.apply({
    apiVersion: 'networking.istio.io/v1beta1',
    kind: 'ProxyConfig',
    metadata: { name: 'cart', namespace: 'shop' },
    spec: { selector: { matchLabels: { app: 'cart' } }, concurrency: 3 },
  });
  return s;
}

test('the control plane resolves a proxy config over its served config and the mesh defaults', async () => {
  const cp = new ControlPlane({
    config: store(),
    proxyDefaults: { concurrency: 1, proxyMetadata: { M: 'mesh' } },
  });
  try {
    const cart = cp.proxyConfigFor({ namespace: 'shop', labels: { app: 'cart' } });
    assert.equal(cart.concurrency, 3);
    assert.deepEqual(cart.environmentVariables, { M: 'mesh', A: 'root' });
    assert.deepEqual(cart.sources, ['shop/cart', 'istio-system/mesh', 'mesh config']);
    const web = cp.proxyConfigFor({ namespace: 'shop', labels: { app: 'web' } });
    assert.equal(web.concurrency, 1);
    assert.notEqual(web.fingerprint, cart.fingerprint);
  } finally {
    await cp.stop();
  }
});

test('proxyConfigState: in effect only when the fingerprints match', () => {
  const current = { environmentVariables: {}, sources: ['shop/cart'], fingerprint: 'new' };
  assert.deepEqual(proxyConfigState('old', current), {
    started: 'old',
    current: 'new',
    inEffect: false,
    sources: ['shop/cart'],
  });
  assert.equal(proxyConfigState('new', current).inEffect, true);
});
