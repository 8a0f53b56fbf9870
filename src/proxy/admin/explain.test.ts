/**
 * `POST /explain` through a real proxy on 127.0.0.1 fed by FakeAds: a table of requests with the
 * listener, route, cluster and failure (response flag) the proxy predicts from its live config
 * and cluster state, the reasons earlier routes did not match, and that explaining changes
 * nothing (rate limit tokens, breaker slots, counters).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { TYPE, packAny } from '../../protocol/protos.js';
import { FakeAds } from '../testing/fake-ads.js';
import { request, startBackend, startMesh, type Backend } from '../testing/harness.js';
import { edsCluster, endpoints, httpListener, routeConfig, virtualHost } from '../testing/resources.js';
import { httpRbac, policy } from '../testing/security-resources.js';
import { eventually } from '../../core/testing/eventually.js';
import type { Explanation } from './explain-types.js';

const svc = (subset: string, host: string) => `outbound|9080|${subset}|${host}.default.svc.cluster.local`;
const APP = svc('', 'app');
const V2 = svc('v2', 'app');
const V3 = svc('v3', 'app');
const DOWN = svc('', 'down');
const DEAD = svc('', 'dead');
const FULL = svc('', 'full');
const EJECT = svc('', 'eject');
const FAULT = 'envoy.filters.http.fault';
const RL = 'envoy.filters.http.local_ratelimit';
const NO_PANIC = { common_lb_config: { healthy_panic_threshold: { value: 0 } } };

const route = (name: string, match: object, action: object, extra: object = {}) => ({
  name,
  match,
  ...action,
  ...extra,
});
const to = (cluster: string, more: object = {}) => ({ route: { cluster, ...more } });

async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function explain(
  adminPort: number,
  body: object,
): Promise<{ status: number; json: Explanation & { error?: { message: string } } }> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/explain`, {
    method: 'POST',
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Explanation & { error?: { message: string } } };
}

async function setup(t: { after(fn: () => Promise<void>): void }) {
  const app = await startBackend('app');
  const v2 = await startBackend('v2');
  let releaseSlow: () => void = () => {};
  const slow = await startBackend('slow', (_req, res) => {
    releaseSlow = () => res.end('late');
  });
  const failing = await startBackend('failing', (_req, res) => {
    res.statusCode = 503;
    res.end('no');
  });
  const dead = await closedPort();
  const mesh = await startMesh(
    {
      CDS: [
        edsCluster(APP),
        edsCluster(V2),
        edsCluster(V3),
        edsCluster(DOWN, NO_PANIC),
        edsCluster(DEAD),
        edsCluster(FULL, { circuit_breakers: { thresholds: [{ max_requests: { value: 1 } }] } }),
        edsCluster(EJECT, {
          ...NO_PANIC,
          outlier_detection: {
            consecutive_5xx: { value: 1 },
            interval: { seconds: 10 },
            base_ejection_time: { seconds: 30 },
            max_ejection_percent: { value: 100 },
          },
        }),
      ],
      EDS: [
        endpoints(APP, [{ port: app.port }]),
        endpoints(V2, [{ port: v2.port }]),
        endpoints(V3, []),
        endpoints(DOWN, [
          { port: app.port, healthy: false },
          { port: v2.port, healthy: false },
        ]),
        endpoints(DEAD, [{ port: dead }]),
        endpoints(FULL, [{ port: slow.port }]),
        endpoints(EJECT, [{ port: failing.port }]),
      ],
      LDS: [
        httpListener(9080, '9080', {
          httpFilters: [
            { name: FAULT, typed_config: packAny(TYPE.fault, {}) },
            {
              name: RL,
              typed_config: packAny(TYPE.localRateLimit, { stat_prefix: 'http_local_rate_limiter' }),
            },
          ],
        }),
        httpListener(9090, '9090', {
          httpFilters: [
            httpRbac({
              action: 'DENY',
              policies: {
                'ns[default]-policy[deny-admin]-rule[0]': policy([
                  { url_path: { path: { prefix: '/admin' } } },
                ]),
              },
            }),
          ],
        }),
      ],
      RDS: [
        routeConfig('9080', [
          virtualHost(
            'app.default.svc.cluster.local:9080',
            ['app:9080'],
            [
              route(
                'jason',
                { prefix: '/', headers: [{ name: 'x-user', string_match: { exact: 'jason' } }] },
                to(V2),
              ),
              route(
                'api-post',
                { prefix: '/api', headers: [{ name: ':method', string_match: { exact: 'POST' } }] },
                to(APP),
              ),
              route(
                'debug',
                { prefix: '/debug', query_parameters: [{ name: 'trace', present_match: true }] },
                to(APP),
              ),
              route('old', { path: '/old' }, { redirect: { path_redirect: '/new', response_code: 'FOUND' } }),
              route(
                'health',
                { path: '/health' },
                { direct_response: { status: 200, body: { inline_string: 'ok' } } },
              ),
              route(
                'split',
                { prefix: '/split' },
                {
                  route: {
                    weighted_clusters: {
                      clusters: [
                        { name: APP, weight: { value: 80 } },
                        { name: V3, weight: { value: 20 } },
                      ],
                    },
                  },
                },
              ),
              route('fault', { prefix: '/fault' }, to(APP), {
                typed_per_filter_config: {
                  [FAULT]: packAny(TYPE.fault, {
                    abort: { http_status: 503, percentage: { numerator: 100 } },
                  }),
                },
              }),
              route('flaky', { prefix: '/flaky' }, to(APP), {
                typed_per_filter_config: {
                  [FAULT]: packAny(TYPE.fault, {
                    delay: { fixed_delay: { seconds: 2 }, percentage: { numerator: 100 } },
                    abort: { http_status: 500, percentage: { numerator: 10 } },
                  }),
                },
              }),
              route('limited', { prefix: '/limited' }, to(APP), {
                typed_per_filter_config: {
                  [RL]: packAny(TYPE.localRateLimit, {
                    stat_prefix: 'rl',
                    token_bucket: {
                      max_tokens: 1,
                      tokens_per_fill: { value: 1 },
                      fill_interval: { seconds: 600 },
                    },
                    filter_enabled: { default_value: { numerator: 100 } },
                    filter_enforced: { default_value: { numerator: 100 } },
                  }),
                },
              }),
              route('v3', { prefix: '/v3' }, to(V3)),
              route('down', { prefix: '/down' }, to(DOWN)),
              route(
                'dead',
                { prefix: '/dead' },
                to(DEAD, { retry_policy: { retry_on: 'connect-failure', num_retries: { value: 2 } } }),
              ),
              route('nc', { prefix: '/nc' }, to(svc('v9', 'app'))),
              route('full', { prefix: '/full' }, to(FULL)),
              route('eject', { prefix: '/eject' }, to(EJECT)),
              route('app', { prefix: '/app' }, to(APP)),
            ],
          ),
        ]),
        routeConfig('9090', [virtualHost('admin', ['*'], [route('all', { prefix: '/' }, to(APP))])]),
      ],
    },
    {},
    FakeAds,
  );
  t.after(async () => {
    releaseSlow();
    await mesh.close();
    for (const b of [app, v2, slow, failing] as Backend[]) await b.close();
  });
  return { mesh, app, slow, releaseSlow: () => releaseSlow(), admin: mesh.proxy.adminPort };
}

interface Row {
  what: string;
  method?: string;
  url: string;
  headers?: Record<string, string>;
  result: Explanation['outcome']['result'];
  listener?: string;
  route?: string;
  clusters?: string[];
  flag?: string;
  status?: number;
  reason?: RegExp;
  fix?: RegExp;
}

const ROWS: Row[] = [
  {
    what: 'a plain request',
    url: 'http://app:9080/app/x',
    result: 'succeed',
    listener: '0.0.0.0_9080',
    route: 'app',
    clusters: [APP],
  },
  {
    what: 'a header route',
    url: 'http://app:9080/app',
    headers: { 'x-user': 'jason' },
    result: 'succeed',
    route: 'jason',
    clusters: [V2],
  },
  {
    what: 'a method route',
    method: 'POST',
    url: 'app:9080/api/items',
    result: 'succeed',
    route: 'api-post',
    clusters: [APP],
  },
  {
    what: 'no virtual host (NR)',
    url: 'http://other:9080/',
    result: 'fail',
    flag: 'NR',
    status: 404,
    reason: /no route for host other on port 9080/,
    fix: /add a VirtualService for other or a ServiceEntry/,
  },
  {
    what: 'no listener (NR)',
    url: 'http://app:7777/',
    result: 'fail',
    flag: 'NR',
    reason: /no listener for port 7777/,
  },
  {
    what: 'no route in the host (NR)',
    url: 'http://app:9080/nothing',
    result: 'fail',
    flag: 'NR',
    reason: /has no route for \/nothing/,
  },
  { what: 'a redirect', url: 'http://app:9080/old?q=1', result: 'succeed', route: 'old', status: 302 },
  {
    what: 'a direct response',
    url: 'http://app:9080/health',
    result: 'succeed',
    route: 'health',
    status: 200,
  },
  {
    what: 'weighted clusters, one empty',
    url: 'http://app:9080/split',
    result: 'may-fail',
    route: 'split',
    clusters: [APP, V3],
    flag: 'UH',
    reason: /^20% of requests: subset v3/,
  },
  {
    what: 'fault abort at 100% (FI)',
    url: 'http://app:9080/fault',
    result: 'fail',
    flag: 'FI',
    status: 503,
    reason: /aborts every request with 503/,
  },
  {
    what: 'fault abort at 10% (FI)',
    url: 'http://app:9080/flaky',
    result: 'may-fail',
    flag: 'FI',
    status: 500,
    reason: /aborts 10% of requests/,
  },
  {
    what: 'a subset with no endpoints (UH)',
    url: 'http://app:9080/v3',
    result: 'fail',
    flag: 'UH',
    reason: /subset v3 of app\.default\.svc\.cluster\.local has no endpoints/,
    fix: /check the DestinationRule subset v3 labels against the workloads' labels/,
  },
  {
    what: 'all endpoints unhealthy (UH)',
    url: 'http://app:9080/down',
    result: 'fail',
    flag: 'UH',
    reason: /none of the 2 endpoint\(s\) .* is healthy: 2 reported unhealthy/,
  },
  {
    what: 'an unknown cluster (NC)',
    url: 'http://app:9080/nc',
    result: 'fail',
    flag: 'NC',
    fix: /define subset v9 in the DestinationRule/,
  },
  {
    what: 'RBAC denial',
    url: 'http://app:9090/admin/users',
    result: 'fail',
    status: 403,
    reason: /denied by policy ns\[default\]-policy\[deny-admin\]-rule\[0\]/,
    fix: /AuthorizationPolicy deny-admin in namespace default/,
  },
  {
    what: 'RBAC allows other paths',
    url: 'http://app:9090/public',
    result: 'succeed',
    listener: '0.0.0.0_9090',
    clusters: [APP],
  },
];

test('explain: listener, route, cluster and failure for a table of requests', async (t) => {
  const { admin } = await setup(t);
  for (const row of ROWS) {
    const { status, json } = await explain(admin, {
      method: row.method ?? 'GET',
      url: row.url,
      headers: row.headers ?? {},
    });
    const label = `${row.what}: ${JSON.stringify(json.outcome)}`;
    assert.equal(status, 200, label);
    assert.equal(json.outcome.result, row.result, label);
    if (row.listener) assert.equal(json.listener?.name, row.listener, label);
    if (row.route) assert.equal(json.route?.name, row.route, label);
    if (row.clusters)
      assert.deepEqual(
        json.clusters.map((c) => c.name),
        row.clusters,
        label,
      );
    const failure = json.outcome.failures[0];
    if (row.flag) assert.equal(failure?.flag, row.flag, label);
    if (row.status) assert.equal(json.outcome.status ?? failure?.status, row.status, label);
    if (row.reason) assert.match(failure?.reason ?? '', row.reason, label);
    if (row.fix) assert.match(failure?.fix ?? '', row.fix, label);
    if (row.result === 'succeed') assert.deepEqual(json.outcome.failures, [], label);
  }
});

test('explain says why each earlier route did not match', async (t) => {
  const { admin } = await setup(t);
  const { json } = await explain(admin, { method: 'GET', url: 'http://app:9080/debug/x', headers: {} });
  assert.deepEqual(json.routes.slice(0, 3), [
    { name: 'jason', matched: false, reason: 'needs header x-user is "jason"' },
    { name: 'api-post', matched: false, reason: 'path "/debug/x" does not start with "/api"' },
    { name: 'debug', matched: false, reason: 'needs query parameter trace is present' },
  ]);
  const post = await explain(admin, { method: 'GET', url: 'http://app:9080/api/x', headers: {} });
  assert.equal(post.json.routes[1]?.reason, 'needs method is "POST"');
  const found = await explain(admin, { method: 'GET', url: 'http://app:9080/debug/x?trace', headers: {} });
  assert.deepEqual(found.json.routes.at(-1), { name: 'debug', matched: true });
  // The redirect's target and the weighted split as the route action shows them.
  const old = await explain(admin, { url: 'http://app:9080/old?q=1' });
  assert.deepEqual(old.json.route?.action, {
    kind: 'redirect',
    status: 302,
    location: 'http://app:9080/new?q=1',
  });
  const split = await explain(admin, { url: 'http://app:9080/split' });
  const action = split.json.route?.action;
  assert.equal(action?.kind, 'forward');
  if (action?.kind === 'forward')
    assert.deepEqual(
      action.targets.map((x) => x.percent),
      [80, 20],
    );
});

test('explain peeks at the rate limit bucket and the breakers without using them (RL, UO)', async (t) => {
  const { mesh, admin, slow, releaseSlow } = await setup(t);
  const stats = async () => (await fetch(`http://127.0.0.1:${admin}/stats`)).text();
  const before = await stats();
  for (let i = 0; i < 3; i++) {
    const { json } = await explain(admin, { url: 'http://app:9080/limited' });
    assert.equal(json.outcome.result, 'succeed', JSON.stringify(json.policies));
    assert.match(
      json.policies.find((p) => p.kind === 'local_ratelimit')?.detail ?? '',
      /^1 of 1 token\(s\) left/,
    );
  }
  assert.equal(await stats(), before, 'explaining moved no counter');
  assert.equal((await request(mesh.port, { host: 'app:9080', path: '/limited' })).status, 200);
  const limited = await explain(admin, { url: 'http://app:9080/limited' });
  assert.equal(limited.json.outcome.result, 'fail');
  assert.equal(limited.json.outcome.failures[0]?.flag, 'RL');
  assert.equal(limited.json.outcome.status, 429);
  assert.equal((await request(mesh.port, { host: 'app:9080', path: '/limited' })).status, 429);

  // A request in flight fills the one-request breaker: the next would overflow (UO).
  const inFlight = request(mesh.port, { host: 'app:9080', path: '/full' });
  await eventually(() => slow.hits === 1, 'the first request upstream');
  const full = await explain(admin, { url: 'http://app:9080/full' });
  assert.equal(full.json.outcome.failures[0]?.flag, 'UO', JSON.stringify(full.json.outcome));
  assert.match(full.json.outcome.failures[0]?.reason ?? '', /1 of 1 requests in flight/);
  assert.deepEqual(full.json.clusters[0]?.circuitBreakers?.requests, { active: 1, max: 1 });
  releaseSlow();
  assert.equal((await inFlight).status, 200);
  const free = await explain(admin, { url: 'http://app:9080/full' });
  assert.equal(free.json.outcome.result, 'succeed');
});

test('explain reports outlier ejections with their end, and a recent failure by its request id (UH, UF, URX)', async (t) => {
  const { mesh, admin } = await setup(t);
  assert.equal((await request(mesh.port, { host: 'app:9080', path: '/eject' })).status, 503);
  const ejected = await explain(admin, { url: 'http://app:9080/eject' });
  const f = ejected.json.outcome.failures[0];
  assert.equal(f?.flag, 'UH', JSON.stringify(ejected.json));
  assert.match(
    f?.reason ?? '',
    /all 1 endpoint\(s\) of outbound\|9080\|\|eject\S+ are ejected by outlier detection until \d\d:\d\d:\d\d/,
  );
  assert.match(ejected.json.clusters[0]?.endpoints[0]?.reason ?? '', /^ejected by outlier detection until/);

  const dead = await request(mesh.port, {
    host: 'app:9080',
    path: '/dead',
    headers: { 'x-request-id': 'dead-1' },
  });
  assert.equal(dead.status, 503);
  const { status, json } = await explain(admin, { requestId: 'dead-1' });
  assert.equal(status, 200);
  assert.equal(json.actual?.flags, 'UF,URX');
  assert.match(json.actual?.upstreamHost ?? '', /^127\.0\.0\.1:\d+$/);
  assert.equal(json.actual?.attempts, 3);
  assert.ok(json.actual?.meanings.some((m) => m.startsWith('URX: upstream retry limit exceeded')));
  assert.equal(json.route?.name, 'dead');
  assert.match(json.clusters[0]?.notes.join(' ') ?? '', /upstream connection failure\(s\) so far/);

  // A failed request without an id gets one, which the tap shows, so it can be asked about.
  const tap = await fetch(`http://127.0.0.1:${admin}/tap?max=1`);
  const nr = await request(mesh.port, { host: 'nowhere:9080', path: '/x' });
  assert.equal(nr.status, 404);
  const event = JSON.parse(await tap.text()) as { requestId: string; flags: string };
  assert.equal(event.flags, 'NR');
  assert.match(event.requestId, /^[0-9a-f-]{36}$/);
  const byTap = await explain(admin, { requestId: event.requestId });
  assert.equal(byTap.json.actual?.flags, 'NR');
  assert.equal(byTap.json.actual?.path, '/x');
  assert.equal(byTap.json.outcome.failures[0]?.flag, 'NR');
  const unknown = await explain(admin, { requestId: 'never-seen' });
  assert.equal(unknown.status, 404);
  assert.match(
    unknown.json.error?.message ?? '',
    /no failed request with id "never-seen" among the last 256 failures/,
  );
});

test('explain refuses malformed requests with what to send instead', async (t) => {
  const { admin } = await setup(t);
  const cases: [object | string, RegExp][] = [
    [{ url: '' }, /url is required/],
    [{ url: 'http://app:9080/', method: 'G T' }, /method "G T": expected an HTTP method/],
    [{ url: 'http://app:9080/', headers: { 'bad name': 'x' } }, /header "bad name"/],
    [{ url: 'http://app:9080/', headers: ['x'] }, /headers: expected an object/],
    [{ url: 'http:// spaces/' }, /expected http:\/\/HOST\[:PORT\]\/PATH/],
    ['{not json', /the body is not JSON/],
    [{ requestId: 7 }, /requestId: expected the x-request-id/],
  ];
  for (const [body, message] of cases) {
    const res = await fetch(`http://127.0.0.1:${admin}/explain`, {
      method: 'POST',
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.match(((await res.json()) as { error: { message: string } }).error.message, message);
  }
  const get = await fetch(`http://127.0.0.1:${admin}/explain`);
  assert.equal(get.status, 405);
});
