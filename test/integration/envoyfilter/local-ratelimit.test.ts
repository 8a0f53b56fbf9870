/**
 * Issue 15, item 2 end to end: the local rate limit EnvoyFilter from the issue, applied
 * unchanged (HTTP_ROUTE MERGE of typed_per_filter_config, SIDECAR_INBOUND) beside the patch
 * Istio users add with it (HTTP_FILTER INSERT_BEFORE the router: Envoy's local_ratelimit filter
 * only runs where it is in the connection manager's chain), limits the workload's inbound
 * traffic on the Trellis proxy: the bucket's 1000 requests pass, the next gets 429, and a fill
 * interval later traffic passes again. A patch the proxy cannot honour is NACKed with its path,
 * shown by `trellis proxy-status`, while the proxy keeps serving what it had.
 *
 *   client (this test) --> server proxy inbound (bound on PORT) --> backend app (127.0.0.1:APP)
 *
 * The server proxy runs on a FakeClock, so the bucket refills only when the test says.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { seededRandom } from '../../../src/core/random.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import { TrellisProxy } from '../../../src/proxy/proxy.js';
import { request, startBackend, type Backend } from '../../../src/proxy/testing/harness.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { runTrellis } from '../helpers/process.js';

const NS = 'sm-verify';
const HOST = `sm-verify-page.${NS}.svc.cluster.local`;

/** The issue's EnvoyFilter, byte for byte. */
const ISSUE_FILTER = `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: { name: locallimit-sm-verify-page, namespace: sm-verify }
spec:
  workloadSelector: { labels: { app: sm-verify-page, branch: master } }
  configPatches:
  - applyTo: HTTP_ROUTE
    match: { context: SIDECAR_INBOUND, routeConfiguration: { vhost: { route: {} } } }
    patch:
      operation: MERGE
      value:
        typed_per_filter_config:
          envoy.filters.http.local_ratelimit:
            '@type': type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
            stat_prefix: inbound
            token_bucket: { max_tokens: 1000, tokens_per_fill: 1000, fill_interval: 1s }
            filter_enabled: { runtime_key: local_rate_limit_enabled, default_value: { numerator: 100, denominator: HUNDRED } }
            filter_enforced: { runtime_key: local_rate_limit_enforced, default_value: { numerator: 100, denominator: HUNDRED } }
`;

/** Istio's documented companion: the filter itself, before the router, configured per route. */
const FILTER_IN_CHAIN = `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: { name: locallimit-filter, namespace: sm-verify }
spec:
  workloadSelector: { labels: { app: sm-verify-page } }
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener:
        filterChain:
          filter:
            name: envoy.filters.network.http_connection_manager
            subFilter: { name: envoy.filters.http.router }
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config:
          '@type': type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          stat_prefix: http_local_rate_limiter
`;

let mesh: TestMesh;
let app: Backend;
let proxy: TrellisProxy;
let port: number;
const clock = new FakeClock(1_000_000);

const get = (path = '/') => request(port, { host: `${HOST}:${port}`, path });

/** Sends `n` requests, `concurrency` at a time; returns the status codes in order sent. */
async function burst(n: number, concurrency = 25): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i += concurrency) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(concurrency, n - i) }, () => get('/page').then((r) => r.status)),
    );
    out.push(...batch);
  }
  return out;
}

async function configDump(): Promise<string> {
  return await (await fetch(`http://127.0.0.1:${proxy.adminPort}/config_dump`)).text();
}

before(async () => {
  app = await startBackend('page');
  mesh = await startMesh({ debounceMs: 10 });
  proxy = new TrellisProxy({
    xds: `127.0.0.1:${mesh.xdsPort}`,
    bootstrap: {
      nodeId: `sidecar~127.0.0.1~sm-verify-page-1.${NS}~${NS}.svc.cluster.local`,
      cluster: `sm-verify-page.${NS}`,
      mode: 'sidecar',
      namespace: NS,
      workloadName: 'sm-verify-page-1',
      labels: { app: 'sm-verify-page', branch: 'master' },
      instanceIps: ['127.0.0.1'],
      locality: '',
    },
    version: 'e2e',
    bindAddress: '127.0.0.1',
    adminAddress: '127.0.0.1',
    adminPort: 0,
    outboundPort: 0,
    inboundPort: 0,
    bindListeners: [],
    clock,
    random: seededRandom(5),
    logger: silentLogger,
    accessLogStdout: { write: () => true },
    xdsBackoff: { baseMs: 20, maxMs: 200 },
  });
  await proxy.start();
  port = proxy.listeners.ports.inbound;
  mesh.apply(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: sm-verify-page, namespace: ${NS} }
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: ${port}, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1, labels: { app: sm-verify-page, branch: master } }]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: sm-verify-page, namespace: ${NS} }
spec:
  workloadSelector: { labels: { app: sm-verify-page } }
  ingress:
  - port: { number: ${port}, name: http, protocol: HTTP }
    defaultEndpoint: 127.0.0.1:${app.port}
