import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTrellisError } from '../../core/errors.js';
import { compileHashPolicies, cookieValue } from './lb-hash-policy.js';
import { xxHash64, xxHash64Many } from './xxhash64.js';

const rotl1 = (h: bigint) => ((h << 1n) | (h >> 63n)) & ((1n << 64n) - 1n);

test('hash policies: each kind hashes its value with xxHash64', () => {
  const headers = { 'x-user': 'jason', cookie: 'a=1; session="s-42"', 'x-multi': ['b', 'a'] };
  const query = new URLSearchParams('tenant=t1');
  const cases: [Parameters<typeof compileHashPolicies>[0], bigint | undefined][] = [
    [[{ header: { header_name: 'X-User' } }], xxHash64('jason')],
    [[{ header: { header_name: 'x-multi' } }], xxHash64Many(['a', 'b'])],
    [[{ cookie: { name: 'session' } }], xxHash64('s-42')],
    [[{ connection_properties: { source_ip: true } }], xxHash64('192.0.2.7')],
    [[{ query_parameter: { name: 'tenant' } }], xxHash64('t1')],
    [[{ header: { header_name: 'absent' } }], undefined],
    [
      [
        {
          header: {
            header_name: 'x-user',
            regex_rewrite: { pattern: { regex: '^j(.*)$' }, substitution: 'J\\1' },
          },
        },
      ],
      xxHash64('Jason'),
    ],
  ];
  for (const [policies, want] of cases) {
    const r = compileHashPolicies(policies, 'hash_policy')({ headers, query, sourceIp: '192.0.2.7' });
    assert.equal(r.hash, want, JSON.stringify(policies));
  }
});

test('hash policies combine, and terminal stops once a hash exists', () => {
  const input = { headers: { 'x-a': 'A', 'x-b': 'B' } };
  const both = compileHashPolicies(
    [{ header: { header_name: 'x-a' } }, { header: { header_name: 'x-b' } }],
    'h',
  );
  assert.equal(both(input).hash, rotl1(xxHash64('A')) ^ xxHash64('B'));
  const terminal = compileHashPolicies(
    [{ header: { header_name: 'x-a' }, terminal: true }, { header: { header_name: 'x-b' } }],
    'h',
  );
  assert.equal(terminal(input).hash, xxHash64('A'));
  // A terminal policy that finds nothing lets the walk go on.
  const missThenHit = compileHashPolicies(
    [{ header: { header_name: 'x-none' }, terminal: true }, { header: { header_name: 'x-b' } }],
    'h',
  );
  assert.equal(missThenHit(input).hash, xxHash64('B'));
  assert.deepEqual(compileHashPolicies([], 'h')(input), {});
});

test('cookie policy with ttl generates a cookie when absent', () => {
  const p = compileHashPolicies([{ cookie: { name: 'sticky', ttl: { seconds: 60 }, path: '/' } }], 'h');
  const r = p({ headers: {}, sourceIp: '198.51.100.1' });
  assert.ok(r.setCookie);
  assert.equal(r.setCookie.name, 'sticky');
  assert.equal(r.setCookie.ttlMs, 60_000);
  assert.equal(r.setCookie.path, '/');
  assert.equal(r.hash, xxHash64(r.setCookie.value));
  // The next request carries the cookie and lands on the same hash.
  assert.equal(p({ headers: { cookie: `sticky=${r.setCookie.value}` } }).hash, r.hash);
  // Without ttl nothing is generated.
  assert.deepEqual(
    compileHashPolicies([{ cookie: { name: 'sticky' } }], 'h')({ headers: {}, sourceIp: '1.1.1.1' }),
    {},
  );
});

test('cookieValue parses several cookie headers', () => {
  assert.equal(cookieValue({ cookie: ['a=1', 'b=2; c=3'] }, 'c'), '3');
  assert.equal(cookieValue({ cookie: 'a=1' }, 'b'), undefined);
});

test('hash policy errors carry paths', () => {
  const bad: [Parameters<typeof compileHashPolicies>[0], string][] = [
    [[{ header: { header_name: '' } }], 'route.hash_policy[0].header.header_name'],
    [[{ terminal: true }], 'route.hash_policy[0]'],
    [[{ cookie: { name: 'x' } }, { filter_state: { key: 'k' } }], 'route.hash_policy[1].filter_state'],
  ];
  for (const [config, path] of bad) {
    assert.throws(
      () => compileHashPolicies(config, 'route.hash_policy'),
      (e: unknown) => isTrellisError(e) && e.path === path,
    );
  }
});
