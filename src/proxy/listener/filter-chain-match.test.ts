import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FilterChainConfig, HttpConnectionManagerConfig } from '../model/config.js';
import { selectFilterChain, type ConnectionFacts } from './filter-chain-match.js';

const hcm = { kind: 'http' } as HttpConnectionManagerConfig;
const chain = (name: string, match: Partial<FilterChainConfig> = {}): FilterChainConfig => ({
  name,
  filter: hcm,
  ...match,
});

const CHAINS: FilterChainConfig[] = [
  chain('shop', { serverNames: ['shop.example.com'], transportProtocol: 'tls' }),
  chain('wild', { serverNames: ['*.example.com'], transportProtocol: 'tls' }),
  chain('deep', { serverNames: ['*.api.example.com'], transportProtocol: 'tls' }),
  chain('any-tls', { transportProtocol: 'tls' }),
  chain('plain'),
];

test('filter chain match: exact SNI, then the longest wildcard, then chains without names; TLS vs plain', () => {
  const cases: [ConnectionFacts, string | undefined][] = [
    [{ transportProtocol: 'tls', serverName: 'shop.example.com' }, 'shop'],
    [{ transportProtocol: 'tls', serverName: 'cart.example.com' }, 'wild'],
    [{ transportProtocol: 'tls', serverName: 'a.b.example.com' }, 'wild'],
    [{ transportProtocol: 'tls', serverName: 'v1.api.example.com' }, 'deep'],
    [{ transportProtocol: 'tls', serverName: 'other.org' }, 'any-tls'],
    [{ transportProtocol: 'tls' }, 'any-tls'],
    [{ transportProtocol: 'raw_buffer' }, 'plain'],
    // Criteria narrow in order with no going back (Envoy): the SNI chain is not plain text.
    [{ transportProtocol: 'raw_buffer', serverName: 'shop.example.com' }, undefined],
  ];
  for (const [facts, want] of cases)
    assert.equal(selectFilterChain(CHAINS, facts)?.name, want, JSON.stringify(facts));
});

test('no chain left: the connection is closed (undefined)', () => {
  const tlsOnly = CHAINS.filter((c) => c.transportProtocol === 'tls' && c.serverNames !== undefined);
  assert.equal(selectFilterChain(tlsOnly, { transportProtocol: 'tls', serverName: 'other.org' }), undefined);
  assert.equal(selectFilterChain(tlsOnly, { transportProtocol: 'raw_buffer' }), undefined);
  assert.equal(
    selectFilterChain([chain('p', { destinationPort: 8443 }), chain('q')], {
      transportProtocol: 'tls',
      destinationPort: 8443,
    })?.name,
    'p',
  );
});

// Istio's inbound sidecar listener for a PERMISSIVE HTTP port: mTLS from sidecars (TLS with Istio's
// ALPN values), plain HTTP from workloads without a sidecar, and TLS the application itself speaks
// (passed through as TCP).
const ISTIO_HTTP_ALPN = ['istio-http/1.0', 'istio-http/1.1', 'istio-h2'];
const INBOUND: FilterChainConfig[] = [
  chain('mtls-http', {
    destinationPort: 9080,
    transportProtocol: 'tls',
    applicationProtocols: ISTIO_HTTP_ALPN,
  }),
  chain('mtls-tcp', {
    destinationPort: 9080,
    transportProtocol: 'tls',
    applicationProtocols: ['istio-peer-exchange', 'istio'],
  }),
  chain('plain-http', { destinationPort: 9080, transportProtocol: 'raw_buffer' }),
  chain('app-tls', { destinationPort: 9080, transportProtocol: 'tls' }),
];

test('application_protocols: the first offered ALPN value some chain lists, else chains without any', () => {
  const cases: [ConnectionFacts, string | undefined][] = [
    [
      { destinationPort: 9080, transportProtocol: 'tls', applicationProtocols: ['istio-http/1.1'] },
      'mtls-http',
    ],
    [
      { destinationPort: 9080, transportProtocol: 'tls', applicationProtocols: ['istio-h2', 'istio'] },
      'mtls-http',
    ],
    // Istio's clients offer istio-peer-exchange and istio (and h2): the first listed value decides.
    [
      {
        destinationPort: 9080,
        transportProtocol: 'tls',
        applicationProtocols: ['istio-peer-exchange', 'istio', 'h2'],
      },
      'mtls-tcp',
    ],
    [
      { destinationPort: 9080, transportProtocol: 'tls', applicationProtocols: ['h2', 'http/1.1'] },
      'app-tls',
    ],
    [{ destinationPort: 9080, transportProtocol: 'tls' }, 'app-tls'],
    [{ destinationPort: 9080, transportProtocol: 'raw_buffer' }, 'plain-http'],
    // A plain-text client cannot claim an ALPN value: ALPN only exists inside a ClientHello.
    [
      { destinationPort: 9080, transportProtocol: 'raw_buffer', applicationProtocols: ['istio'] },
      'plain-http',
    ],
  ];
  for (const [facts, want] of cases)
    assert.equal(selectFilterChain(INBOUND, facts)?.name, want, JSON.stringify(facts));
  // STRICT: no plain-text chain, so plain text finds nothing and is closed.
  const strict = INBOUND.filter((c) => c.transportProtocol === 'tls');
  assert.equal(
    selectFilterChain(strict, { destinationPort: 9080, transportProtocol: 'raw_buffer' }),
    undefined,
  );
});
