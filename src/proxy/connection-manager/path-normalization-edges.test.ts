// Edges of request path normalization: the pass-through default, the exact set of RFC 3986
// unreserved characters that normalize_path decodes (ALPHA / DIGIT / "-" / "." / "_" / "~",
// section 2.3) against their neighbours, and targets that are not origin-form.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PathNormalization } from '../model/config.js';
import { NO_NORMALIZATION, normalizeRequestPath } from './path-normalization.js';

const BASE: PathNormalization = { normalize: true, mergeSlashes: false, escapedSlashes: 'KEEP_UNCHANGED' };

test('NO_NORMALIZATION passes the path through: no decoding, no dot segments, no slash merging', () => {
  for (const path of ['/a%2Fb', '/a%5Cb', '/a/../b', '/a//b', '/%41']) {
    assert.deepEqual(normalizeRequestPath(path, NO_NORMALIZATION), { kind: 'ok', path }, path);
  }
  assert.ok(Object.isFrozen(NO_NORMALIZATION));
});

test('normalize_path decodes exactly the unreserved characters, boundaries included', () => {
  assert.deepEqual(normalizeRequestPath('/%41%5A%61%7A%30%39%2D%2E%5F%7E', BASE), {
    kind: 'ok',
    path: '/AZaz09-._~',
  });
  // The neighbours of each range stay encoded (upper-cased).
  assert.deepEqual(normalizeRequestPath('/%40%5b%60%7b%2f%3a%2c%21', BASE), {
    kind: 'ok',
    path: '/%40%5B%60%7B%2F%3A%2C%21',
  });
});

test('targets that are not origin-form are left as sent', () => {
  for (const target of ['*', 'http://h/a/../b', 'h:443']) {
    assert.deepEqual(normalizeRequestPath(target, { ...BASE, mergeSlashes: true }), {
      kind: 'ok',
      path: target,
    });
  }
});
