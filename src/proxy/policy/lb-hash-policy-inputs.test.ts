// How each hash policy reads its input, and when it yields no hash, as Envoy's
// router/hash_policy: cookie parsing (Http::Utility::parseCookieValue strips one pair of
// surrounding quotes), header regex_rewrite (every match replaced, \N groups), generated
// cookies, absent inputs, and folding several policies when some find nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTrellisError } from '../../core/errors.js';
import { compileHashPolicies, cookieValue, type HashPolicyConfig } from './lb-hash-policy.js';
import { xxHash64 } from './xxhash64.js';

const hashOf = (configs: HashPolicyConfig[], input: Parameters<ReturnType<typeof compileHashPolicies>>[0]) =>
  compileHashPolicies(configs, 'hash_policy')(input);

test('cookie parsing: one-letter names, flag cookies, and quotes only when they enclose the value', () => {
  assert.equal(cookieValue({ cookie: 'a=1' }, 'a'), '1');
  // `fox` has no `=`: it is not a cookie named `fo`.
  assert.equal(cookieValue({ cookie: 'fox; fo=2' }, 'fo'), '2');
  assert.equal(cookieValue({ cookie: 'fox' }, 'fo'), undefined);
  assert.equal(cookieValue({ cookie: 's="v"' }, 's'), 'v');
  assert.equal(cookieValue({ cookie: 's="v' }, 's'), '"v');
  assert.equal(cookieValue({ cookie: 's=v"' }, 's'), 'v"');
  assert.equal(cookieValue({ cookie: 's="' }, 's'), '"');
  assert.equal(cookieValue({ cookie: 's=""' }, 's'), '');
  assert.equal(cookieValue({ cookie: ['x=1', 'y=2'] }, 'y'), '2');
  assert.equal(cookieValue({}, 'y'), undefined);
});

test('a header regex_rewrite replaces every match, and a literal $ in the substitution stays literal', () => {
  const rewrite = (regex: string, substitution: string, value: string) =>
    hashOf([{ header: { header_name: 'x-id', regex_rewrite: { pattern: { regex }, substitution } } }], {
      headers: { 'x-id': value },
    }).hash;
  assert.equal(rewrite('-', '', 'a-b-c'), xxHash64('abc'));
  assert.equal(rewrite('^(\\w+)-\\d+$', '\\1$', 'abc-123'), xxHash64('abc$'));
  // No substitution: the matches are removed.
  const removed = hashOf([{ header: { header_name: 'x-id', regex_rewrite: { pattern: { regex: '-' } } } }], {
    headers: { 'x-id': 'a-b' },
  }).hash;
  assert.equal(removed, xxHash64('ab'));
});

test('a single header value hashes as itself', () => {
  assert.equal(
    hashOf([{ header: { header_name: 'x-user' } }], { headers: { 'x-user': 'jo' } }).hash,
    xxHash64('jo'),
  );
  assert.equal(
    hashOf([{ header: { header_name: 'x-user' } }], { headers: { 'x-user': ['jo'] } }).hash,
    xxHash64('jo'),
  );
});

test('empty names and an empty or invalid rewrite regex are rejected', () => {
  const bad = (c: HashPolicyConfig) => assert.throws(() => compileHashPolicies([c], 'p'), isTrellisError);
  bad({ header: { header_name: '' } });
  bad({ header: {} });
  bad({ header: { header_name: 'x', regex_rewrite: { pattern: { regex: '' }, substitution: 'y' } } });
  bad({ header: { header_name: 'x', regex_rewrite: { pattern: {}, substitution: 'y' } } });
  bad({ header: { header_name: 'x', regex_rewrite: { pattern: null, substitution: 'y' } } });
  bad({ header: { header_name: 'x', regex_rewrite: { pattern: { regex: '(' }, substitution: 'y' } } });
  bad({ cookie: { name: '' } });
  bad({ cookie: {} });
  bad({ query_parameter: { name: '' } });
  bad({ query_parameter: {} });
  bad({ filter_state: { key: 'k' } });
  bad({});
});

