import { test } from 'node:test';
import assert from 'node:assert/strict';
import { xxHash64, xxHash64Many } from './xxhash64.js';

// Reference values from the xxHash reference implementation (XXH64), covering every code
// path: empty, the tail loops, exactly one 32-byte stripe, several stripes, UTF-8 and a seed.
test('xxHash64 matches the reference implementation', () => {
  const cases: [string, bigint, bigint][] = [
    ['', 0n, 0xef46db3751d8e999n],
    ['a', 0n, 0xd24ec4f1a98c6e5bn],
    ['abc', 0n, 0x44bc2cf5ad770999n],
    ['10.0.0.1:8080_0', 0n, 0x23a29ae775dfd4a3n],
    ['x'.repeat(31), 0n, 0x60dd0d01083b99f0n],
    ['y'.repeat(32), 0n, 0x64da1f1d3495ce66n],
    ['The quick brown fox jumps over the lazy dog, again and again!', 0n, 0x7df332986bb20e35n],
    ['héllo', 0n, 0x3bd06310388ebbe4n],
    ['', 1n, 0xd5afba1336a3be4bn],
    ['abc', 1n, 0xbea9ca8199328908n],
  ];
  for (const [input, seed, want] of cases) assert.equal(xxHash64(input, seed), want, JSON.stringify(input));
});

test('xxHash64Many chains each result in as the next seed', () => {
  assert.equal(xxHash64Many(['a', 'abc']), xxHash64('abc', xxHash64('a')));
  assert.equal(xxHash64Many([]), 0n);
});
