/**
 * A RateLimit applied to a running control plane: the rate limit service's config is served at
 * GET /v1/ratelimit/config (what `trellis ratelimit --control-plane URL` loads), and the
 * serving workload's proxy is pushed the ratelimit filter and the service's cluster.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TYPE, unpackAny, type AnyMessage } from '../../src/protocol/protos.js';
import { connectEnvoyLike, type EnvoyLikeClient } from './helpers/envoy-like-client.js';
import { eventually } from '../../src/core/testing/eventually.js';
import { startMesh, type TestMesh } from './helpers/mesh.js';

let mesh: TestMesh;
let client: EnvoyLikeClient | undefined;

before(async () => {
  mesh = await startMesh({ debounceMs: 10 });
  mesh.apply(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: page, namespace: shop }
spec:
  hosts: [page.shop.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 80, name: http, protocol: HTTP }]
  endpoints: [{ address: 10.2.0.5, labels: { app: page } }]
`);
});

after(async () => {
  client?.close();
  await mesh.stop();
});

const RATE_LIMIT = `apiVersion: trellis.io/v1alpha1
kind: RateLimit
metadata: { name: page-show, namespace: shop }
spec:
  hosts: [page]
  mode: global
  limits:
  - name: show
    match: { path: { exact: /Page.Show } }
    quota: { requests: 800, per: second }
`;

interface ServedConfig {
  revision: number;
  domains: { domain: string; descriptors: unknown[] }[];
}

async function served(): Promise<ServedConfig> {
  const res = await fetch(`${mesh.httpUrl}/v1/ratelimit/config`);
  assert.equal(res.status, 200);
  return (await res.json()) as ServedConfig;
}

test('GET /v1/ratelimit/config serves the compiled domain config with the config revision', async () => {
  const empty = await served();
  assert.deepEqual(empty.domains, [{ domain: 'trellis', descriptors: [] }]);

  mesh.apply(RATE_LIMIT);
  const body = await served();
  assert.equal(body.revision, mesh.store.revision);
  assert.ok(body.revision > empty.revision);
  assert.deepEqual(body.domains, [
    {
      domain: 'trellis',
      descriptors: [
        {
          key: 'generic_key',
          value: 'shop.page-show.show',
          descriptors: [
            {
              key: 'header_match',
              value: 'matched',
              rate_limit: { unit: 'second', requests_per_unit: 800, algorithm: 'token_bucket' },
            },
          ],
        },
      ],
    },
  ]);
});

test('the serving workload is pushed the ratelimit filter and the rate limit service cluster', async () => {
  const proxy = connectEnvoyLike(mesh.xdsPort, {
    id: 'sidecar~10.2.0.5~page-1.shop~shop.svc.cluster.local',
    metadata: { NAMESPACE: 'shop', LABELS: { app: 'page' } },
  });
  client = proxy;
  const filters = await eventually(() => {
    const l = proxy.resources.get(TYPE.listener)?.get('inbound|80||') as
      { filter_chains: { filters: { typed_config: AnyMessage }[] }[] } | undefined;
    if (l === undefined) return false;
    const hcm = unpackAny<{ http_filters: { name: string }[] }>(l.filter_chains[0]!.filters[0]!.typed_config);
    const names = hcm.http_filters.map((f) => f.name);
    return names.includes('envoy.filters.http.ratelimit') ? names : false;
  }, 'inbound listener with the ratelimit filter');
  assert.deepEqual(filters.slice(-2), ['envoy.filters.http.ratelimit', 'envoy.filters.http.router']);
  await eventually(
    () => proxy.resources.get(TYPE.cluster)?.has('outbound|8081||127.0.0.1') === true,
    'rate limit service cluster',
  );

  mesh.remove('RateLimit', 'page-show', 'shop');
  assert.deepEqual((await served()).domains, [{ domain: 'trellis', descriptors: [] }]);
  await eventually(
    () => proxy.resources.get(TYPE.cluster)?.has('outbound|8081||127.0.0.1') === false,
    'cluster removed with the last global limit',
  );
});
