/**
 * The upstream path's edges, through a real proxy: what happens between attempts (back-off),
 * while the client is still uploading, when the retries breaker is full, and to cookies.
 * Each case follows Envoy's router filter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eventually } from '../../core/testing/eventually.js';
import { TYPE, packAny } from '../../protocol/protos.js';
import { FakeAds } from '../testing/fake-ads.js';
import { request, startBackend, startMesh, type Backend } from '../testing/harness.js';
import {
  edsCluster,
  endpoints,
  h2Options,
  httpListener,
  routeConfig,
  virtualHost,
} from '../testing/resources.js';

const C = 'outbound|9080||svc.default.svc.cluster.local';

async function mesh(
  t: import('node:test').TestContext,
  ports: number | number[],
  route: object,
  opts: { cluster?: object; random?: () => number; listener?: Parameters<typeof httpListener>[2] } = {},
) {
  const m = await startMesh(
    {
      CDS: [edsCluster(C, opts.cluster)],
      EDS: [
        endpoints(
          C,
          (Array.isArray(ports) ? ports : [ports]).map((port) => ({ port })),
        ),
      ],
      LDS: [httpListener(9080, '9080', opts.listener)],
      RDS: [
        routeConfig('9080', [
          virtualHost('svc', ['svc:9080'], [{ match: { prefix: '/' }, route: { cluster: C, ...route } }]),
        ]),
      ],
    },
    opts.random ? { random: opts.random } : {},
    FakeAds,
  );
  t.after(() => m.close());
  return m;
}

async function backend(
  t: import('node:test').TestContext,
  handler: Parameters<typeof startBackend>[1],
): Promise<Backend> {
  const b = await startBackend('svc', handler);
  t.after(() => b.close());
  return b;
}

/** A request whose body the test writes itself. */
function streamingRequest(port: number, path = '/') {
  const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers: { host: 'svc:9080' } });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
  return { req, response };
}

const RETRY_5XX_SLOW_BACKOFF = {
  retry_on: '5xx',
  num_retries: { value: 1 },
  // With the proxy's random at 0.99 the back-off is ~990 ms: long enough to act during it.
  retry_back_off: { base_interval: { seconds: 1 } },
};

test('a route timeout during the back-off answers 504 without another attempt', async (t) => {
  const b = await backend(t, (_req, res) => {
    res.writeHead(503);
    res.end();
  });
  const m = await mesh(
    t,
    b.port,
    { timeout: { nanos: 100_000_000 }, retry_policy: RETRY_5XX_SLOW_BACKOFF },
    { random: () => 0.99 },
  );
  const res = await request(m.port, { host: 'svc:9080' });
  assert.equal(res.status, 504);
  const counters = m.proxy.clusters.get(C)!.counters;
  // One attempt reached the upstream; none was started (and cancelled) after the timeout.
  assert.equal(counters.upstream_rq_total, 1);
  assert.equal(counters.upstream_rq_timeout, 1);
});

test('a body that outgrows the retry buffer during the back-off is a 507, never a truncated retry', async (t) => {
  let answered!: () => void;
  const firstAnswered = new Promise<void>((r) => (answered = r));
  const received: number[] = [];
  const b = await backend(t, (req, res, self) => {
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    if (self.hits === 1) {
      res.writeHead(503);
      res.end(() => answered());
      req.on('end', () => received.push(n));
      return;
    }
    req.on('end', () => {
      received.push(n);
      res.end(`got ${n}`);
    });
  });
  const m = await mesh(t, b.port, { retry_policy: RETRY_5XX_SLOW_BACKOFF }, { random: () => 0.99 });
  const { req, response } = streamingRequest(m.port);
  req.write(Buffer.alloc(10));
  await firstAnswered;
  // Past the 1 MiB retry buffer while the retry waits.
  req.write(Buffer.alloc(1_200_000));
  req.end();
  const res = await response;
  assert.equal(res.status, 507);
  assert.equal(res.body, 'exceeded request buffer limit while retrying upstream\n');
  assert.equal(b.hits, 1, 'no retry was sent with part of the body');
});

test('a slow upload is not an upstream timeout: route and per-try timeouts start once the request is complete', async (t) => {
  const b = await backend(t, (req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => res.end(`got ${n}`));
  });
  const m = await mesh(t, b.port, {
    timeout: { nanos: 200_000_000 },
    retry_policy: { retry_on: '5xx', num_retries: { value: 1 }, per_try_timeout: { nanos: 150_000_000 } },
  });
  const { req, response } = streamingRequest(m.port);
  for (let i = 0; i < 5; i++) {
    req.write('x'.repeat(100));
    await new Promise((r) => setTimeout(r, 100));
  }
  req.end();
  const res = await response;
  assert.equal(res.status, 200);
  assert.equal(res.body, 'got 500');
  const counters = m.proxy.clusters.get(C)!.counters;
  assert.equal(counters.upstream_rq_per_try_timeout, 0);
  assert.equal(counters.upstream_rq_timeout, 0);
});

