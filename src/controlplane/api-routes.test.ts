/**
 * The HTTP routes over small fakes of the views they are given (api-views.ts): no control plane,
 * no xDS server, no store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import { silentLogger } from '../core/logger.js';
import { listenOn } from '../core/net.js';
import type { Resource } from '../api/resource.js';
import { buildApi } from './api-routes.js';
import type { ApiViews, DebugView } from './api-views.js';

const reviews: Resource = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'reviews', namespace: 'default' },
  spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }] }] },
};

function fakes(ready: { value: boolean }): ApiViews {
  const debug: DebugView = {
    isReady: () => ready.value,
    renderMetrics: () => 'pilot_xds 1\n',
    proxyStatus: () => [],
    configDump: (id) => (id === 'sidecar-1' ? { node: { id } } : undefined),
    configProblems: () => [],
    registry: () => ({ version: 0, services: [], service: () => undefined, endpoints: () => [] }),
  };
  return {
    debug,
    registrations: {
      register: () => 'r-1',
      heartbeat: () => undefined,
      deregister: () => false,
      list: () => [],
    },
    config: {
      store: { revision: 7, get: () => reviews, list: () => [reviews] },
      writer: undefined,
    },
    rateLimits: { rateLimitConfig: () => ({ revision: 7, domains: [] }) },
  };
}

async function withApi(views: ApiViews, fn: (url: string) => Promise<void>): Promise<void> {
  const server: http.Server = buildApi(views, silentLogger).createServer();
  const port = await listenOn(server, '127.0.0.1', 0);
  try {
    await fn(`http://127.0.0.1:${port}`);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

test('routes answer from the views they are given', async () => {
  const ready = { value: false };
  await withApi(fakes(ready), async (url) => {
    assert.equal((await fetch(`${url}/ready`)).status, 503);
    ready.value = true;
    assert.equal(await (await fetch(`${url}/ready`)).text(), 'ready\n');
    assert.equal(await (await fetch(`${url}/metrics`)).text(), 'pilot_xds 1\n');
    assert.deepEqual(await (await fetch(`${url}/debug/config_dump?proxy=sidecar-1`)).json(), {
      node: { id: 'sidecar-1' },
    });
    const missing = await fetch(`${url}/debug/config_dump?proxy=nope`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'TRELLIS_NOT_FOUND');
    const deregister = await fetch(`${url}/v1/registrations/r-9`, { method: 'DELETE' });
    assert.equal(deregister.status, 404);
    const listed = (await (await fetch(`${url}/v1/config/vs`)).json()) as {
      revision: number;
      items: unknown[];
    };
    assert.equal(listed.revision, 7);
    assert.equal(listed.items.length, 1);
  });
});

test('a config API without a writer is read-only: writes answer 422 and say where to change config', async () => {
  await withApi(fakes({ value: true }), async (url) => {
    const res = await fetch(`${url}/v1/config`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(reviews),
    });
    assert.equal(res.status, 422);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'TRELLIS_UNSUPPORTED');
    assert.match(body.error.message, /read-only/);
  });
});

test('/v1/proxy-config: the namespace and labels go to the view; bad queries are 400s saying what to send', async () => {
  const asked: unknown[] = [];
  const views: ApiViews = {
    ...fakes({ value: true }),
    proxyConfigs: {
      resolve: (proxy) => {
        asked.push(proxy);
        return { concurrency: 2, environmentVariables: {}, sources: ['shop/pc'], fingerprint: 'abc' };
      },
    },
  };
  await withApi(views, async (url) => {
    const ok = await fetch(`${url}/v1/proxy-config?namespace=shop&labels=app%3Dcart,version%3Dv1`);
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), {
      concurrency: 2,
      environmentVariables: {},
      sources: ['shop/pc'],
      fingerprint: 'abc',
    });
    assert.deepEqual(await (await fetch(`${url}/v1/proxy-config?namespace=shop`)).json(), {
      concurrency: 2,
      environmentVariables: {},
      sources: ['shop/pc'],
      fingerprint: 'abc',
    });
    assert.deepEqual(asked, [
      { namespace: 'shop', labels: { app: 'cart', version: 'v1' } },
      { namespace: 'shop', labels: {} },
    ]);
    for (const [query, message] of [
      ['', /namespace=NS is required/],
      ['?namespace=', /namespace=NS is required/],
      ['?namespace=shop&labels=app', /labels="app": expected k=v,k=v \(bad entry "app"\)/],
      ['?namespace=shop&labels==x', /bad entry "=x"/],
    ] as const) {
      const r = await fetch(`${url}/v1/proxy-config${query}`);
      assert.equal(r.status, 400, query);
      assert.match(((await r.json()) as { error: { message: string } }).error.message, message);
    }
    assert.equal(asked.length, 2);
  });
  await withApi(fakes({ value: true }), async (url) => {
    assert.equal((await fetch(`${url}/v1/proxy-config?namespace=shop`)).status, 404);
  });
});
