import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalAddress, isLocalAddress } from './dynamic-forward-proxy.js';

test('canonicalAddress: one spelling per address, IPv4-mapped IPv6 as IPv4', () => {
  const cases: [string, string][] = [
    ['127.0.0.1', '127.0.0.1'],
    ['10.1.2.3', '10.1.2.3'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['::ffff:7f00:1', '127.0.0.1'],
    ['0:0:0:0:0:ffff:7f00:0001', '127.0.0.1'],
    ['::FFFF:A01:203', '10.1.2.3'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['2001:DB8::1', '2001:db8::1'],
    ['example.com', 'example.com'],
  ];
  for (const [input, expected] of cases) assert.equal(canonicalAddress(input), expected, input);
});

test('isLocalAddress: loopback, this-network and unspecified addresses are this host; others are not', () => {
  for (const a of ['127.0.0.1', '127.9.9.9', '0.0.0.0', '0.1.2.3', '::1', '::'])
    assert.equal(isLocalAddress(a), true, a);
  for (const a of ['8.8.8.8', '2001:db8::1', '128.0.0.1', '203.0.113.7'])
    assert.equal(isLocalAddress(a), false, a);
});
