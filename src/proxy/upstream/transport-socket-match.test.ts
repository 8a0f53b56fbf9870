import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TransportSocketMatch, UpstreamTlsConfig } from '../model/config.js';
import { upstreamTlsFor } from './transport-socket-match.js';

const tls = (key: string): UpstreamTlsConfig => ({ key, alpn: [] });
const ISTIO = tls('istio-mtls');
const DEFAULT = tls('cluster-default');

// Istio's auto mTLS cluster: mTLS to endpoints labelled tlsMode=istio, plain text to the rest.
const AUTO: TransportSocketMatch[] = [
  { name: 'tlsMode-istio', match: { tlsMode: 'istio' }, tls: ISTIO },
  { name: 'tlsMode-disabled', match: {} },
];

test('transport socket matches: first match wins, empty match takes all, else the cluster socket', () => {
  const cases: [
    string,
    { transportSocketMatches?: TransportSocketMatch[]; tls?: UpstreamTlsConfig },
    Record<string, unknown> | undefined,
    string | undefined,
  ][] = [
    ['istio endpoint gets mTLS', { transportSocketMatches: AUTO }, { tlsMode: 'istio' }, 'istio-mtls'],
    ['endpoint without metadata gets plain text', { transportSocketMatches: AUTO }, undefined, undefined],
    ['other tlsMode gets plain text', { transportSocketMatches: AUTO }, { tlsMode: 'disabled' }, undefined],
    // Values compare exactly: no case folding, no type coercion.
    ['case matters', { transportSocketMatches: AUTO }, { tlsMode: 'ISTIO' }, undefined],
    [
      'no match falls back to the cluster socket',
      { transportSocketMatches: [AUTO[0]!], tls: DEFAULT },
      {},
      'cluster-default',
    ],
    [
      'all match fields are needed',
      { transportSocketMatches: [{ name: 'x', match: { a: '1', b: true }, tls: ISTIO }], tls: DEFAULT },
      { a: '1' },
      'cluster-default',
    ],
    [
      'extra metadata is fine',
      { transportSocketMatches: [{ name: 'x', match: { a: '1' }, tls: ISTIO }] },
      { a: '1', b: 2 },
      'istio-mtls',
    ],
    [
      'number vs string do not match',
      { transportSocketMatches: [{ name: 'x', match: { n: 1 }, tls: ISTIO }] },
      { n: '1' },
      undefined,
    ],
    ['no matches: the cluster socket', { tls: DEFAULT }, { tlsMode: 'istio' }, 'cluster-default'],
    ['nothing at all: plain text', {}, undefined, undefined],
  ];
  for (const [what, cluster, metadata, want] of cases) {
    const endpoint = metadata === undefined ? {} : { transportSocketMatch: metadata };
    assert.equal(upstreamTlsFor(cluster, endpoint)?.key, want, what);
  }
});
