import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TYPE, packAny } from '../../protocol/protos.js';
import { FakeAds } from '../testing/fake-ads.js';
import { request, startBackend, startMesh } from '../testing/harness.js';
import { edsCluster, endpoints, httpListener, routeConfig, virtualHost } from '../testing/resources.js';

const C = 'outbound|9080||svc.default.svc.cluster.local';
const FAULT = 'envoy.filters.http.fault';
const RL = 'envoy.filters.http.local_ratelimit';
const CORS = 'envoy.filters.http.cors';

test('fault abort and delay, local rate limit and CORS, configured per route', async (t) => {
  const backend = await startBackend('svc');
  const mesh = await startMesh(
    {
      CDS: [edsCluster(C)],
      EDS: [endpoints(C, [{ port: backend.port }])],
      LDS: [
        httpListener(9080, '9080', {
          httpFilters: [
            { name: CORS, typed_config: packAny(TYPE.cors, {}) },
            { name: FAULT, typed_config: packAny(TYPE.fault, {}) },
            {
              name: RL,
              typed_config: packAny(TYPE.localRateLimit, { stat_prefix: 'http_local_rate_limiter' }),
            },
          ],
        }),
      ],
      RDS: [
        routeConfig('9080', [
          virtualHost(
            'svc',
            ['svc:9080'],
            [
              {
                match: { prefix: '/abort' },
                route: { cluster: C },
                typed_per_filter_config: {
                  [FAULT]: packAny(TYPE.fault, {
                    abort: { http_status: 503, percentage: { numerator: 100 } },
                  }),
                },
              },
              {
                match: { prefix: '/delay' },
                route: { cluster: C },
                typed_per_filter_config: {
                  [FAULT]: packAny(TYPE.fault, {
                    delay: { fixed_delay: { nanos: 50_000_000 }, percentage: { numerator: 100 } },
                  }),
                },
              },
              {
                match: { prefix: '/slow-abort' },
                route: { cluster: C },
                typed_per_filter_config: {
                  [FAULT]: packAny(TYPE.fault, {
                    delay: { fixed_delay: { nanos: 10_000_000 }, percentage: { numerator: 100 } },
                    abort: { http_status: 502, percentage: { numerator: 100 } },
                  }),
                },
              },
              {
                match: { prefix: '/limited' },
                route: { cluster: C },
                typed_per_filter_config: {
                  [RL]: packAny(TYPE.localRateLimit, {
                    stat_prefix: 'rl',
                    token_bucket: {
                      max_tokens: 2,
                      tokens_per_fill: { value: 2 },
                      fill_interval: { seconds: 60 },
                    },
                    filter_enabled: { default_value: { numerator: 100 } },
                    filter_enforced: { default_value: { numerator: 100 } },
                  }),
                },
              },
              {
                match: { prefix: '/' },
                route: { cluster: C },
                typed_per_filter_config: {
                  [CORS]: packAny(TYPE.corsPolicy, {
                    allow_origin_string_match: [{ exact: 'https://app.example.com' }],
                    allow_methods: 'GET,POST',
                  }),
                },
              },
            ],
          ),
        ]),
      ],
    },
    {},
    FakeAds,
  );
  t.after(async () => {
    await mesh.close();
    await backend.close();
  });
  const { port, proxy } = mesh;

  const aborted = await request(port, { host: 'svc:9080', path: '/abort' });
  assert.equal(aborted.status, 503);
  assert.equal(aborted.body, 'fault filter abort\n');
  assert.equal(backend.hits, 0);

  const delayed = await request(port, { host: 'svc:9080', path: '/delay' });
  assert.equal(delayed.status, 200);
  const slowAbort = await request(port, { host: 'svc:9080', path: '/slow-abort' });
  assert.equal(slowAbort.status, 502);

  const limited = [];
  for (let i = 0; i < 3; i++)
    limited.push((await request(port, { host: 'svc:9080', path: '/limited' })).status);
  assert.deepEqual(limited, [200, 200, 429]);

  const preflight = await request(port, {
    host: 'svc:9080',
    method: 'OPTIONS',
    headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
  });
  assert.equal(preflight.status, 200);
  assert.equal(preflight.headers['access-control-allow-origin'], 'https://app.example.com');
  assert.equal(preflight.headers['access-control-allow-methods'], 'GET,POST');
  const actual = await request(port, { host: 'svc:9080', headers: { origin: 'https://app.example.com' } });
  assert.equal(actual.headers['access-control-allow-origin'], 'https://app.example.com');
  const other = await request(port, { host: 'svc:9080', headers: { origin: 'https://evil.example.com' } });
  assert.equal(other.headers['access-control-allow-origin'], undefined);

  const stats = proxy.stats.prometheus();
  assert.match(stats, /response_code="503",response_flags="FI"/);
  // Delays are flagged DI (Envoy's DelayInjected), before FI when the delayed request is aborted.
  assert.match(stats, /istio_requests_total\{[^}]*response_code="200",response_flags="DI"[^}]*\} 1/);
  assert.match(stats, /istio_requests_total\{[^}]*response_code="502",response_flags="DI,FI"[^}]*\} 1/);
  assert.doesNotMatch(stats, /response_code="429",response_flags="[^"]*DI/);
  assert.match(stats, /response_code="429",response_flags="RL"/);
});

test('a push that leaves a local rate limit unchanged keeps its bucket; a changed limit gets a new one', async (t) => {
  const backend = await startBackend('svc');
  const limitedRoutes = (maxTokens: number) => [
    routeConfig('9080', [
      virtualHost(
        'svc',
        ['svc:9080'],
        [
          {
            name: 'limited',
            match: { prefix: '/' },
            route: { cluster: C },
            typed_per_filter_config: {
              [RL]: packAny(TYPE.localRateLimit, {
                stat_prefix: 'rl',
                token_bucket: {
                  max_tokens: maxTokens,
                  tokens_per_fill: { value: maxTokens },
                  fill_interval: { seconds: 3600 },
                },
                filter_enabled: { default_value: { numerator: 100 } },
                filter_enforced: { default_value: { numerator: 100 } },
              }),
            },
          },
        ],
      ),
    ]),
  ];
  const listener = httpListener(9080, '9080', {
    httpFilters: [{ name: RL, typed_config: packAny(TYPE.localRateLimit, { stat_prefix: 'rl' }) }],
  });
  const mesh = await startMesh(
    {
      CDS: [edsCluster(C)],
      EDS: [endpoints(C, [{ port: backend.port }])],
      LDS: [listener],
      RDS: limitedRoutes(2),
    },
    {},
    FakeAds,
  );
  t.after(async () => {
    await mesh.close();
    await backend.close();
  });
  const statuses = async (n: number) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push((await request(mesh.port, { host: 'svc:9080' })).status);
    return out;
  };
  assert.deepEqual(await statuses(3), [200, 200, 429]);
  // The same resources again (a push for something else re-sends them): still limited.
  mesh.ads.set('LDS', [listener]);
  mesh.ads.set('RDS', limitedRoutes(2));
  await mesh.ads.waitForAck('RDS');
  assert.deepEqual(await statuses(1), [429]);
  // A different limit is a different bucket.
  mesh.ads.set('RDS', limitedRoutes(3));
  await mesh.ads.waitForAck('RDS');
  assert.deepEqual(await statuses(4), [200, 200, 200, 429]);
});
