import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { rateLimitService } from '../../protocol/grpc-services.js';
import { TYPE, packAny } from '../../protocol/protos.js';
import { FakeAds } from '../testing/fake-ads.js';
import { request, startBackend, startMesh } from '../testing/harness.js';
import {
  edsCluster,
  endpoints,
  h2Options,
  httpListener,
  routeConfig,
  virtualHost,
} from '../testing/resources.js';

const C = 'outbound|9080||svc.default.svc.cluster.local';
const RLS = 'outbound|8081||ratelimit.trellis-system.svc.cluster.local';

interface Descriptor {
  entries: { key: string; value: string }[];
}

async function fakeRateLimitService(allow: number) {
  const seen: Descriptor[][] = [];
  const server = new grpc.Server();
  server.addService(rateLimitService(), {
    ShouldRateLimit: (
      call: grpc.ServerUnaryCall<{ domain: string; descriptors: Descriptor[] }, object>,
      cb: grpc.sendUnaryData<object>,
    ) => {
      seen.push(call.request.descriptors);
      const over = seen.length > allow;
      cb(null, {
        overall_code: over ? 'OVER_LIMIT' : 'OK',
        statuses: [
          {
            code: over ? 'OVER_LIMIT' : 'OK',
            current_limit: { requests_per_unit: allow, unit: 'MINUTE' },
            limit_remaining: Math.max(0, allow - seen.length),
          },
        ],
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return { port, seen, server };
}

function mesh(backendPort: number, rlsPort: number) {
  return startMesh(
    {
      CDS: [edsCluster(C), edsCluster(RLS, h2Options())],
      EDS: [endpoints(C, [{ port: backendPort }]), endpoints(RLS, [{ port: rlsPort }])],
      LDS: [
        httpListener(9080, '9080', {
          httpFilters: [
            {
              name: 'envoy.filters.http.ratelimit',
              typed_config: packAny(TYPE.rateLimit, {
                domain: 'trellis',
                timeout: { nanos: 500_000_000 },
                failure_mode_deny: false,
                rate_limit_service: {
                  grpc_service: { envoy_grpc: { cluster_name: RLS } },
                  transport_api_version: 'V3',
                },
                enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
              }),
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
                match: { prefix: '/' },
                route: {
                  cluster: C,
                  rate_limits: [
                    {
                      actions: [
                        { generic_key: { descriptor_value: 'svc-limit' } },
                        {
                          header_value_match: {
                            descriptor_value: 'matched',
                            expect_match: { value: true },
                            headers: [{ name: ':path', string_match: { prefix: '/api' } }],
                          },
                        },
                        { request_headers: { header_name: 'x-user', descriptor_key: 'user' } },
                      ],
                    },
                  ],
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
}

test('global rate limit asks the rate limit service with the route descriptors', async (t) => {
  const backend = await startBackend('svc');
  const rls = await fakeRateLimitService(2);
  const m = await mesh(backend.port, rls.port);
  t.after(async () => {
    await m.close();
    await backend.close();
    rls.server.forceShutdown();
  });
  const statuses = [];
  for (let i = 0; i < 3; i++)
    statuses.push(
      (await request(m.port, { host: 'svc:9080', path: '/api/x', headers: { 'x-user': 'ann' } })).status,
    );
  assert.deepEqual(statuses, [200, 200, 429]);
  assert.deepEqual(rls.seen[0], [
    {
      entries: [
        { key: 'generic_key', value: 'svc-limit' },
        { key: 'header_match', value: 'matched' },
        { key: 'user', value: 'ann' },
      ],
    },
  ]);
  const limited = await request(m.port, { host: 'svc:9080', path: '/api/x', headers: { 'x-user': 'ann' } });
  assert.equal(limited.headers['x-envoy-ratelimited'], 'true');
  assert.equal(limited.headers['x-ratelimit-limit'], '2, 2;w=60');
  // Without the x-user header the descriptor does not apply, so the service is not asked.
  const before = rls.seen.length;
  assert.equal((await request(m.port, { host: 'svc:9080', path: '/api/x' })).status, 200);
  assert.equal(rls.seen.length, before);
  assert.match(m.proxy.stats.prometheus(), /response_code="429",response_flags="RL"/);
});

test('an unreachable rate limit service fails open by default', async (t) => {
  const backend = await startBackend('svc');
  const m = await mesh(backend.port, 1);
  t.after(async () => {
    await m.close();
    await backend.close();
  });
  assert.equal(
    (await request(m.port, { host: 'svc:9080', path: '/api/x', headers: { 'x-user': 'ann' } })).status,
    200,
  );
});
