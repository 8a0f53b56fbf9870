import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Problems } from '../../core/errors.js';
import { seededRandom } from '../../core/random.js';
import type { ForwardAction, RouteTable } from '../model/config.js';
import { convertRouteConfiguration } from '../model/convert-route.js';
import type { RouteConfiguration__Output } from '../../protocol/envoy-types.js';
import { parseGrpcTimeout } from './request-handler.js';
import { matchRoute, rewritePath, selectVirtualHost } from './route-table.js';
import { pickWeighted } from '../policy/weighted.js';

function table(msg: RouteConfiguration__Output): RouteTable {
  const problems = new Problems();
  const t = convertRouteConfiguration(msg, 'rc', problems);
  assert.deepEqual(problems.errors, []);
  return t!;
}

const domains = table({
  name: 'd',
  virtual_hosts: [
    { name: 'exact', domains: ['api.example.com'], routes: [] },
    { name: 'port', domains: ['api.example.com:8080'], routes: [] },
    { name: 'suffix-long', domains: ['*.api.example.com'], routes: [] },
    { name: 'suffix', domains: ['*.example.com'], routes: [] },
    { name: 'prefix', domains: ['api.*'], routes: [] },
    { name: 'any', domains: ['*'], routes: [] },
  ],
});

test('virtual host selection: exact, then longest suffix, then prefix, then catch-all', () => {
  const cases: [string, string][] = [
    ['api.example.com', 'exact'],
    ['api.example.com:9080', 'exact'],
    ['api.example.com:8080', 'port'],
    ['v1.api.example.com', 'suffix-long'],
    ['www.example.com', 'suffix'],
    ['API.EXAMPLE.COM', 'exact'],
    ['api.other.org', 'prefix'],
    ['elsewhere', 'any'],
  ];
  for (const [authority, want] of cases)
    assert.equal(selectVirtualHost(domains, authority)?.name, want, authority);
  const noCatchAll = table({ name: 'x', virtual_hosts: [{ name: 'a', domains: ['a'], routes: [] }] });
  assert.equal(selectVirtualHost(noCatchAll, 'b'), undefined);
});

const routes = table({
  name: 'r',
  virtual_hosts: [
    {
      name: 'vh',
      domains: ['*'],
      routes: [
        { name: 'exact-path', match: { path: '/login' }, route: { cluster: 'a' } },
        { name: 'ci', match: { prefix: '/CASE', case_sensitive: { value: false } }, route: { cluster: 'a' } },
        { name: 'regex', match: { safe_regex: { regex: '/items/\\d+' } }, route: { cluster: 'a' } },
        { name: 'sep', match: { path_separated_prefix: '/api' }, route: { cluster: 'a' } },
        {
          name: 'hdr',
          match: { prefix: '/h', headers: [{ name: 'x-v', string_match: { prefix: 'v2' } }] },
          route: { cluster: 'a' },
        },
        {
          name: 'absent',
          match: { prefix: '/h', headers: [{ name: 'x-v', present_match: false }] },
          route: { cluster: 'a' },
        },
        {
          name: 'query',
          match: { prefix: '/q', query_parameters: [{ name: 'debug', string_match: { exact: '1' } }] },
          route: { cluster: 'a' },
        },
        { name: 'grpc', match: { prefix: '/svc.', grpc: {} }, route: { cluster: 'a' } },
        { name: 'fallback', match: { prefix: '/' }, route: { cluster: 'a' } },
      ],
    },
  ],
});

