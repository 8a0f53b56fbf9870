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
