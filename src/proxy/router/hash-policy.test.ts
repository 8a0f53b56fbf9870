import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HashInput, HashResult } from '../policy/lb-hash-policy.js';
import { hashRequest, setCookieValue } from './hash-policy.js';

// Envoy's source/common/http/utility.cc makeSetCookieValue and its TestMakeSetCookieValue cases.
test('the Set-Cookie value of a generated cookie', () => {
  const cases: [NonNullable<HashResult['setCookie']>, string][] = [
    [{ name: 'sticky', value: 'abc', ttlMs: 0, attributes: [] }, 'sticky="abc"; HttpOnly'],
    [{ name: 'sticky', value: 'abc', ttlMs: 60_500, attributes: [] }, 'sticky="abc"; Max-Age=60; HttpOnly'],
    [{ name: 's', value: 'v', ttlMs: 999, attributes: [] }, 's="v"; HttpOnly'],
    [
      { name: 's', value: 'v', ttlMs: 1000, path: '/app', attributes: [] },
      's="v"; Max-Age=1; Path=/app; HttpOnly',
    ],
    [
      {
        name: 's',
        value: 'v',
        ttlMs: 0,
        attributes: [
          { name: 'SameSite', value: 'Lax' },
          { name: 'Secure', value: '' },
        ],
      },
      's="v"; SameSite=Lax; Secure; HttpOnly',
    ],
  ];
  for (const [cookie, want] of cases) assert.equal(setCookieValue(cookie), want);
});

test('the policy sees headers, the query string and the source address', () => {
  let seen: HashInput | undefined;
  const policy = (input: HashInput): HashResult => {
    seen = input;
    return { hash: 7n };
  };
  const r = hashRequest(policy, { 'x-user': 'u1' }, '/p?user=u2&x=1', '10.0.0.1');
  assert.equal(r.hash, 7n);
  assert.equal(r.setCookie, undefined);
  assert.equal(seen?.query?.get('user'), 'u2');
  assert.equal(seen?.sourceIp, '10.0.0.1');
  assert.equal(hashRequest(policy, {}, '/no-query', '').hash, 7n);
  assert.equal(seen?.query?.get('user'), null);
  assert.equal(seen?.query?.get('/no-query'), null, 'a path without ? has no query parameters');
  assert.deepEqual(hashRequest(undefined, {}, '/', ''), { hash: undefined, setCookie: undefined });
});
