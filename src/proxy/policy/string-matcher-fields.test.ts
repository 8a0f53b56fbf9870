// Envoy matcher fields the basic tests leave open: proto nulls for unset oneof members, the
// deprecated HeaderMatcher prefix/suffix/contains fields, range_match ([start, end) over a
// signed integer value, int64 bounds as strings), treat_missing_header_as_empty, ASCII-only
// ignore_case, and query parameter matchers (all must match; absent fails a string_match).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTrellisError } from '../../core/errors.js';
import {
  compileHeaderMatcher,
  compileQueryParameterMatcher,
  compileQueryParameterMatchers,
  compileRegex,
  compileStringMatcher,
  type HeaderMatcherConfig,
  type StringMatcherConfig,
} from './string-matcher.js';

const header = (config: HeaderMatcherConfig, headers: Record<string, string>) =>
  compileHeaderMatcher({ name: 'x', ...config }, 'm')(headers);

test('unset oneof members decoded as null are skipped', () => {
  const m = compileStringMatcher({ exact: null, prefix: '/a', safe_regex: null, custom: null }, 'm');
  assert.equal(m('/ab'), true);
  assert.equal(m('/b'), false);
  assert.equal(
    header(
      {
        exact_match: null,
        safe_regex_match: null,
        range_match: null,
        present_match: null,
        prefix_match: 'v',
      },
      { x: 'v1' },
    ),
    true,
  );
});

test('null or non-object matcher configs and empty regexes are rejected', () => {
  assert.throws(() => compileStringMatcher(null as unknown as StringMatcherConfig, 'm'), isTrellisError);
  assert.throws(() => compileStringMatcher('exact' as unknown as StringMatcherConfig, 'm'), isTrellisError);
  assert.throws(() => compileHeaderMatcher(null as unknown as HeaderMatcherConfig, 'm'), isTrellisError);
  assert.throws(() => compileHeaderMatcher(7 as unknown as HeaderMatcherConfig, 'm'), isTrellisError);
  assert.throws(() => compileRegex({ regex: '' }, 'm'), isTrellisError);
  assert.throws(() => compileRegex({}, 'm'), isTrellisError);
  assert.throws(() => compileRegex({ regex: null }, 'm'), isTrellisError);
  assert.throws(() => compileQueryParameterMatcher({ name: '' }, 'm'), isTrellisError);
  assert.throws(() => compileQueryParameterMatcher({}, 'm'), isTrellisError);
});

test('regexes match whole code points', () => {
  assert.equal(compileRegex({ regex: '.' }, 'm')('😀'), true);
});

test('ignore_case folds ASCII only, as Envoy does', () => {
  const m = compileStringMatcher({ exact: 'straße', ignore_case: true }, 'm');
  assert.equal(m('STRAßE'), true);
  assert.equal(m('STRASSE'), false);
});

test('deprecated prefix_match, suffix_match and contains_match test the header value', () => {
  assert.equal(header({ prefix_match: 'ab' }, { x: 'abc' }), true);
  assert.equal(header({ prefix_match: 'bc' }, { x: 'abc' }), false);
  assert.equal(header({ suffix_match: 'bc' }, { x: 'abc' }), true);
  assert.equal(header({ suffix_match: 'ab' }, { x: 'abc' }), false);
  assert.equal(header({ contains_match: 'b' }, { x: 'abc' }), true);
  assert.equal(header({ contains_match: 'd' }, { x: 'abc' }), false);
  assert.equal(header({ prefix_match: 'a' }, {}), false);
  for (const empty of [{ prefix_match: '' }, { suffix_match: '' }, { contains_match: '' }]) {
    assert.throws(() => compileHeaderMatcher({ name: 'x', ...empty }, 'm'), isTrellisError);
  }
});

test('range_match: start inclusive, end exclusive, signed integers only; bounds may be strings', () => {
  const inRange = (v: string, start: number | string = -10, end: number | string = 10) =>
    header({ range_match: { start, end } }, { x: v });
  assert.equal(inRange('-10'), true);
  assert.equal(inRange('-11'), false);
  assert.equal(inRange('9'), true);
  assert.equal(inRange('10'), false);
  assert.equal(inRange('+5'), true);
  assert.equal(inRange(' 5 '), true);
  for (const v of ['5x', 'x5', '5 x', '5.0', '', '0x5', 'a 5']) assert.equal(inRange(v), false, v);
  assert.equal(inRange('5', '0', '6'), true);
  // An unset start is 0.
  assert.equal(header({ range_match: { end: 5 } }, { x: '0' }), true);
  assert.equal(header({ range_match: { end: 5 } }, { x: '-1' }), false);
  assert.equal(inRange('6', '0', '6'), false);
  assert.throws(
    () => compileHeaderMatcher({ name: 'x', range_match: { start: 'abc', end: 5 } }, 'm'),
    isTrellisError,
  );
});

test('treat_missing_header_as_empty runs the value test on the empty string', () => {
  const missing = (config: HeaderMatcherConfig) =>
    header({ treat_missing_header_as_empty: true, ...config }, {});
  assert.equal(missing({ exact_match: '' }), true);
  assert.equal(missing({ exact_match: 'v' }), false);
  assert.equal(missing({ exact_match: 'v', invert_match: true }), true);
  assert.equal(missing({ exact_match: '', invert_match: true }), false);
});

test('query parameters: a string_match fails when the parameter is absent; every matcher must match', () => {
  const prefix = compileQueryParameterMatcher({ name: 'q', string_match: { prefix: 'a' } }, 'm');
  assert.equal(prefix(new URLSearchParams('q=ab')), true);
  assert.equal(prefix(new URLSearchParams('p=ab')), false);
  const all = compileQueryParameterMatchers(
    [
      { name: 'a', present_match: true },
      { name: 'b', string_match: { exact: '1' } },
    ],
    'm',
  );
  assert.equal(all(new URLSearchParams('a=&b=1')), true);
  assert.equal(all(new URLSearchParams('a=&b=2')), false);
  assert.equal(all(new URLSearchParams('b=1')), false);
  assert.equal(compileQueryParameterMatchers(undefined, 'm')(new URLSearchParams('')), true);
  assert.equal(compileQueryParameterMatchers([], 'm')(new URLSearchParams('x=1')), true);
});
