/**
 * Request targets for both codecs: the ones that must not escape a `/public` route (dot
 * segments, encoded dots and slashes, backslashes, fragments, absolute and authority forms) and
 * bytes no target may hold.
 */
import type { Dice } from './dice.js';
import type { Validity } from './invariants.js';

const FIXED = [
  '/public/ok',
  '/public/a/b?x=1&y=%2e%2e',
  '/public/../admin',
  '/public/%2e%2e/admin',
  '/public/%2E%2E/admin',
  '/public/.%2e/admin',
  '/public/..%2fadmin',
  '/public%2f..%2fadmin',
  '/public/%2e%2e%2fadmin',
  '/public/./x',
  '/public/a/../../admin',
  '/public/x/..',
  '/public/%2e',
  '/public/x#frag',
  '/public/x#/../../admin',
  '/public/%41%42',
  '/public/%7e%2D%5f',
  '/public/%zz',
  '/public/%',
  '/public/%2',
  '/public/%00',
  '/public/%0d%0aX-Injected:%201',
  '/public\\..\\admin',
  '/public/..\\..\\admin',
  '/public/..;/admin',
  '//public/x',
  '/public//../admin',
  '/PUBLIC/x',
  '/publicity',
  '/admin',
  '/admin/../public/x',
  '/',
  '*',
  '/public/big?kb=64',
  '/public/big?kb=300',
  'http://app:9080/public/abs',
  'http://app:9080/admin',
  'http://app:9080/public/../admin',
  'http://evil.example/public/x',
  'https://app:9080/public/x',
  'app:9080',
  '/public?../admin',
  '/public/' + 'a'.repeat(3000),
];

const SEGMENTS = [
  '..',
  '.',
  '%2e',
  '%2e%2e',
  '%2E.',
  '.%2E',
  'a',
  '%2f',
  '%5c',
  '',
  ';',
  '%2e%2e%2f',
  'b%20c',
];
const BAD_BYTES = ['\x00', ' ', '\t', '\x7f', '\x80', '\xff', '\r', '\n', '\x0b', '"', '<', '{'];

export interface FuzzPath {
  path: string;
  validity: Validity;
}

export function fuzzPath(d: Dice): FuzzPath {
  const r = d.int(0, 9);
  if (r < 5) return { path: d.pick(FIXED), validity: 'maybe' };
  if (r < 8) {
    const segs = Array.from({ length: d.int(1, 6) }, () => d.pick(SEGMENTS));
    return { path: `/public/${segs.join('/')}`, validity: 'maybe' };
  }
  // A byte no request-target may hold, somewhere after `/public`.
  const base = d.pick(FIXED.slice(0, 10));
  const at = d.int(Math.min(7, base.length), base.length);
  const bad = d.pick(BAD_BYTES);
  // `"`, `<`, `{` are outside RFC 3986 but parsers disagree on them; the rest are never valid.
  const validity: Validity = '"<{'.includes(bad) ? 'maybe' : 'invalid';
  return { path: base.slice(0, at) + bad + base.slice(at), validity };
}
