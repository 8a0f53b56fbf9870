import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  describeHeaderMatcher,
  describeQueryMatcher,
  describeStringMatcher,
  headerSubject,
} from './matcher-explain.js';

test('describeHeaderMatcher: every specifier, inverted or not, pseudo-headers in words', () => {
  const cases: [object, string][] = [
    [{ name: 'X-User', exact_match: 'jason' }, 'header x-user is "jason"'],
    [{ name: 'x', safe_regex_match: { regex: 'a.*' } }, 'header x matches regex "a.*"'],
    [{ name: 'x', range_match: { start: 1, end: 9 } }, 'header x is an integer in [1, 9)'],
    [{ name: 'x', range_match: {} }, 'header x is an integer in [0, 0)'],
    [{ name: 'x', present_match: true }, 'header x is present'],
    [{ name: 'x', present_match: false }, 'header x is absent'],
    [{ name: 'x', prefix_match: 'a' }, 'header x starts with "a"'],
    [{ name: 'x', suffix_match: 'a' }, 'header x ends with "a"'],
    [{ name: 'x', contains_match: 'a' }, 'header x contains "a"'],
    [{ name: 'x', string_match: { exact: 'a' } }, 'header x is "a"'],
    [{ name: 'x' }, 'header x is present'],
    [{ name: 'x', exact_match: 'a', invert_match: true }, 'header x is not "a"'],
    [{ name: 'x', prefix_match: 'a', invert_match: true }, 'header x not: starts with "a"'],
    [{ name: ':method', string_match: { exact: 'POST' } }, 'method is "POST"'],
    [{ name: ':path', string_match: { prefix: '/a' } }, 'path (with query) starts with "/a"'],
    [{ name: ':authority', string_match: { suffix: '.com' } }, 'authority ends with ".com"'],
    [{ name: ':scheme', string_match: { exact: 'https' } }, 'scheme is "https"'],
  ];
  for (const [config, want] of cases)
    assert.equal(describeHeaderMatcher(config), want, JSON.stringify(config));
  assert.equal(headerSubject(''), 'header ');
});

test('describeStringMatcher and describeQueryMatcher', () => {
  const strings: [object, string][] = [
    [{ exact: 'a' }, 'is "a"'],
    [{ exact: 'a', ignore_case: true }, 'is "a" (ignoring case)'],
    [{ prefix: 'a', ignore_case: true }, 'starts with "a" (ignoring case)'],
    [{ suffix: 'a' }, 'ends with "a"'],
    [{ contains: 'a' }, 'contains "a"'],
    [{ safe_regex: { regex: 'x+' }, ignore_case: true }, 'matches regex "x+"'],
    [{ safe_regex: {} }, 'matches regex ""'],
    [{ custom: {} }, 'matches a custom matcher'],
  ];
  for (const [config, want] of strings)
    assert.equal(describeStringMatcher(config), want, JSON.stringify(config));
  assert.equal(describeQueryMatcher({ name: 'v', string_match: { exact: '2' } }), 'query parameter v is "2"');
  assert.equal(
    describeQueryMatcher({ name: 'debug', present_match: true }),
    'query parameter debug is present',
  );
  assert.equal(describeQueryMatcher({}), 'query parameter  is present');
});