`);
  await eventually(async () => (await get()).status === 200, 'inbound traffic through the proxy');
});

after(async () => {
  const stopping = proxy.stop(0);
  // Drain timers run on the proxy's clock.
  for (let i = 0; i < 50; i++) {
    clock.advance(1000);
    await new Promise((r) => setImmediate(r));
  }
  await stopping;
  await mesh.stop();
  await app.close();
});

test("the issue's EnvoyFilter, with the filter in the chain, limits inbound traffic: 1000 pass, then 429 until the bucket refills", async () => {
  mesh.apply(ISSUE_FILTER);
  mesh.apply(FILTER_IN_CHAIN);
  await eventually(async () => {
    const dump = await configDump();
    return dump.includes('http_local_rate_limiter') && dump.includes('local_rate_limit_enforced');
  }, 'the patched inbound listener is served');
  clock.advance(1000); // a fresh bucket, whatever the earlier requests took
  const statuses = await burst(1000);
  assert.deepEqual(
    statuses.filter((s) => s !== 200),
    [],
    'the bucket holds 1000',
  );
  const limited = await get('/page');
  assert.equal(limited.status, 429);
  // One bucket for the workload's inbound route: another path, Host, method or header case
  // does not get around it.
  const bypasses = [
    request(port, { host: `${HOST}:${port}`, path: '/other?x=1' }),
    request(port, { host: 'anything.example', path: '/page' }),
    request(port, { host: `${HOST.toUpperCase()}:${port}`, path: '//page/../page' }),
    request(port, { host: `${HOST}:${port}`, path: '/page', method: 'POST', body: 'x' }),
    request(port, { host: `${HOST}:${port}`, path: '/page', headers: { 'x-envoy-ratelimited': 'false' } }),
  ];
  assert.deepEqual(
    (await Promise.all(bypasses)).map((r) => r.status),
    [429, 429, 429, 429, 429],
  );
  clock.advance(1000);
  assert.equal((await get('/page')).status, 200, 'a fill interval later the bucket has tokens again');
  // Removing the filters removes the limit.
  mesh.remove('EnvoyFilter', 'locallimit-sm-verify-page', NS);
  mesh.remove('EnvoyFilter', 'locallimit-filter', NS);
  await eventually(async () => !(await configDump()).includes('http_local_rate_limiter'), 'filters removed');
  assert.deepEqual(
    (await burst(1100)).filter((s) => s !== 200),
    [],
  );
});

test('a patch the Trellis proxy cannot honour is NACKed with its path, shown by proxy-status, and serving goes on', async () => {
  mesh.apply(`apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: { name: lua, namespace: sm-verify }
spec:
  workloadSelector: { labels: { app: sm-verify-page } }
  configPatches:
  - applyTo: HTTP_FILTER
    match: { context: SIDECAR_INBOUND, listener: { filterChain: { filter: { name: envoy.filters.network.http_connection_manager, subFilter: { name: envoy.filters.http.router } } } } }
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.lua
        typed_config:
          '@type': type.googleapis.com/xds.type.v3.TypedStruct
          type_url: type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua
          value: { inline_code: "function envoy_on_request(h) end" }
`);
  let out = '';
  await eventually(async () => {
    const r = await runTrellis(['proxy-status', 'sm-verify-page-1', '--control-plane', mesh.httpUrl]);
    out = r.stdout + r.stderr;
    return /NACK/.test(out);
  }, 'the proxy NACKs the listener');
  assert.match(out, /LDS/);
  assert.match(out, /envoy\.filters\.http\.lua/);
  assert.match(out, /http_filters\[\d+\]/);
  assert.match(out, /is not supported/);
  // The listener it had keeps serving.
  assert.equal((await get('/page')).status, 200);
  mesh.remove('EnvoyFilter', 'lua', NS);
  await eventually(async () => {
    const r = await runTrellis(['proxy-status', 'sm-verify-page-1', '--control-plane', mesh.httpUrl]);
    return !/NACK/.test(r.stdout);
  }, 'the proxy ACKs again once the filter is gone');
});
