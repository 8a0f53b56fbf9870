import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StreamInfo } from '../connection-manager/stream-info.js';
import type { ResponseFlag } from '../connection-manager/response-flags.js';
import { compileAccessLogFilter } from './access-log-filter.js';

function info(extra: Partial<StreamInfo> = {}, flags: ResponseFlag[] = []): StreamInfo {
  return {
    startWallMs: Date.UTC(2026, 0, 1),
    startMs: 0,
    reporter: 'destination',
    method: 'GET',
    path: '/reviews/1?x=1',
    authority: 'reviews:9080',
    protocol: 'HTTP/1.1',
    requestId: 'abc',
    requestHeaders: { 'x-user': 'jason', 'user-agent': 'curl' },
    userAgent: 'curl',
    forwardedFor: '',
    downstreamRemote: '10.0.0.7:51234',
    status: 200,
    flags: new Set(flags),
    bytesReceived: 10,
    bytesSent: 2048,
    durationMs: 12,
    attempts: 1,
    upstreamHost: '10.0.0.1:8080',
    upstreamCluster: 'inbound|9080||',
    ...extra,
  };
}

// [expression, stream, logged?]
const CASES: [string, StreamInfo, boolean][] = [
  ['response.code >= 400', info(), false],
  ['response.code >= 400', info({ status: 503 }), true],
  ['response.code == 200', info(), true],
  ["request.method == 'GET' && request.url_path == '/reviews/1'", info(), true],
  ["request.path.startsWith('/ratings')", info(), false],
  ["request.headers['x-user'] == 'jason'", info(), true],
  ["'x-missing' in request.headers", info(), false],
  ["request.host == 'reviews:9080'", info(), true],
  ['response.duration > duration("10ms")', info(), true],
  ['response.duration > duration("1s")', info(), false],
  ['request.duration < duration("1s")', info(), true],
  // Envoy's response flag bits: NR is 0x100, UH 0x2.
  ['response.flags == 0', info(), true],
  ['response.flags == 256', info({ status: 404 }, ['NR']), true],
  ['response.flags != 0', info({ status: 503 }, ['UH']), true],
  ['response.size > 1024', info(), true],
  ['connection.mtls', info(), false],
  [
    'connection.mtls',
    info({
      downstreamSecurity: { policy: 'mutual_tls', peerUriSan: 'spiffe://cluster.local/ns/default/sa/a' },
    }),
    true,
  ],
  ["upstream.address == '10.0.0.1' && upstream.port == 8080", info(), true],
  ["source.address == '10.0.0.7'", info(), true],
  ["xds.cluster_name.startsWith('inbound')", info(), true],
  // Not a bool: nothing logged.
  ['response.code', info(), false],
];

test('CEL access log filters over Envoy attributes', () => {
  for (const [expr, stream, want] of CASES) {
    assert.equal(compileAccessLogFilter(expr).matches(stream), want, expr);
  }
});

test('an expression that fails to evaluate logs nothing and counts an error, never throws', () => {
  const f = compileAccessLogFilter('request.nothing.here == 1');
  assert.equal(f.matches(info()), false);
  assert.equal(f.matches(info()), false);
  assert.equal(f.errors, 2);
  const typed = compileAccessLogFilter("response.code == 'x'");
  assert.equal(typed.matches(info()), false);
});

test('an expression that is not CEL does not compile', () => {
  assert.throws(() => compileAccessLogFilter('response.code >='), /Unexpected token/);
});
