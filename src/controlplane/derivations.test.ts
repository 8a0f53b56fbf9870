/**
 * The control plane serves the config after its derivations: a derived ServiceEntry becomes a
 * service in the index and the push, and a derivation's problems are listed with config errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource } from '../api/resource.js';
import { MemoryConfigStore } from '../config/memory-store.js';
import { ControlPlane } from './control-plane.js';

const derivedEntry: Resource = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'ServiceEntry',
  metadata: { name: 'derived', namespace: 'shop' },
  spec: { hosts: ['derived.shop'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'STATIC' },
};

test('a derivation adds what the store does not hold: indexed, pushed, its problems listed', async () => {
  const store = new MemoryConfigStore();
  let calls = 0;
  const cp = new ControlPlane({
    config: store,
    debounce: { quietMs: 1, maxMs: 10 },
    derivations: [
      {
        name: 'test',
        derive: () => {
          calls++;
          return {
            put: [derivedEntry],
            problems: [{ source: { kind: 'ServiceEntry', namespace: 'shop', name: 'derived' }, problems: [{ path: 'spec', message: 'noted', severity: 'warning' }] }],
          };
        },
      },
    ],
  });
  try {
    assert.ok(cp.index.snapshot().services.some((s) => s.hostname === 'derived.shop'));
    assert.ok(cp.ads.current.index.config.get('ServiceEntry', 'shop', 'derived'), 'the push context reads the derived config');
    assert.equal(store.get('ServiceEntry', 'shop', 'derived'), undefined, 'nothing is written to the store');
    const problems = cp.apiViews().debug.configProblems();
    assert.ok(problems.some((p) => 'source' in p && (p.source as { name?: string }).name === 'derived'));
    const before = calls;
    cp.effectiveSnapshot();
    cp.effectiveSnapshot();
    assert.equal(calls, before, 'derived once per store snapshot');
  } finally {
    await cp.stop();
  }
});
