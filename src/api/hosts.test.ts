import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fqdn, hostMatches, hostsOverlap, isIPAddress, portProtocol } from './hosts.js';

test('fqdn expands short names the way Istio does', () => {
  const cases: [host: string, ns: string, want: string][] = [
    ['reviews', 'default', 'reviews.default.svc.cluster.local'],
    ['reviews', 'prod', 'reviews.prod.svc.cluster.local'],
    // Names with a dot are taken as written (Istio cannot tell `a.b` from `httpbin.org`).
    ['reviews.prod', 'default', 'reviews.prod'],
    ['httpbin.org', 'default', 'httpbin.org'],
    ['reviews.prod.svc.cluster.local', 'default', 'reviews.prod.svc.cluster.local'],
    ['*', 'default', '*'],
    ['*.example.com', 'default', '*.example.com'],
    ['10.0.0.1', 'default', '10.0.0.1'],
    ['::1', 'default', '::1'],
    ['', 'default', ''],
  ];
  for (const [host, ns, want] of cases) {
    assert.equal(fqdn(host, ns), want, `${host} in ${ns}`);
  }
  assert.equal(fqdn('reviews', 'default', 'mesh.internal'), 'reviews.default.svc.mesh.internal');
});

test('hostMatches follows Istio wildcard rules', () => {
  const cases: [pattern: string, host: string, want: boolean][] = [
    ['*', 'anything.example.com', true],
    ['*', '*.example.com', true],
    ['*.example.com', 'a.example.com', true],
    ['*.example.com', 'a.b.example.com', true],
    ['*.example.com', 'example.com', false],
    ['*.example.com', 'a.example.org', false],
    ['*.example.com', '*.b.example.com', true],
    ['*.b.example.com', '*.example.com', false],
    ['a.example.com', '*.example.com', false],
    ['reviews.default.svc.cluster.local', 'reviews.default.svc.cluster.local', true],
    ['Reviews.Default.svc.cluster.local', 'reviews.default.svc.cluster.local', true],
    ['reviews.default.svc.cluster.local', 'ratings.default.svc.cluster.local', false],
  ];
  for (const [pattern, host, want] of cases) {
    assert.equal(hostMatches(pattern, host), want, `${pattern} ~ ${host}`);
  }
  assert.equal(hostsOverlap('a.example.com', '*.example.com'), true);
  assert.equal(hostsOverlap('*.b.example.com', '*.example.com'), true);
  assert.equal(hostsOverlap('a.example.org', '*.example.com'), false);
});

test('portProtocol takes the explicit protocol, then the port-name prefix', () => {
  const cases: [name: string | undefined, protocol: string | undefined, want: string][] = [
    ['http-web', undefined, 'HTTP'],
    ['http', undefined, 'HTTP'],
    ['http2-api', undefined, 'HTTP2'],
    ['grpc-api', undefined, 'GRPC'],
    ['grpc-web', undefined, 'GRPC'],
    ['tcp-db', undefined, 'TCP'],
    ['tls-passthrough', undefined, 'TLS'],
    ['https', undefined, 'HTTPS'],
    ['mongo-main', undefined, 'MONGO'],
    ['redis', undefined, 'REDIS'],
    ['web', undefined, 'UNSUPPORTED'],
    ['httpx', undefined, 'UNSUPPORTED'],
    [undefined, undefined, 'UNSUPPORTED'],
    ['tcp-db', 'HTTP', 'HTTP'],
    [undefined, 'grpc-web', 'GRPC-WEB'],
    ['x', 'GRPC', 'GRPC'],
    ['http-web', 'bogus', 'HTTP'],
    [undefined, 'kubernetes.io/h2c', 'HTTP2'],
  ];
  for (const [name, protocol, want] of cases) {
    assert.equal(portProtocol(name, protocol), want, `${name} / ${protocol}`);
  }
});

test('isIPAddress recognises v4 and v6 literals only', () => {
  const cases: [string, boolean][] = [
    ['10.0.0.1', true],
    ['256.0.0.1', false],
    ['1.2.3', false],
    ['::1', true],
    ['2001:db8::8a2e:370:7334', true],
    ['::ffff:10.0.0.1', true],
    ['1::2::3', false],
    ['reviews', false],
    ['a:b:c', false],
  ];
  for (const [text, want] of cases) assert.equal(isIPAddress(text), want, text);
});
