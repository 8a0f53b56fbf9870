import { test } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { FakeClock } from '../core/clock.js';
import { parseConfigYaml } from './config.js';
import { GRPC_IMPLS, RateLimitServer, type GrpcImpl } from './server.js';
import { RateLimitService } from './service.js';
import { rateLimitClient } from './testdata/grpc-client.js';
import { README_EXAMPLES } from './testdata/readme-examples.js';
import { rawGet, rawRequest } from '../core/testing/raw-http.js';

async function started(grpcImpl: GrpcImpl) {
  // A clock that stands still: a slow machine must not refill the 10/s bucket mid-test.
  const service = new RateLimitService({ responseHeaders: true, clock: new FakeClock(1_000_000) });
  const server = new RateLimitServer({
    service,
    grpcImpl,
    grpcAddress: { host: '127.0.0.1', port: 0 },
    httpAddress: { host: '127.0.0.1', port: 0 },
  });
  const addresses = await server.start();
  const client = rateLimitClient(`127.0.0.1:${addresses.grpc.port}`);
  const httpBase = `http://127.0.0.1:${addresses.http!.port}`;
  return {
    service,
    client,
    httpBase,
    async close() {
      client.close();
      await server.stop();
      await service.close();
    },
  };
}

for (const impl of GRPC_IMPLS) {
  test(`server (${impl}): ShouldRateLimit over gRPC answers like envoyproxy/ratelimit`, async () => {
    const s = await started(impl);
    try {
      s.service.setConfig(parseConfigYaml(README_EXAMPLES.example3!, 'example3.yaml'));
      const request = {
        domain: 'edge_proxy_per_ip',
        descriptors: [{ entries: [{ key: 'remote_address', value: '10.1.1.1' }] }],
      };
      const codes: string[] = [];
      for (let i = 0; i < 11; i++) codes.push((await s.client.shouldRateLimit(request)).overall_code);
      assert.deepEqual(codes, [...Array<string>(10).fill('OK'), 'OVER_LIMIT']);
      const over = await s.client.shouldRateLimit(request);
      assert.equal(over.statuses[0]!.code, 'OVER_LIMIT');
      assert.deepEqual(over.statuses[0]!.current_limit, { requests_per_unit: 10, unit: 'SECOND' });
      assert.ok(over.statuses[0]!.duration_until_reset, 'tells Envoy when to retry');
      assert.deepEqual(
        over.response_headers_to_add?.map((h) => h.key),
        ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'],
      );
      await assert.rejects(
        s.client.shouldRateLimit({ domain: '', descriptors: [] }),
        (e: { code: status }) => e.code === status.INVALID_ARGUMENT,
      );
    } finally {
      await s.close();
    }
  });

  test(`server (${impl}): /ready waits for a config; /config and /metrics show what is loaded and counted`, async () => {
    const s = await started(impl);
    try {
      assert.equal((await fetch(`${s.httpBase}/ready`)).status, 503);
      s.service.setConfig(parseConfigYaml(README_EXAMPLES.example1!, 'example1.yaml'));
      assert.equal((await fetch(`${s.httpBase}/ready`)).status, 200);
      const config = (await (await fetch(`${s.httpBase}/config`)).json()) as {
        domains: { domain: string }[];
      };
      assert.deepEqual(
        config.domains.map((d) => d.domain),
        ['mongo_cps'],
      );
      await s.client.shouldRateLimit({
        domain: 'mongo_cps',
        descriptors: [{ entries: [{ key: 'database', value: 'users' }] }],
      });
      const metrics = await (await fetch(`${s.httpBase}/metrics`)).text();
      assert.match(
        metrics,
        /trellis_ratelimit_total_hits\{domain="mongo_cps",descriptor="database_users"\} 1/,
      );
      assert.match(metrics, /trellis_ratelimit_decision_duration_milliseconds_count\{domain="mongo_cps"\} 1/);
      assert.match(metrics, /trellis_ratelimit_redis_up\{backend="memory"\} 1/);
      assert.equal((await fetch(`${s.httpBase}/nope`)).status, 404);
    } finally {
      await s.close();
    }
  });
}

test('server: the HTTP port answers malformed requests with a coded 4xx, a failing handler with 500, and carries on', async () => {
  const s = await started('fast');
  try {
    const port = Number(new URL(s.httpBase).port);
    s.service.config = () => {
      throw new TypeError('config exploded');
    };
    const cases: [string, string, number, RegExp][] = [
      ['invalid request line', 'GARBAGE\r\n\r\n', 400, /^TRELLIS_BAD_REQUEST: /],
      ['unknown method', 'BREW /ready HTTP/1.1\r\nhost: x\r\n\r\n', 400, /^TRELLIS_BAD_REQUEST: /],
      [
        'header block too large',
        `GET /ready HTTP/1.1\r\nx: ${'a'.repeat(20_000)}\r\n\r\n`,
        431,
        /^TRELLIS_TOO_LARGE: /,
      ],
      [
        'wrong method',
        'POST /ready HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 0\r\n\r\n',
        405,
        /^TRELLIS_METHOD_NOT_ALLOWED: /,
      ],
      ['throwing handler', rawGet('/config'), 500, /^TRELLIS_INTERNAL: config exploded/],
    ];
    for (const [name, bytes, status, body] of cases) {
      const res = await rawRequest(port, bytes);
      assert.equal(res.status, status, `${name}: ${res.body}`);
      assert.match(res.body, body, name);
      assert.equal((await rawRequest(port, rawGet('/metrics'))).status, 200, `still serving after ${name}`);
    }
  } finally {
    await s.close();
  }
});
