import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ForwardClientCert } from '../model/config.js';
import type { ConnectionSecurity, OutHeaders } from './downstream.js';
import { applyForwardClientCert } from './forward-client-cert.js';

const MTLS: ConnectionSecurity = {
  policy: 'mutual_tls',
  peerPrincipal: 'spiffe://cluster.local/ns/default/sa/productpage',
  peerUriSan: 'spiffe://cluster.local/ns/default/sa/productpage',
  localUriSan: 'spiffe://cluster.local/ns/default/sa/reviews',
  peerCertificateHash: 'ab12',
  peerSubject: 'CN=pp,O="x"',
  peerDnsSans: ['pp.local'],
};
const TLS_NO_CLIENT_CERT: ConnectionSecurity = { policy: 'none', localUriSan: MTLS.localUriSan };
const FORGED =
  'By=spiffe://cluster.local/ns/default/sa/reviews;URI=spiffe://cluster.local/ns/istio-system/sa/admin';
const cfg = (mode: ForwardClientCert['mode'], d: Partial<ForwardClientCert> = {}): ForwardClientCert => ({
  mode,
  subject: false,
  uri: false,
  dns: false,
  ...d,
});
const SELF = 'By=spiffe://cluster.local/ns/default/sa/reviews;Hash=ab12';
const FULL = `${SELF};Subject="CN=pp,O=\\"x\\"";URI=spiffe://cluster.local/ns/default/sa/productpage;DNS=pp.local`;

test('XFCC: a header a client wrote never survives unless mTLS and the mode says so (ALWAYS_FORWARD_ONLY aside)', () => {
  const all = { subject: true, uri: true, dns: true };
  const cases: [string, ConnectionSecurity | undefined, ForwardClientCert | undefined, string | undefined][] =
    [
      ['default is SANITIZE, even on mTLS', MTLS, undefined, undefined],
      ['plain text, SANITIZE_SET', undefined, cfg('SANITIZE_SET', all), undefined],
      ['plain text, APPEND_FORWARD', undefined, cfg('APPEND_FORWARD', all), undefined],
      ['plain text, FORWARD_ONLY', undefined, cfg('FORWARD_ONLY'), undefined],
      [
        'TLS without a client certificate, APPEND_FORWARD',
        TLS_NO_CLIENT_CERT,
        cfg('APPEND_FORWARD', all),
        undefined,
      ],
      ['plain text, ALWAYS_FORWARD_ONLY', undefined, cfg('ALWAYS_FORWARD_ONLY'), FORGED],
      ['mTLS, FORWARD_ONLY', MTLS, cfg('FORWARD_ONLY'), FORGED],
      ['mTLS, SANITIZE_SET replaces', MTLS, cfg('SANITIZE_SET', all), FULL],
      [
        'mTLS, APPEND_FORWARD appends',
        MTLS,
        cfg('APPEND_FORWARD', { uri: true }),
        `${FORGED},${SELF};URI=spiffe://cluster.local/ns/default/sa/productpage`,
      ],
      ['mTLS, SANITIZE_SET with no details: By and Hash', MTLS, cfg('SANITIZE_SET'), SELF],
    ];
  for (const [what, sec, config, want] of cases) {
    const headers: OutHeaders = { 'x-forwarded-client-cert': FORGED, other: 'kept' };
    applyForwardClientCert(headers, sec, config);
    assert.equal(headers['x-forwarded-client-cert'], want, what);
    assert.equal(headers.other, 'kept');
  }
  // APPEND_FORWARD without an incoming header: just this hop.
  const headers: OutHeaders = {};
  applyForwardClientCert(headers, MTLS, cfg('APPEND_FORWARD'));
  assert.equal(headers['x-forwarded-client-cert'], SELF);
});
