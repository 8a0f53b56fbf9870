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

test('POST /v1/config refuses a ProxyConfig whose environment would change how proxies run (400 with the path), keeping the last good one', async () => {
  const cp = new ControlPlane({ config: store(), debounce: { quietMs: 1, maxMs: 10 } });
  const bound = await cp.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${bound.http.port}`;
  try {
    const pc = (env: Record<string, string>) => ({
      apiVersion: 'networking.istio.io/v1beta1',
      kind: 'ProxyConfig',
      metadata: { name: 'mesh', namespace: 'istio-system' },
      spec: { environmentVariables: env },
    });
    for (const name of ['NODE_OPTIONS', 'LD_PRELOAD', 'node_extra_ca_certs', 'https_proxy', 'PATH']) {
      const res = await fetch(`${url}/v1/config`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(pc({ A: 'root', [name]: '--require /tmp/evil.js' })),
      });
      const body = (await res.json()) as {
        error?: { code: string; problems: { path: string; message: string }[] };
      };
      assert.equal(res.status, 400, `${name}: ${JSON.stringify(body)}`);
      assert.equal(body.error?.code, 'TRELLIS_INVALID_CONFIG');
      const problem = body.error?.problems.find((p) => p.path === `spec.environmentVariables.${name}`);
      assert.match(
        problem?.message ?? '',
        /^would change how the proxy process runs: /,
        JSON.stringify(body),
      );
    }
    const q = new URLSearchParams({ namespace: 'shop', labels: 'app=web' });
    const served = (await (await fetch(`${url}/v1/proxy-config?${q.toString()}`)).json()) as {
      environmentVariables: Record<string, string>;
    };
    assert.deepEqual(served.environmentVariables, { A: 'root' });
    // An allowed one is still accepted.
    const ok = await fetch(`${url}/v1/config`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(pc({ A: 'root', ISTIO_META_DNS_CAPTURE: 'true' })),
    });
    assert.equal(ok.status, 200, await ok.text());
  } finally {
    await cp.stop();
  }
});
