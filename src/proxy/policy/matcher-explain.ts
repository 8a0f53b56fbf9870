/**
 * Words for Envoy's HeaderMatcher and QueryParameterMatcher, for `trellis explain`: what a
 * route's matcher asks of a request ("header x-user exact \"jason\""), so a route that did not
 * match can say which of its conditions the request missed. The decisions stay in
 * string-matcher.ts; this module only describes the same snake_case configs.
 */
import type {
  HeaderMatcherConfig,
  QueryParameterMatcherConfig,
  StringMatcherConfig,
} from './string-matcher.js';

const has = <T>(v: T | null | undefined): v is T => v !== undefined && v !== null;

export function describeStringMatcher(m: StringMatcherConfig): string {
  const fold = m.ignore_case === true ? ' (ignoring case)' : '';
  if (has(m.safe_regex)) return `matches regex ${JSON.stringify(m.safe_regex.regex ?? '')}`;
  if (has(m.exact)) return `is ${JSON.stringify(m.exact)}${fold}`;
  if (has(m.prefix)) return `starts with ${JSON.stringify(m.prefix)}${fold}`;
  if (has(m.suffix)) return `ends with ${JSON.stringify(m.suffix)}${fold}`;
  if (has(m.contains)) return `contains ${JSON.stringify(m.contains)}${fold}`;
  return 'matches a custom matcher';
}

function headerValueTest(c: HeaderMatcherConfig): string {
  if (has(c.exact_match)) return `is ${JSON.stringify(c.exact_match)}`;
  if (has(c.safe_regex_match)) return `matches regex ${JSON.stringify(c.safe_regex_match.regex ?? '')}`;
  if (has(c.range_match))
    return `is an integer in [${String(c.range_match.start ?? 0)}, ${String(c.range_match.end ?? 0)})`;
  if (has(c.present_match)) return c.present_match ? 'is present' : 'is absent';
  if (has(c.prefix_match)) return `starts with ${JSON.stringify(c.prefix_match)}`;
  if (has(c.suffix_match)) return `ends with ${JSON.stringify(c.suffix_match)}`;
  if (has(c.contains_match)) return `contains ${JSON.stringify(c.contains_match)}`;
  if (has(c.string_match)) return describeStringMatcher(c.string_match);
  return 'is present';
}

/** The subject a header matcher names: pseudo-headers in words. */
export function headerSubject(name: string): string {
  switch (name.toLowerCase()) {
    case ':method':
      return 'method';
    case ':path':
      return 'path (with query)';
    case ':authority':
      return 'authority';
    case ':scheme':
      return 'scheme';
    default:
      return `header ${name.toLowerCase()}`;
  }
}

/** `header x-user is "jason"`, `method is "POST"`, `header x-debug is not present`. */
export function describeHeaderMatcher(c: HeaderMatcherConfig): string {
  const test = headerValueTest(c);
  const text = c.invert_match === true ? test.replace(/^is /, 'is not ').replace(/^(?!is )/, 'not: ') : test;
  return `${headerSubject(c.name ?? '')} ${text}`;
}

/** `query parameter debug is "1"`, `query parameter debug is present`. */
export function describeQueryMatcher(c: QueryParameterMatcherConfig): string {
  const test = has(c.string_match) ? describeStringMatcher(c.string_match) : 'is present';
  return `query parameter ${c.name ?? ''} ${test}`;
}
