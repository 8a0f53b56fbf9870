import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PathNormalization } from '../model/config.js';
import { NO_NORMALIZATION, normalizeRequestPath, removeDotSegments } from './path-normalization.js';

const BASE: PathNormalization = { normalize: true, mergeSlashes: false, escapedSlashes: 'KEEP_UNCHANGED' };
const MERGE: PathNormalization = { ...BASE, mergeSlashes: true };
const DECODE_MERGE: PathNormalization = { ...MERGE, escapedSlashes: 'UNESCAPE_AND_FORWARD' };

test('BASE (Istio default): dot segments and encoded unreserved characters, query untouched', () => {
  const cases: [string, string][] = [
    ['/public/../admin', '/admin'],
    ['/public/%2e%2e/admin', '/admin'],
    ['/public/%2E%2E/admin', '/admin'],
    ['/public/.%2e/admin', '/admin'],
    ['/public/./a', '/public/a'],
    ['/../../etc/passwd', '/etc/passwd'],
    ['/a/b/..', '/a/'],
    ['/a/b/.', '/a/b/'],
    ['/a/..', '/'],
    ['/%41%7e%5F', '/A~_'],
    ['/a%2fb', '/a%2Fb'],
    ['/a%3fb', '/a%3Fb'],
    ['/a\\..\\admin', '/admin'],
    ['/public/x?p=/../admin', '/public/x?p=/../admin'],
    ['/a//b', '/a//b'],
    ['/public#frag', '/public'],
    ['/public/..#/../x', '/'],
    ['*', '*'],
  ];
  for (const [input, want] of cases)
    assert.deepEqual(normalizeRequestPath(input, BASE), { kind: 'ok', path: want }, input);
});

test('NONE: the path is forwarded as sent, but fragments go and invalid bytes are refused', () => {
  assert.deepEqual(normalizeRequestPath('/public/../admin', NO_NORMALIZATION), {
    kind: 'ok',
    path: '/public/../admin',
  });
  assert.deepEqual(normalizeRequestPath('/p#x', NO_NORMALIZATION), { kind: 'ok', path: '/p' });
  for (const bad of ['/a b', '/a\u00e9', '/a\x7f', '/a\x01', '/\u00ff'])
    assert.equal(normalizeRequestPath(bad, NO_NORMALIZATION).kind, 'reject', JSON.stringify(bad));
});

test('malformed percent-encoding is refused when normalizing', () => {
  for (const bad of ['/a%zz', '/a%2', '/a%', '/%g0'])
    assert.equal(normalizeRequestPath(bad, BASE).kind, 'reject', bad);
});

test('MERGE_SLASHES and DECODE_AND_MERGE_SLASHES', () => {
  assert.deepEqual(normalizeRequestPath('//public///x', MERGE), { kind: 'ok', path: '/public/x' });
  assert.deepEqual(normalizeRequestPath('/public%2F..%2Fadmin', MERGE), {
    kind: 'ok',
    path: '/public%2F..%2Fadmin',
  });
  assert.deepEqual(normalizeRequestPath('/public%2F..%2Fadmin', DECODE_MERGE), {
    kind: 'ok',
    path: '/admin',
  });
  assert.deepEqual(normalizeRequestPath('/a%2f%2fb', DECODE_MERGE), { kind: 'ok', path: '/a/b' });
  assert.deepEqual(normalizeRequestPath('/a%5c..%5cadmin', DECODE_MERGE), { kind: 'ok', path: '/admin' });
});

test('escaped slash actions: reject and redirect', () => {
  assert.equal(normalizeRequestPath('/a%2Fb', { ...BASE, escapedSlashes: 'REJECT_REQUEST' }).kind, 'reject');
  assert.deepEqual(normalizeRequestPath('/a%2Fb?x=1', { ...BASE, escapedSlashes: 'UNESCAPE_AND_REDIRECT' }), {
    kind: 'redirect',
    path: '/a/b?x=1',
  });
  assert.deepEqual(normalizeRequestPath('/a/b', { ...BASE, escapedSlashes: 'UNESCAPE_AND_REDIRECT' }), {
    kind: 'ok',
    path: '/a/b',
  });
});

test('removeDotSegments follows RFC 3986 5.2.4 examples', () => {
  assert.equal(removeDotSegments('/a/b/c/./../../g'), '/a/g');
  assert.equal(removeDotSegments('/mid/content=5/../6'), '/mid/6');
  assert.equal(removeDotSegments('/..'), '/');
  assert.equal(removeDotSegments('/.'), '/');
  assert.equal(removeDotSegments('/a/.../b'), '/a/.../b');
});
