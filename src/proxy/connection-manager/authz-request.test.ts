import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpRbacRequest, trustedClientAddress } from './authz-request.js';
import { compileRbac } from '../policy/rbac.js';

test("remote_ip follows Envoy's x-forwarded-for trust rules; direct_remote_ip is always the peer", () => {
  const peer = '10.0.0.9';
  const cases: [string, string | string[] | undefined, boolean, number, string][] = [
    ['no XFF', undefined, false, 0, peer],
    ['use_remote_address, no trusted hops: the peer, whatever XFF says', '1.2.3.4', true, 0, peer],
    [
      'sidecar default (use_remote_address false): the last XFF address',
      '1.2.3.4, 5.6.7.8',
      false,
      0,
      '5.6.7.8',
    ],
    [
      'one trusted hop without use_remote_address: the second from the right',
      '1.2.3.4, 5.6.7.8',
      false,
      1,
      '1.2.3.4',
    ],
    [
      'one trusted hop with use_remote_address: the first from the right',
      '1.2.3.4, 5.6.7.8',
      true,
      1,
      '5.6.7.8',
    ],
    ['too few addresses: the peer', '5.6.7.8', false, 1, peer],
    ['not an IP: the peer', 'evil, not-an-ip', false, 0, peer],
    ['several XFF headers count as one list', ['1.2.3.4', '5.6.7.8'], false, 1, '1.2.3.4'],
    ['IPv6', '2001:db8::1', false, 0, '2001:db8::1'],
  ];
  for (const [what, xff, useRemoteAddress, xffNumTrustedHops, want] of cases)
    assert.equal(trustedClientAddress(peer, xff, { useRemoteAddress, xffNumTrustedHops }), want, what);
  assert.equal(trustedClientAddress(peer, '1.2.3.4', undefined), '1.2.3.4', 'no policy: Envoy defaults');
});

test('the RBAC view of a request: path without query, principal only over mTLS, SNI', () => {
  const base = {
    headers: { ':path': '/a?b=1', 'x-forwarded-for': '203.0.113.1' },
    path: '/a?b=1#frag',
    peer: '10.0.0.1',
    localPort: 9080,
    localAddress: '::ffff:10.1.2.3',
    metadata: {},
    clientAddress: { useRemoteAddress: true, xffNumTrustedHops: 0 },
  };
  const plain = httpRbacRequest(base);
  assert.equal(plain.destinationIp, '10.1.2.3', 'the IPv4-mapped local address as IPv4');
  assert.equal(plain.path, '/a');
  assert.equal(plain.remoteIp, '10.0.0.1');
  assert.equal(plain.destinationPort, 9080);
  assert.equal(plain.principal, undefined);
  const tls = httpRbacRequest({
    ...base,
    security: { policy: 'none', peerPrincipal: 'spiffe://cluster.local/ns/a/sa/b', sni: 'x' },
  });
  // A certificate that was not verified as a client certificate is no identity.
  assert.equal(tls.principal, undefined);
  assert.equal(tls.sni, 'x');
  const mtls = httpRbacRequest({
    ...base,
    security: { policy: 'mutual_tls', peerPrincipal: 'spiffe://cluster.local/ns/a/sa/b' },
  });
  assert.equal(mtls.principal, 'spiffe://cluster.local/ns/a/sa/b');
  const onlyB = compileRbac({
    action: 'ALLOW',
    policies: {
      p: {
        permissions: [{ any: true }],
        principals: [{ authenticated: { principal_name: { exact: 'spiffe://cluster.local/ns/a/sa/b' } } }],
      },
    },
  });
  assert.equal(onlyB.decide(mtls).allowed, true);
  assert.equal(onlyB.decide(plain).allowed, false);
  // A client cannot claim an identity with a header.
  const forged = httpRbacRequest({
    ...base,
    headers: { ...base.headers, 'x-forwarded-client-cert': 'URI=spiffe://cluster.local/ns/a/sa/b' },
  });
  assert.equal(onlyB.decide(forged).allowed, false);
});