test('a cookie with a ttl is generated from the client address, 16 hex digits, with its attributes', () => {
  // An address whose hash starts with a zero digit, so padding shows.
  let ip = '';
  for (let i = 0; i < 4096 && ip === ''; i++) {
    const candidate = `10.0.${i >> 8}.${i & 255}`;
    if (xxHash64(candidate).toString(16).length < 16) ip = candidate;
  }
  assert.notEqual(ip, '');
  const out = hashOf(
    [
      {
        cookie: {
          name: 'sticky',
          ttl: { seconds: 60 },
          path: '/a',
          attributes: [{ name: 'SameSite', value: 'Lax' }, { name: 'Secure' }],
        },
      },
    ],
    { headers: {}, sourceIp: ip },
  );
  assert.match(out.setCookie!.value, /^[0-9a-f]{16}$/);
  assert.equal(out.hash, xxHash64(out.setCookie!.value));
  assert.deepEqual(out.setCookie, {
    name: 'sticky',
    value: out.setCookie!.value,
    ttlMs: 60_000,
    path: '/a',
    attributes: [
      { name: 'SameSite', value: 'Lax' },
      { name: 'Secure', value: '' },
    ],
  });
});

test('a generated cookie without attributes has none', () => {
  const out = hashOf([{ cookie: { name: 'sticky', ttl: { seconds: 0 } } }], {
    headers: {},
    sourceIp: '10.0.0.1',
  });
  assert.deepEqual(out.setCookie?.attributes, []);
  assert.equal(out.setCookie?.ttlMs, 0);
  assert.equal('path' in out.setCookie, false);
});

test('no hash policies: no hash', () => {
  assert.deepEqual(compileHashPolicies(undefined, 'p')({ headers: { cookie: 'a=1' } }), {});
  assert.deepEqual(compileHashPolicies(null, 'p')({ headers: {} }), {});
});

test('no cookie is generated without a ttl or without a client address', () => {
  for (const ttl of [undefined, null]) {
    const out = hashOf([{ cookie: { name: 'sticky', ttl } }], { headers: {}, sourceIp: '10.0.0.1' });
    assert.deepEqual(out, {}, String(ttl));
  }
  assert.deepEqual(hashOf([{ cookie: { name: 'sticky', ttl: { seconds: 1 } } }], { headers: {} }), {});
  // An existing cookie is used as is and nothing is set.
  const present = hashOf([{ cookie: { name: 'sticky', ttl: { seconds: 1 } } }], {
    headers: { cookie: 'sticky=abc' },
    sourceIp: '10.0.0.1',
  });
  assert.deepEqual(present, { hash: xxHash64('abc') });
});

test('source-ip and query-parameter policies yield no hash when their input is missing', () => {
  assert.deepEqual(
    hashOf([{ connection_properties: { source_ip: false } }], { headers: {}, sourceIp: '10.0.0.1' }),
    {},
  );
  assert.deepEqual(hashOf([{ connection_properties: { source_ip: true } }], { headers: {} }), {});
  assert.deepEqual(hashOf([{ query_parameter: { name: 'q' } }], { headers: {} }), {});
  assert.deepEqual(
    hashOf([{ query_parameter: { name: 'q' } }], { headers: {}, query: new URLSearchParams('p=1') }),
    {},
  );
  assert.deepEqual(
    hashOf([{ query_parameter: { name: 'q' } }], { headers: {}, query: new URLSearchParams('q=') }),
    {
      hash: xxHash64(''),
    },
  );
});

test('a policy that finds nothing leaves the running hash as it was', () => {
  const out = hashOf([{ header: { header_name: 'x-a' } }, { header: { header_name: 'x-missing' } }], {
    headers: { 'x-a': 'v' },
  });
  assert.equal(out.hash, xxHash64('v'));
});
