import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTrellisError } from '../../core/errors.js';
import {
  compileHeaderMatcher,
  compileHeaderMatchers,
  compileQueryParameterMatcher,
  compileStringMatcher,
  type HeaderMatcherConfig,
  type StringMatcherConfig,
} from './string-matcher.js';

test('StringMatcher kinds, with and without ignore_case', () => {
  const cases: [StringMatcherConfig, string, boolean][] = [
    [{ exact: 'jason' }, 'jason', true],
    [{ exact: 'jason' }, 'Jason', false],
    [{ exact: 'jason', ignore_case: true }, 'JASON', true],
    [{ exact: '' }, '', true],
    [{ prefix: '/api' }, '/api/v1', true],
    [{ prefix: '/api' }, '/API/v1', false],
    [{ prefix: '/api', ignore_case: true }, '/API/v1', true],
    [{ suffix: '.css' }, 'a.css', true],
    [{ suffix: '.CSS', ignore_case: true }, 'a.css', true],
    [{ contains: 'mid' }, 'amidst', true],
    [{ contains: 'mid' }, 'a-m-i-d', false],
    [{ safe_regex: { regex: 'v[0-9]+' } }, 'v12', true],
    // Envoy's regex matches the whole value, not a substring.
    [{ safe_regex: { regex: 'v[0-9]+' } }, 'xv12', false],
    [{ safe_regex: { regex: 'a|b' } }, 'b', true],
    [{ safe_regex: { google_re2: {}, regex: '(?i)abc' } }, 'ABC', true],
  ];
  for (const [config, value, want] of cases) {
    assert.equal(compileStringMatcher(config, 'm')(value), want, `${JSON.stringify(config)} on ${value}`);
  }
});

test('StringMatcher rejects bad configs with a field path', () => {
  const cases: [StringMatcherConfig, string, string][] = [
    [{}, 'TRELLIS_INVALID_CONFIG', 'route.match'],
    [{ prefix: '' }, 'TRELLIS_INVALID_CONFIG', 'route.match.prefix'],
    [{ safe_regex: { regex: '(' } }, 'TRELLIS_INVALID_CONFIG', 'route.match.safe_regex.regex'],
    // RE2 has no backreferences; a PCRE-only pattern must be refused, not half-honoured.
    [{ safe_regex: { regex: '(a)\\1' } }, 'TRELLIS_INVALID_CONFIG', 'route.match.safe_regex.regex'],
    [{ custom: { name: 'x' } }, 'TRELLIS_UNSUPPORTED', 'route.match.custom'],
  ];
  for (const [config, code, path] of cases) {
    assert.throws(
      () => compileStringMatcher(config, 'route.match'),
      (err: unknown) => isTrellisError(err) && err.code === code && err.path === path,
      JSON.stringify(config),
    );
  }
});

test('HeaderMatcher table, including missing headers and invert_match', () => {
  const present = { 'end-user': 'jason', 'x-num': '42', 'x-multi': ['a', 'b'], ':path': '/p?q=1' };
  const missing = {};
  const cases: [HeaderMatcherConfig, Record<string, string | string[]>, boolean][] = [
    [{ name: 'end-user', string_match: { exact: 'jason' } }, present, true],
    [{ name: 'End-User', exact_match: 'jason' }, present, true],
    [{ name: 'end-user', exact_match: 'json' }, present, false],
    [{ name: 'end-user', prefix_match: 'ja' }, present, true],
    [{ name: 'end-user', suffix_match: 'on' }, present, true],
    [{ name: 'end-user', contains_match: 'aso' }, present, true],
    [{ name: 'end-user', safe_regex_match: { regex: 'j.*n' } }, present, true],
    [{ name: 'x-num', range_match: { start: 40, end: 43 } }, present, true],
    [{ name: 'x-num', range_match: { start: 40, end: 42 } }, present, false],
    [{ name: 'end-user', range_match: { start: 0, end: 100 } }, present, false],
    [{ name: 'x-multi', exact_match: 'a,b' }, present, true],
    [{ name: ':path', prefix_match: '/p' }, present, true],
    [{ name: 'end-user', present_match: true }, present, true],
    [{ name: 'end-user', present_match: false }, present, false],
    [{ name: 'end-user' }, present, true],
    [{ name: 'end-user', exact_match: 'json', invert_match: true }, present, true],
    [{ name: 'end-user', exact_match: 'jason', invert_match: true }, present, false],
    // Missing header: only presence tests can match, even when inverted.
    [{ name: 'end-user', exact_match: 'jason' }, missing, false],
    [{ name: 'end-user', exact_match: 'jason', invert_match: true }, missing, false],
    [{ name: 'end-user', present_match: false }, missing, true],
    [{ name: 'end-user', present_match: true }, missing, false],
    [{ name: 'end-user', present_match: true, invert_match: true }, missing, true],
    [{ name: 'end-user' }, missing, false],
    // treat_missing_header_as_empty runs the test against ''.
    [
      {
        name: 'x-num',
        range_match: { start: 0, end: 10 },
        invert_match: true,
        treat_missing_header_as_empty: true,
      },
      missing,
      true,
    ],
    [{ name: 'x-num', range_match: { start: 0, end: 10 }, invert_match: true }, missing, false],
    [{ name: 'end-user', string_match: { exact: '' }, treat_missing_header_as_empty: true }, missing, true],
  ];
  for (const [config, headers, want] of cases) {
    assert.equal(
      compileHeaderMatcher(config, 'h')(headers),
      want,
      `${JSON.stringify(config)} on ${JSON.stringify(headers)}`,
    );
  }
});

test('header matcher lists need every matcher to hold; an empty list matches', () => {
  const all = compileHeaderMatchers(
    [
      { name: 'a', exact_match: '1' },
      { name: 'b', present_match: true },
    ],
    'headers',
  );
  assert.equal(all({ a: '1', b: 'x' }), true);
  assert.equal(all({ a: '1' }), false);
  assert.equal(compileHeaderMatchers(undefined, 'headers')({}), true);
});

test('HeaderMatcher errors name the failing matcher', () => {
  assert.throws(
    () =>
      compileHeaderMatchers(
        [
          { name: 'a', exact_match: '1' },
          { name: 'b', safe_regex_match: { regex: '[' } },
        ],
        'match.headers',
      ),
    (err: unknown) =>
      isTrellisError(err, 'TRELLIS_INVALID_CONFIG') && err.path === 'match.headers[1].safe_regex_match.regex',
  );
  assert.throws(
    () => compileHeaderMatcher({ exact_match: 'x' }, 'match.headers[0]'),
    (err: unknown) => isTrellisError(err, 'TRELLIS_INVALID_CONFIG') && err.path === 'match.headers[0].name',
  );
});

test('QueryParameterMatcher: first value, string_match or presence', () => {
  const q = new URLSearchParams('debug=1&user=Jason&user=bob&empty=');
  const cases: [Parameters<typeof compileQueryParameterMatcher>[0], boolean][] = [
    [{ name: 'debug', present_match: true }, true],
    [{ name: 'missing', present_match: true }, false],
    [{ name: 'user', string_match: { exact: 'jason', ignore_case: true } }, true],
    [{ name: 'user', string_match: { exact: 'bob' } }, false],
    [{ name: 'empty', present_match: true }, true],
    [{ name: 'missing', string_match: { exact: '' } }, false],
  ];
  for (const [config, want] of cases) {
    assert.equal(compileQueryParameterMatcher(config, 'q')(q), want, JSON.stringify(config));
  }
});
