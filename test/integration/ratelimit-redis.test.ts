/**
 * The rate limit service over a real redis-server: one quota shared by two replicas, Redis
 * killed and restarted under load (fail open vs fail closed, then recovery), Redis Cluster.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '../../src/core/testing/eventually.js';
import { RedisBackend } from '../../src/ratelimit/backend/redis.js';
import { RateLimitServer } from '../../src/ratelimit/server.js';
import { RateLimitService, type RateLimitResponse } from '../../src/ratelimit/service.js';
import { windowStart } from '../../src/ratelimit/algorithm/fixed-window.js';
import { rateLimitClient, type RateLimitClient } from '../../src/ratelimit/testdata/grpc-client.js';
import { RedisServer, redisServerAvailable } from '../../src/ratelimit/testdata/redis-server.js';
import type { DomainConfig } from '../../src/ratelimit/config.js';

const HAVE_REDIS = redisServerAvailable();
const skip = HAVE_REDIS ? false : 'redis-server is not installed (scripts/setup.sh installs it)';

const CONFIG: DomainConfig[] = [
  {
    domain: 'shop',
    descriptors: [
      { key: 'hourly', rate_limit: { unit: 'hour', requests_per_unit: 50 } },
      { key: 'window', rate_limit: { unit: 'hour', requests_per_unit: 50, algorithm: 'fixed_window' } },
      { key: 'per_second', rate_limit: { unit: 'second', requests_per_unit: 20 } },
      { key: 'load', rate_limit: { unit: 'hour', requests_per_unit: 1_000_000 } },
    ],
  },
];

interface Replica {
  service: RateLimitService;
  backend: RedisBackend;
  client: RateLimitClient;
  close(): Promise<void>;
}

async function replica(
  redis: RedisServer | { clusterNodes: string[] },
  failureModeDeny = false,
): Promise<Replica> {
  const backend = new RedisBackend(
    redis instanceof RedisServer
      ? { url: redis.url, commandTimeoutMs: 2000 }
      : { clusterNodes: redis.clusterNodes, commandTimeoutMs: 2000 },
  );
  assert.equal(await backend.waitUntilReady(10_000), true, 'redis answers');
  const service = new RateLimitService({ backend, failureModeDeny });
  service.setConfig(CONFIG);
  const server = new RateLimitServer({
    service,
    grpcAddress: { host: '127.0.0.1', port: 0 },
    httpAddress: null,
  });
  const { grpc } = await server.start();
  const client = rateLimitClient(`127.0.0.1:${grpc.port}`);
  return {
    service,
    backend,
    client,
    async close() {
      client.close();
      await server.stop();
      await service.close();
    },
  };
}

function ask(r: Replica, key: string, value = 'u1'): Promise<RateLimitResponse> {
  return r.client.shouldRateLimit({ domain: 'shop', descriptors: [{ entries: [{ key, value }] }] });
}

/** Sends `n` requests, alternating replicas, `concurrency` at a time; counts the OKs. */
async function allowedAcross(replicas: Replica[], key: string, n: number, concurrency = 8): Promise<number> {
  let next = 0;
  let ok = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        if ((await ask(replicas[i % replicas.length]!, key)).overall_code === 'OK') ok++;
      }
    }),
  );
  return ok;
}