test('an HTTP/2 upstream that answers before reading the body: the retry still gets the whole body', async (t) => {
  const server = http2.createServer();
  let streams = 0;
  server.on('stream', (stream) => {
    streams++;
    stream.on('error', () => undefined);
    if (streams === 1) {
      // Answer at once, reading nothing: the proxy must not wait on this stream's flow control.
      stream.respond({ ':status': 503 });
      stream.end();
      return;
    }
    let n = 0;
    stream.on('data', (c: Buffer) => (n += c.length));
    stream.on('end', () => {
      stream.respond({ ':status': 200 });
      stream.end(`got ${n}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const m = await mesh(
    t,
    port,
    {
      timeout: { seconds: 5 },
      retry_policy: {
        retry_on: '5xx',
        num_retries: { value: 1 },
        retry_back_off: { base_interval: { nanos: 1_000_000 } },
      },
    },
    { cluster: h2Options() },
  );
  const body = 'y'.repeat(500_000);
  const res = await request(m.port, { host: 'svc:9080', method: 'POST', body });
  assert.equal(res.status, 200);
  assert.equal(res.body, `got ${body.length}`);
});

test('a full retries breaker is UO; URX only when the retries are spent', async (t) => {
  const statuses = [409, 500];
  const b = await backend(t, (req, res) => {
    const first = req.url === '/overflow' ? 503 : (statuses.shift() ?? 200);
    res.writeHead(first);
    res.end();
  });
  const m = await startMesh(
    {
      CDS: [
        edsCluster(C),
        edsCluster(`${C}-nobudget`, { circuit_breakers: { thresholds: [{ max_retries: { value: 0 } }] } }),
      ],
      EDS: [endpoints(C, [{ port: b.port }]), endpoints(`${C}-nobudget`, [{ port: b.port }])],
      LDS: [httpListener(9080)],
      RDS: [
        routeConfig('9080', [
          virtualHost(
            'svc',
            ['svc:9080'],
            [
              {
                match: { path: '/overflow' },
                route: {
                  cluster: `${C}-nobudget`,
                  retry_policy: { retry_on: '5xx', num_retries: { value: 1 } },
                },
              },
              {
                match: { prefix: '/' },
                route: {
                  cluster: C,
                  retry_policy: {
                    retry_on: 'retriable-4xx',
                    num_retries: { value: 1 },
                    retry_back_off: { base_interval: { nanos: 1_000_000 } },
                  },
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
  t.after(() => m.close());
  const overflow = await request(m.port, { host: 'svc:9080', path: '/overflow' });
  assert.equal(overflow.status, 503);
  // A 409, retried, then a 500 the policy does not retry: not a spent retry budget.
  const notRetriable = await request(m.port, { host: 'svc:9080', path: '/other' });
  assert.equal(notRetriable.status, 500);
  const text = m.proxy.stats.prometheus();
  assert.match(text, /response_code="503",response_flags="UO"/);
  assert.match(text, /response_code="500",response_flags="-"/);
  assert.doesNotMatch(text, /URX/);
});

test('the hash policy cookie is added beside the upstream cookies, in Envoy form', async (t) => {
  const b = await backend(t, (_req, res) => {
    res.writeHead(200, { 'set-cookie': ['session=1', 'theme=dark'] });
    res.end('ok');
  });
  const m = await mesh(
    t,
    b.port,
    { hash_policy: [{ cookie: { name: 'sticky', ttl: { seconds: 60 }, path: '/' } }] },
    { cluster: { lb_policy: 'RING_HASH' } },
  );
  const res = await request(m.port, { host: 'svc:9080' });
  assert.equal(res.status, 200);
  const cookies = res.headers['set-cookie'] ?? [];
  assert.equal(cookies.length, 3, JSON.stringify(cookies));
  assert.deepEqual(cookies.slice(0, 2), ['session=1', 'theme=dark']);
  assert.match(cookies[2]!, /^sticky="[^"]+"; Max-Age=60; Path=\/; HttpOnly$/);
});

test('a circuit breaker 503 carries x-envoy-overloaded, so a client proxy does not retry it here', async (t) => {
  const b = await backend(t, (_req, res) => res.end('ok'));
  const m = await mesh(
    t,
    b.port,
    {},
    { cluster: { circuit_breakers: { thresholds: [{ max_requests: { value: 0 } }] } } },
  );
  const res = await request(m.port, { host: 'svc:9080' });
  assert.equal(res.status, 503);
  assert.equal(res.headers['x-envoy-overloaded'], 'true');
  assert.equal(b.hits, 0);
});

test('previous_hosts: a retry goes to a host not tried yet, even when the hash would pick the same one', async (t) => {
  const bad = await backend(t, (_req, res) => {
    res.writeHead(503);
    res.end();
  });
  const good = await backend(t, (_req, res) => res.end('good'));
  // RING_HASH on a header: a key always lands on the same host first.
  const m = await mesh(
    t,
    [bad.port, good.port],
    {
      hash_policy: [{ header: { header_name: 'x-user' } }],
      retry_policy: {
        retry_on: '5xx',
        num_retries: { value: 1 },
        retry_back_off: { base_interval: { nanos: 1_000_000 } },
        retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts' }],
      },
    },
    { cluster: { lb_policy: 'RING_HASH' } },
  );
  for (let i = 0; i < 12; i++) {
    const res = await request(m.port, { host: 'svc:9080', headers: { 'x-user': `user-${i}` } });
    assert.equal(res.status, 200, `user-${i}`);
  }
  assert.ok(bad.hits > 0, 'some users hash to the bad host first');
});

test('timeouts during an attempt are counted: upstream_rq_per_try_timeout, then upstream_rq_timeout', async (t) => {
  const b = await backend(t, (_req, res) => {
    const timer = setTimeout(() => res.end('late'), 5000);
    res.on('close', () => clearTimeout(timer));
  });
  const m = await mesh(t, b.port, {
    timeout: { nanos: 300_000_000 },
    retry_policy: {
      retry_on: 'connect-failure',
      num_retries: { value: 1 },
      per_try_timeout: { nanos: 100_000_000 },
    },
  });
  const res = await request(m.port, { host: 'svc:9080' });
  // connect-failure does not retry a per-try timeout: the first attempt's timeout is the answer.
  assert.equal(res.status, 504);
  const counters = m.proxy.clusters.get(C)!.counters;
  assert.equal(counters.upstream_rq_per_try_timeout, 1);
  assert.equal(counters.upstream_rq_timeout, 0);
  const m2 = await mesh(t, b.port, { timeout: { nanos: 100_000_000 } });
  const res2 = await request(m2.port, { host: 'svc:9080' });
  assert.equal(res2.status, 504);
  const c2 = m2.proxy.clusters.get(C)!.counters;
  assert.equal(c2.upstream_rq_timeout, 1);
  assert.equal(c2.upstream_rq_per_try_timeout, 0);
});

test('a response cut short is flagged with why: UT for the route timeout, UR for an upstream reset', async (t) => {
  const b = await backend(t, (req, res) => {
    res.writeHead(200, { 'content-length': '100' });
    res.write('part');
    if (req.url === '/reset') setTimeout(() => res.socket?.destroy(), 20);
  });
  const m = await mesh(t, b.port, { timeout: { nanos: 200_000_000 } });
  for (const path of ['/reset', '/slow']) {
    await new Promise<void>((resolve) => {
      const req = http.get(
        { host: '127.0.0.1', port: m.port, path, headers: { host: 'svc:9080' } },
        (res) => {
          res.on('data', () => undefined);
          res.on('error', () => resolve());
          res.on('close', () => resolve());
        },
      );
      req.on('error', () => resolve());
    });
  }
  const text = m.proxy.stats.prometheus();
  assert.match(text, /response_code="200",response_flags="UR"/);
  assert.match(text, /response_code="200",response_flags="UT"/);
});

test('the hash policy cookie alone when the upstream sets none, and beside a single one', async (t) => {
  const b = await backend(t, (req, res) => {
    if (req.url === '/one') res.setHeader('set-cookie', 'session=1');
    res.end('ok');
  });
  const m = await mesh(
    t,
    b.port,
    { hash_policy: [{ cookie: { name: 'sticky', ttl: { seconds: 5 } } }] },
    { cluster: { lb_policy: 'RING_HASH' } },
  );
  const res = await request(m.port, { host: 'svc:9080' });
  assert.deepEqual(
    (res.headers['set-cookie'] ?? []).map((c) => c.replace(/"[^"]*"/, '"V"')),
    ['sticky="V"; Max-Age=5; HttpOnly'],
  );
  const one = await request(m.port, { host: 'svc:9080', path: '/one' });
  assert.deepEqual(
    (one.headers['set-cookie'] ?? []).map((c) => c.replace(/"[^"]*"/, '"V"')),
    ['session=1', 'sticky="V"; Max-Age=5; HttpOnly'],
  );
});

test('the access log counts attempts (%UPSTREAM_REQUEST_ATTEMPT_COUNT%)', async (t) => {
  const b = await backend(t, (_req, res, self) => {
    res.writeHead(self.hits === 1 ? 503 : 200);
    res.end();
  });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'trellis-attempts-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const log = path.join(dir, 'access.log');
  const m = await mesh(
    t,
    b.port,
    {
      retry_policy: {
        retry_on: '5xx',
        num_retries: { value: 2 },
        retry_back_off: { base_interval: { nanos: 1_000_000 } },
      },
    },
    {
      listener: {
        hcm: {
          access_log: [
            {
              name: 'envoy.access_loggers.file',
              typed_config: packAny(TYPE.fileAccessLog, {
                path: log,
                log_format: { text_format_source: { inline_string: '%UPSTREAM_REQUEST_ATTEMPT_COUNT%\n' } },
              }),
            },
          ],
        },
      },
    },
  );
  assert.equal((await request(m.port, { host: 'svc:9080' })).status, 200);
  assert.equal((await request(m.port, { host: 'svc:9080' })).status, 200);
  const lines = await eventually(() => {
    const text = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
    return text.length === 2 ? text : false;
  }, 'two access log lines');
  assert.deepEqual(lines, ['2', '1']);
});
