import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateResource } from '../api/validate.js';
import { MemoryConfigStore } from '../config/memory-store.js';
import { ControlPlane } from './control-plane.js';

const telemetry = (name: string, expression: string) => ({
  apiVersion: 'telemetry.istio.io/v1',
  kind: 'Telemetry',
  metadata: { name, namespace: 'shop' },
  spec: { accessLogging: [{ providers: [{ name: 'envoy' }], filter: { expression } }] },
});

test('POST /v1/config refuses a Telemetry whose access-log filter uses a comprehension (400 with the path); a plain filter is applied', async () => {
  const cp = new ControlPlane({
    config: new MemoryConfigStore((r) => validateResource(r)),
    debounce: { quietMs: 1, maxMs: 10 },
  });
  const bound = await cp.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${bound.http.port}`;
  const post = (body: unknown) =>
    fetch(`${url}/v1/config`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  try {
    const refused = await post(telemetry('costly', '[1, 2].all(a, [1, 2].all(b, true))'));
    const body = (await refused.json()) as {
      error?: { code: string; problems: { path: string; message: string }[] };
    };
    assert.equal(refused.status, 400, JSON.stringify(body));
    assert.equal(body.error?.code, 'TRELLIS_INVALID_CONFIG');
    const problem = body.error?.problems.find((p) => p.path === 'spec.accessLogging[0].filter.expression');
    assert.match(problem?.message ?? JSON.stringify(body), /the comprehension all\(\) is not allowed/);
    const none = await fetch(`${url}/v1/config/telemetry/shop/costly`);
    assert.equal(none.status, 404, 'nothing of a refused request is applied');

    const ok = await post(telemetry('errors', 'response.code >= 500'));
    assert.equal(ok.status, 200, await ok.text());
    // The same route finds an applied one, so the 404 above is not a wrong route.
    assert.equal((await fetch(`${url}/v1/config/telemetry/shop/errors`)).status, 200);
  } finally {
    await cp.stop();
  }
});
