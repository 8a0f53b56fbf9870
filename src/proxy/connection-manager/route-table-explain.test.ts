/**
 * explainRouteMiss (route-table.ts): the first condition of a route match a request misses, in
 * words, for `trellis explain`; undefined exactly when routeMatches takes the request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Problems } from '../../core/errors.js';
import { convertMatch } from '../model/convert-route-match.js';
import { explainRouteMiss, routeMatches, type RoutableRequest } from './route-table.js';

function match(m: object) {
  const problems = new Problems();
  const out = convertMatch(m, 'match', problems);
  assert.deepEqual(problems.errors, []);
  return out;
}

function req(path: string, headers: Record<string, string> = {}, method = 'GET'): RoutableRequest {
  return { authority: 'a', path, method, headers: { ':method': method, ':path': path, ...headers } };
}

test('explainRouteMiss names the first condition missed, in the order routes are matched', () => {
  const cases: [string, object, RoutableRequest, string | undefined][] = [
    ['prefix', { prefix: '/api' }, req('/web'), 'path "/web" does not start with "/api"'],
    ['exact path', { path: '/a' }, req('/a/b'), 'path "/a/b" is not "/a"'],
    [
      'separated',
      { path_separated_prefix: '/a' },
      req('/ab'),
      'path "/ab" is not and does not start with the segment "/a"',
    ],
    [
      'regex',
      { safe_regex: { regex: '/v[0-9]+/.*' } },
      req('/vx/'),
      'path "/vx/" does not match regex "/v[0-9]+/.*"',
    ],
    [
      'ignoring case',
      { prefix: '/API', case_sensitive: { value: false } },
      req('/web'),
      'path "/web" does not start with "/api" (ignoring case)',
    ],
    ['query not part of the path', { path: '/a' }, req('/a?x=1'), undefined],
    [
      'header exact',
      { prefix: '/', headers: [{ name: 'x-user', string_match: { exact: 'jason' } }] },
      req('/', { 'x-user': 'ann' }),
      'needs header x-user is "jason"',
    ],
    [
      'header absent',
      { prefix: '/', headers: [{ name: 'x-user', string_match: { prefix: 'j' } }] },
      req('/'),
      'needs header x-user starts with "j"',
    ],
    [
      'header present',
      { prefix: '/', headers: [{ name: 'x-debug', present_match: true }] },
      req('/'),
      'needs header x-debug is present',
    ],
    [
      'header inverted',
      { prefix: '/', headers: [{ name: 'x-debug', present_match: true, invert_match: true }] },
      req('/', { 'x-debug': '1' }),
      'needs header x-debug is not present',
    ],
    [
      'header regex',
      { prefix: '/', headers: [{ name: 'x-v', safe_regex_match: { regex: '[0-9]+' } }] },
      req('/', { 'x-v': 'a' }),
      'needs header x-v matches regex "[0-9]+"',
    ],
    [
      'header range',
      { prefix: '/', headers: [{ name: 'x-n', range_match: { start: 1, end: 5 } }] },
      req('/', { 'x-n': '9' }),
      'needs header x-n is an integer in [1, 5)',
    ],
    [
      'second header',
      {
        prefix: '/',
        headers: [
          { name: 'a', present_match: true },
          { name: 'b', string_match: { suffix: 'z', ignore_case: true } },
        ],
      },
      req('/', { a: '1', b: 'y' }),
      'needs header b ends with "z" (ignoring case)',
    ],
    [
      'method',
      { prefix: '/', headers: [{ name: ':method', string_match: { exact: 'POST' } }] },
      req('/'),
      'needs method is "POST"',
    ],
    [
      'method matches',
      { prefix: '/', headers: [{ name: ':method', string_match: { exact: 'POST' } }] },
      req('/', {}, 'POST'),
      undefined,
    ],
    [
      'query present',
      { prefix: '/', query_parameters: [{ name: 'debug', present_match: true }] },
      req('/?x=1'),
      'needs query parameter debug is present',
    ],
    [
      'query value',
      { prefix: '/', query_parameters: [{ name: 'v', string_match: { exact: '2' } }] },
      req('/?v=1'),
      'needs query parameter v is "2"',
    ],
    [
      'query matches',
      { prefix: '/', query_parameters: [{ name: 'v', string_match: { exact: '2' } }] },
      req('/?v=2'),
      undefined,
    ],
    ['grpc', { prefix: '/', grpc: {} }, req('/'), 'only gRPC requests (content-type application/grpc) match'],
    ['path with a query', { prefix: '/api' }, req('/web?x=1'), 'path "/web" does not start with "/api"'],
    [
      'regex ignores case itself',
      { safe_regex: { regex: '/v1' }, case_sensitive: { value: false } },
      req('/v2'),
      'path "/v2" does not match regex "/v1"',
    ],
    [
      'grpc, then headers',
      { prefix: '/', grpc: {}, headers: [{ name: 'x', present_match: true }] },
      req('/', { 'content-type': 'application/grpc+proto' }),
      'needs header x is present',
    ],
    [
      'second query parameter',
      {
        prefix: '/',
        query_parameters: [
          { name: 'a', present_match: true },
          { name: 'v', string_match: { exact: '2' } },
        ],
      },
      req('/?a=1&v=1'),
      'needs query parameter v is "2"',
    ],
    [
      'metadata',
      {
        prefix: '/',
        dynamic_metadata: [
          {
            filter: 'envoy.filters.http.jwt_authn',
            path: [{ key: 'p' }, { key: 'sub' }],
            value: { string_match: { exact: 'u' } },
          },
        ],
      },
      req('/'),
      'needs dynamic metadata the request does not have (a JWT claim written by jwt_authn)',
    ],
    [
      'path before headers',
      { prefix: '/api', headers: [{ name: 'x', present_match: true }] },
      req('/web'),
      'path "/web" does not start with "/api"',
    ],
  ];
  for (const [what, m, r, want] of cases) {
    const compiled = match(m);
    assert.equal(explainRouteMiss(compiled, r), want, what);
    assert.equal(routeMatches(compiled, r), want === undefined, `${what}: agrees with routeMatches`);
  }
});