test('redis: two replicas sharing one redis-server hold one quota together', { skip }, async () => {
  const redis = await RedisServer.start();
  const a = await replica(redis);
  const b = await replica(redis);
  try {
    assert.equal(await allowedAcross([a, b], 'hourly', 200), 50, 'token bucket: exactly 50 of 200');

    const before = windowStart(Date.now(), 3_600_000);
    const windowOk = await allowedAcross([a, b], 'window', 200);
    const crossed = windowStart(Date.now(), 3_600_000) !== before;
    if (crossed) assert.ok(windowOk >= 50 && windowOk <= 100, `an hour boundary passed: ${windowOk}`);
    else assert.equal(windowOk, 50, 'fixed window: exactly 50 of 200');

    // 20/s: the burst of 20 plus what refilled while the requests ran (elapsed measured, not asserted).
    const started = Date.now();
    const perSecondOk = await allowedAcross([a, b], 'per_second', 300);
    const elapsedS = (Date.now() - started) / 1000;
    assert.ok(perSecondOk >= 20, `at least the burst passes: ${perSecondOk}`);
    assert.ok(perSecondOk <= 20 + Math.ceil(20 * elapsedS) + 2, `${perSecondOk} allowed in ${elapsedS}s`);

    const over = await ask(b, 'hourly');
    assert.equal(over.overall_code, 'OVER_LIMIT');
    assert.deepEqual(over.statuses[0]!.current_limit, { requests_per_unit: 50, unit: 'HOUR' });
    assert.ok(a.backend.size() + b.backend.size() > 0, 'over-limit keys are cached locally');
  } finally {
    await a.close();
    await b.close();
    await redis.stop();
  }
});

test(
  'redis: killed and restarted under load, fail open vs fail closed, then recovery',
  { skip },
  async () => {
    const redis = await RedisServer.start();
    const open = await replica(redis, false);
    const closed = await replica(redis, true);
    let running = true;
    const errors: unknown[] = [];
    const load = (async () => {
      while (running) {
        try {
          await Promise.all([ask(open, 'load', `${Math.random()}`), ask(closed, 'load', `${Math.random()}`)]);
        } catch (err) {
          errors.push(err);
        }
      }
    })();
    try {
      assert.equal((await ask(open, 'load')).overall_code, 'OK');
      assert.equal((await ask(closed, 'load')).overall_code, 'OK');

      await redis.kill();
      await eventually(() => !open.backend.isUp() && !closed.backend.isUp(), {
        what: 'both replicas see redis down',
        timeoutMs: 15_000,
      });
      assert.equal((await ask(open, 'load')).overall_code, 'OK', 'fail open');
      assert.equal((await ask(closed, 'load')).overall_code, 'OVER_LIMIT', 'fail closed');
      assert.equal(closed.service.metrics.backendUp, 0);
      assert.ok(closed.service.metrics.backendErrors > 0);
      assert.match(closed.service.metrics.render(), /trellis_ratelimit_redis_up\{backend="redis"\} 0/);

      await redis.restart();
      await eventually(() => open.backend.isUp() && closed.backend.isUp(), {
        what: 'both replicas reconnect',
        timeoutMs: 15_000,
      });
      assert.equal((await ask(closed, 'load')).overall_code, 'OK', 'closed replica decides from redis again');
      assert.equal(closed.service.metrics.backendUp, 1);
      assert.equal(
        await allowedAcross([open, closed], 'hourly', 80),
        50,
        'the shared quota holds after recovery',
      );
    } finally {
      running = false;
      await load;
      await open.close();
      await closed.close();
      await redis.stop();
    }
    assert.deepEqual(errors, [], 'the service answered every call, redis or not');
  },
);

test('redis cluster: counters live in a Redis Cluster (one node owning every slot)', { skip }, async () => {
  const redis = await RedisServer.start({ cluster: true });
  redis.cli('cluster', 'addslotsrange', '0', '16383');
  await eventually(() => redis.cli('cluster', 'info').includes('cluster_state:ok'), {
    what: 'cluster state ok',
    timeoutMs: 15_000,
  });
  const nodes = { clusterNodes: [`127.0.0.1:${redis.port}`] };
  const a = await replica(nodes);
  const b = await replica(nodes);
  try {
    assert.equal(await allowedAcross([a, b], 'hourly', 120), 50);
    assert.equal(await allowedAcross([a, b], 'window', 120), 50);
  } finally {
    await a.close();
    await b.close();
    await redis.stop();
  }
});
