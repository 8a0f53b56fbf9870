import { test, type TestContext } from 'node:test';
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
const RLS = 'outbound|8081||127.0.0.1';

interface Descriptor {
  entries: { key: string; value: string }[];
}

/** A rate limit service answering OK, or never within the proxy's timeout when `slowMs` is set. */
async function rateLimitServer(t: TestContext, opts: { slowMs?: number; port?: number } = {}) {
  const seen: Descriptor[][] = [];
  const server = new grpc.Server();
  const timers = new Set<NodeJS.Timeout>();
  server.addService(rateLimitService(), {
    ShouldRateLimit: (
      call: grpc.ServerUnaryCall<{ descriptors: Descriptor[] }, object>,
      cb: grpc.sendUnaryData<object>,
    ) => {
      seen.push(call.request.descriptors);
      const answer = () => cb(null, { overall_code: 'OK' });
      if (opts.slowMs === undefined) return answer();
      const timer = setTimeout(() => {
        timers.delete(timer);
        answer();
      }, opts.slowMs);
      timers.add(timer);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${opts.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  const stop = () => {
    for (const timer of timers) clearTimeout(timer);
    server.forceShutdown();
  };
  t.after(stop);
  return { port, seen, stop };
}

async function proxyWithRateLimit(
  t: TestContext,
  rlsPort: number,
  filter: { timeoutMs?: number; failureModeDeny?: boolean },
  actions: object[],
) {
  const backend = await startBackend('svc');
  const mesh = await startMesh(
    {
      CDS: [edsCluster(C), edsCluster(RLS, h2Options())],
      EDS: [endpoints(C, [{ port: backend.port }]), endpoints(RLS, [{ port: rlsPort }])],
      LDS: [
        httpListener(9080, '9080', {
          httpFilters: [
            {
              name: 'envoy.filters.http.ratelimit',
              typed_config: packAny(TYPE.rateLimit, {
                domain: 'trellis',
                timeout: { nanos: (filter.timeoutMs ?? 500) * 1_000_000 },
                failure_mode_deny: filter.failureModeDeny ?? false,
                rate_limit_service: {
                  grpc_service: { envoy_grpc: { cluster_name: RLS } },
                  transport_api_version: 'V3',
                },
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
            [{ match: { prefix: '/' }, route: { cluster: C, rate_limits: [{ actions }] } }],
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
  return mesh;
}

test('source_cluster, destination_cluster and remote_address reach the rate limit service', async (t) => {
  const rls = await rateLimitServer(t);
  const mesh = await proxyWithRateLimit(t, rls.port, {}, [
    { source_cluster: {} },
    { destination_cluster: {} },
    { remote_address: {} },
  ]);
  assert.equal((await request(mesh.port, { host: 'svc:9080' })).status, 200);
  assert.deepEqual(rls.seen, [
    [
      {
        entries: [
          { key: 'source_cluster', value: 'productpage.default' },
          { key: 'destination_cluster', value: C },
          { key: 'remote_address', value: '127.0.0.1' },
        ],
      },
    ],
  ]);
});

test('a service slower than the timeout: fail open, or 500 with RLSE under failure_mode_deny', async (t) => {
  const slow = await rateLimitServer(t, { slowMs: 5000 });
  const open = await proxyWithRateLimit(t, slow.port, { timeoutMs: 50 }, [
    { generic_key: { descriptor_value: 'a' } },
  ]);
  assert.equal((await request(open.port, { host: 'svc:9080' })).status, 200);
  assert.equal(slow.seen.length, 1, 'the service was asked');

  const deny = await proxyWithRateLimit(t, slow.port, { timeoutMs: 50, failureModeDeny: true }, [
    { generic_key: { descriptor_value: 'a' } },
  ]);
  const res = await request(deny.port, { host: 'svc:9080' });
  assert.equal(res.status, 500);
  assert.match(deny.proxy.stats.prometheus(), /response_code="500",response_flags="RLSE"/);
});
