/**
 * Virtual host selection by authority, Envoy's order (exact, then the longest `*` suffix, then
 * the longest `*` prefix, then `*`), with this proxy's rule that a domain without a port also
 * matches the host part of an authority that has one. Which virtual host serves a request decides
 * which routes and policies apply to it, so every boundary is a row here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RouteMatch, RouteTable, VirtualHost } from '../model/config.js';
import { routeMatches, selectVirtualHost, stripPort } from './route-table.js';

function tableOf(vhosts: [string, string[]][]): RouteTable {
  return {
    name: 't',
    virtualHosts: vhosts.map(([name, domains]) => ({ name, domains, routes: [] }) as unknown as VirtualHost),
    requestHeaders: { add: [], remove: [] },
    responseHeaders: { add: [], remove: [] },
  };
}

const pick = (vhosts: [string, string[]][], authority: string) =>
  selectVirtualHost(tableOf(vhosts), authority)?.name;

test('wildcards need at least one character where the * stands', () => {
  const suffix: [string, string[]][] = [['s', ['*.example.com']]];
  assert.equal(pick(suffix, 'a.example.com'), 's');
  assert.equal(pick(suffix, 'A.EXAMPLE.COM'), 's', 'case-insensitive');
  assert.equal(pick(suffix, '.example.com'), undefined);
  assert.equal(pick(suffix, 'example.com'), undefined);
  assert.equal(pick(suffix, 'a.example.com.evil'), undefined, 'a suffix must end the host');
  assert.equal(pick(suffix, 'a.example.com:8080'), 's', 'the host part of an authority with a port');
  assert.equal(pick(suffix, '.example.com:8080'), undefined);
  const prefix: [string, string[]][] = [['p', ['api.*']]];
  assert.equal(pick(prefix, 'api.internal'), 'p');
  assert.equal(pick(prefix, 'api.'), undefined);
  assert.equal(pick(prefix, 'abc'), undefined, 'the whole prefix, not its first letter');
  assert.equal(pick(prefix, 'xapi.internal'), undefined, 'a prefix must start the host');
  assert.equal(
    pick([['p', ['*.svc:9080']]], 'a.svc:9080'),
    'p',
    'a suffix with a port matches the full authority',
  );
});

test('ranking: exact, then suffix, then prefix, then catch-all, whatever the lengths', () => {
  const all: [string, string[]][] = [
    ['catch-all', ['*']],
    ['prefix', ['api.example.*']],
    ['suffix', ['*.com']],
    ['exact', ['api.example.com']],
  ];
  assert.equal(pick(all, 'api.example.com'), 'exact');
  assert.equal(pick(all.slice(0, 3), 'api.example.com'), 'suffix', 'a short suffix beats a long prefix');
  assert.equal(
    pick(
      [
        ['suffix', ['*.com']],
        ['prefix', ['api.example.*']],
      ],
      'api.example.com',
    ),
    'suffix',
    'whichever comes first',
  );
  assert.equal(pick(all.slice(0, 2), 'api.example.org'), 'prefix');
  assert.equal(pick(all.slice(0, 1), 'anything'), 'catch-all');
  assert.equal(pick([], 'anything'), undefined);
});

test('within a rank the longest domain wins, and on a tie the first virtual host', () => {
  assert.equal(
    pick(
      [
        ['short', ['*.com']],
        ['long', ['*.example.com']],
      ],
      'a.example.com',
    ),
    'long',
  );
  assert.equal(
    pick(
      [
        ['long', ['api.example.*']],
        ['short', ['api.*']],
      ],
      'api.example.org',
    ),
    'long',
  );
  assert.equal(
    pick(
      [
        ['first', ['*.example.com']],
        ['second', ['*.example.com']],
      ],
      'a.example.com',
    ),
    'first',
  );
});

test('ports: a domain with a port matches only that authority; exact domains match the host part too', () => {
  const vhosts: [string, string[]][] = [
    ['with-port', ['reviews:9080']],
    ['bare', ['ratings']],
  ];
  assert.equal(pick(vhosts, 'reviews:9080'), 'with-port');
  assert.equal(pick(vhosts, 'reviews:9081'), undefined);
  assert.equal(pick(vhosts, 'reviews'), undefined);
  assert.equal(pick(vhosts, 'ratings:9080'), 'bare');
});

test('IPv6 authorities: the port comes off after the bracket', () => {
  const cases: [string, string][] = [
    ['[::1]:9080', '[::1]'],
    ['[::1]', '[::1]'],
    ['[::1', '[::1'],
    ['example.com:80', 'example.com'],
    ['example.com', 'example.com'],
  ];
  for (const [authority, host] of cases) assert.equal(stripPort(authority), host, authority);
  assert.equal(pick([['v6', ['[::1]']]], '[::1]:9080'), 'v6');
});

function match(path: RouteMatch['path'], extra: Partial<RouteMatch> = {}): RouteMatch {
  return { path, caseSensitive: true, headers: () => true, grpcOnly: false, ...extra };
}
const req = (path: string, headers: Record<string, string> = {}) => ({
  authority: 'a',
  path,
  method: 'GET',
  headers,
});

test('route matches read the path without its query, and the query only for query matchers', () => {
  assert.equal(routeMatches(match({ kind: 'path', value: '/a' }), req('/a?x=1')), true);
  assert.equal(routeMatches(match({ kind: 'path', value: '/a' }), req('/a')), true);
  assert.equal(routeMatches(match({ kind: 'separated', value: '/api' }), req('/api/v1')), true);
  assert.equal(routeMatches(match({ kind: 'separated', value: '/api' }), req('/api')), true);
  assert.equal(routeMatches(match({ kind: 'separated', value: '/api' }), req('/apiv1')), false);
  const wantsX = match({ kind: 'prefix', value: '/' }, { query: (q) => q.get('x') === '1' });
  assert.equal(routeMatches(wantsX, req('/p?x=1')), true);
  assert.equal(routeMatches(wantsX, req('/p')), false);
  const noX = match(
    { kind: 'prefix', value: '/' },
    { query: (q) => q.get('x') === null && q.get('/p') === null },
  );
  assert.equal(routeMatches(noX, req('/p')), true, 'a path without ? has no query parameters');
});

test('grpc: {} matches only content types that start with application/grpc', () => {
  const grpc = match({ kind: 'prefix', value: '/' }, { grpcOnly: true });
  const cases: [string | undefined, boolean][] = [
    ['application/grpc', true],
    ['application/grpc+proto', true],
    ['text/plain; x=application/grpc', false],
    [undefined, false],
  ];
  for (const [ct, want] of cases)
    assert.equal(
      routeMatches(grpc, req('/svc/M', ct === undefined ? {} : { 'content-type': ct })),
      want,
      String(ct),
    );
});