test('route match: first match wins across path, case, regex, headers, query and grpc', () => {
  const vh = routes.virtualHosts[0]!;
  const m = (path: string, headers: Record<string, string> = {}) =>
    matchRoute(vh, { authority: 'x', path, method: 'GET', headers })?.name;
  assert.equal(m('/login'), 'exact-path');
  assert.equal(m('/login/x'), 'fallback');
  assert.equal(m('/case/lower'), 'ci');
  assert.equal(m('/items/12'), 'regex');
  assert.equal(m('/items/12/x'), 'fallback', 'safe_regex matches the whole path');
  assert.equal(m('/api'), 'sep');
  assert.equal(m('/api/v1'), 'sep');
  assert.equal(m('/apix'), 'fallback');
  assert.equal(m('/h', { 'x-v': 'v2-beta' }), 'hdr');
  assert.equal(m('/h', { 'x-v': 'v1' }), 'fallback');
  assert.equal(m('/h'), 'absent');
  assert.equal(m('/q?debug=1'), 'query');
  assert.equal(m('/q?debug=0'), 'fallback');
  assert.equal(m('/svc.Echo/Get', { 'content-type': 'application/grpc' }), 'grpc');
  assert.equal(m('/svc.Echo/Get'), 'fallback');
});

test('weighted picks follow the weights and rewrites keep the query', () => {
  const t = table({
    name: 'w',
    virtual_hosts: [
      {
        name: 'vh',
        domains: ['*'],
        routes: [
          {
            match: { prefix: '/v1/' },
            route: {
              weighted_clusters: {
                clusters: [
                  { name: 'a', weight: { value: 90 } },
                  { name: 'b', weight: { value: 10 } },
                ],
              },
              prefix_rewrite: '/',
            },
          },
        ],
      },
    ],
  });
  const route = t.virtualHosts[0]!.routes[0]!;
  const action = route.action as ForwardAction;
  const random = seededRandom(1);
  let a = 0;
  for (let i = 0; i < 10_000; i++)
    if (pickWeighted(action.targets, action.totalWeight, random)?.cluster === 'a') a++;
  assert.ok(a > 8800 && a < 9200, `a got ${a}`);
  assert.equal(rewritePath(route, action, '/v1/users?id=1'), '/users?id=1');
});

test('invalid routes are reported with their field paths', () => {
  const problems = new Problems();
  convertRouteConfiguration(
    {
      name: 'bad',
      virtual_hosts: [
        {
          name: 'a',
          domains: ['x', 'x'],
          routes: [{ match: { prefix: '/' }, route: { cluster_header: 'x-c' } }],
        },
        {
          name: 'b',
          domains: ['x'],
          routes: [
            { match: { prefix: '/' }, route: { cluster: 'c', retry_policy: { retry_on: 'sometimes' } } },
          ],
        },
        {
          name: 'c',
          domains: ['*.a.*'],
          routes: [
            {
              match: { prefix: '/' },
              route: { cluster: 'c', internal_redirect_policy: { max_internal_redirects: { value: 2 } } },
            },
          ],
        },
      ],
    },
    'RouteConfiguration "bad"',
    problems,
  );
  const paths = problems.errors.map((p) => p.path);
  assert.ok(paths.includes('RouteConfiguration "bad".virtual_hosts[0].routes[0].route'), paths.join('\n'));
  assert.ok(
    paths.includes('RouteConfiguration "bad".virtual_hosts[1].routes[0].route.retry_policy.retry_on'),
  );
  assert.ok(paths.includes('RouteConfiguration "bad".virtual_hosts[2].domains[0]'));
  assert.ok(
    paths.includes('RouteConfiguration "bad".virtual_hosts[2].routes[0].route.internal_redirect_policy'),
  );
  assert.ok(
    paths.some((p) => p.endsWith('virtual_hosts[1].domains')),
    'duplicate domain across virtual hosts',
  );
});

test('grpc-timeout header values', () => {
  assert.equal(parseGrpcTimeout('250m'), 250);
  assert.equal(parseGrpcTimeout('2S'), 2000);
  assert.equal(parseGrpcTimeout('1H'), 3_600_000);
  assert.equal(parseGrpcTimeout('500u'), 1);
  assert.equal(parseGrpcTimeout('5x'), undefined);
  assert.equal(parseGrpcTimeout(undefined), undefined);
});
