import RE2 from 're2';
import { invalid, unsupported } from './proto-values.js';

/**
 * Envoy's StringMatcher, HeaderMatcher and QueryParameterMatcher, compiled once from the
 * snake_case objects protobufjs decodes into small predicates. Compilation errors are
 * TrellisErrors (TRELLIS_INVALID_CONFIG / TRELLIS_UNSUPPORTED) carrying the field path, so the
 * xDS client can NACK the resource that holds them.
 *
 * Exports:
 *   type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>
 *        lowercase names, pseudo-headers included (':path', ':authority', ':method', ':scheme')
 *   headerValue(headers, name): string | undefined   several values are joined with ','
 *   compileRegex(config: RegexMatcherConfig, path): (value: string) => boolean   full match
 *   compileStringMatcher(config: StringMatcherConfig, path): StringPredicate
 *   compileHeaderMatcher(config: HeaderMatcherConfig, path): HeaderPredicate
 *   compileHeaderMatchers(configs, path): HeaderPredicate          all must match ([] matches)
 *   type QueryParams = { get(name: string): string | null }   e.g. URLSearchParams
 *   compileQueryParameterMatcher(config, path): (query: QueryParams) => boolean
 *   compileQueryParameterMatchers(configs, path): (query: QueryParams) => boolean
 */
export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;
export type StringPredicate = (value: string) => boolean;
export type HeaderPredicate = (headers: RequestHeaders) => boolean;

export interface RegexMatcherConfig {
  regex?: string | null;
  google_re2?: { max_program_size?: unknown } | null;
}

export interface StringMatcherConfig {
  exact?: string | null;
  prefix?: string | null;
  suffix?: string | null;
  contains?: string | null;
  safe_regex?: RegexMatcherConfig | null;
  custom?: unknown;
  ignore_case?: boolean | null;
  match_pattern?: string;
}

export interface Int64RangeConfig {
  start?: number | string | null;
  end?: number | string | null;
}

export interface HeaderMatcherConfig {
  name?: string | null;
  exact_match?: string | null;
  safe_regex_match?: RegexMatcherConfig | null;
  range_match?: Int64RangeConfig | null;
  present_match?: boolean | null;
  prefix_match?: string | null;
  suffix_match?: string | null;
  contains_match?: string | null;
  string_match?: StringMatcherConfig | null;
  invert_match?: boolean | null;
  treat_missing_header_as_empty?: boolean | null;
  header_match_specifier?: string;
}

export interface QueryParameterMatcherConfig {
  name?: string | null;
  string_match?: StringMatcherConfig | null;
  present_match?: boolean | null;
  query_parameter_match_specifier?: string;
}

export interface QueryParams {
  get(name: string): string | null;
}

function has<T>(v: T | null | undefined): v is T {
  return v !== null && v !== undefined;
}

/** Envoy's RegexMatcher matches the whole value, so the pattern is anchored at both ends. */
export function compileRegex(config: RegexMatcherConfig, path: string): StringPredicate {
  const source = config.regex;
  if (!has(source) || source === '') throw invalid(`${path}.regex`, 'regex must not be empty');
  let re: RE2;
  try {
    re = new RE2(`^(?:${source})$`, 'u');
  } catch (err) {
    throw invalid(
      `${path}.regex`,
      `invalid RE2 regex ${JSON.stringify(source)}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return (value) => re.test(value);
}

function nonEmpty(value: string, path: string): string {
  if (value === '') throw invalid(path, 'must not be empty');
  return value;
}

export function compileStringMatcher(config: StringMatcherConfig, path: string): StringPredicate {
  if (config === null || typeof config !== 'object') throw invalid(path, 'expected a StringMatcher');
  if (has(config.custom)) throw unsupported(`${path}.custom`, 'custom string matchers are not supported');
  if (has(config.safe_regex)) {
    // ignore_case has no effect on safe_regex in Envoy; (?i) in the pattern does the job.
    return compileRegex(config.safe_regex, `${path}.safe_regex`);
  }
  const fold = config.ignore_case === true;
  const norm = fold ? (s: string) => s.toLowerCase() : (s: string) => s;
  if (has(config.exact)) {
    const want = norm(config.exact);
    return (v) => norm(v) === want;
  }
  if (has(config.prefix)) {
    const want = norm(nonEmpty(config.prefix, `${path}.prefix`));
    return (v) => norm(v).startsWith(want);
  }
  if (has(config.suffix)) {
    const want = norm(nonEmpty(config.suffix, `${path}.suffix`));
    return (v) => norm(v).endsWith(want);
  }
  if (has(config.contains)) {
    const want = norm(nonEmpty(config.contains, `${path}.contains`));
    return (v) => norm(v).includes(want);
  }
  throw invalid(path, 'StringMatcher needs one of exact, prefix, suffix, contains or safe_regex');
}

export function headerValue(headers: RequestHeaders, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(',') : v;
}

function toInt(v: number | string | null | undefined, path: string): number {
  const n = typeof v === 'string' ? Number(v) : (v ?? 0);
  if (!Number.isFinite(n)) throw invalid(path, `expected an integer, got ${JSON.stringify(v)}`);
  return n;
}

const INTEGER = /^\s*[+-]?\d+\s*$/;

/** Compiles the value test of a HeaderMatcher; undefined means "presence only". */
function compileHeaderValueTest(config: HeaderMatcherConfig, path: string): StringPredicate | boolean {
  if (has(config.exact_match)) {
    const want = config.exact_match;
    return (v) => v === want;
  }
  if (has(config.safe_regex_match)) return compileRegex(config.safe_regex_match, `${path}.safe_regex_match`);
  if (has(config.range_match)) {
    const start = toInt(config.range_match.start, `${path}.range_match.start`);
    const end = toInt(config.range_match.end, `${path}.range_match.end`);
    // Envoy parses the value as a signed integer; anything else does not match.
    return (v) => {
      if (!INTEGER.test(v)) return false;
      const n = Number(v);
      return n >= start && n < end;
    };
  }
  if (has(config.present_match)) return config.present_match;
  if (has(config.prefix_match)) {
    const want = nonEmpty(config.prefix_match, `${path}.prefix_match`);
    return (v) => v.startsWith(want);
  }
  if (has(config.suffix_match)) {
    const want = nonEmpty(config.suffix_match, `${path}.suffix_match`);
    return (v) => v.endsWith(want);
  }
  if (has(config.contains_match)) {
    const want = nonEmpty(config.contains_match, `${path}.contains_match`);
    return (v) => v.includes(want);
  }
  if (has(config.string_match)) return compileStringMatcher(config.string_match, `${path}.string_match`);
  // No specifier at all: Envoy treats the matcher as "header is present".
  return true;
}

/**
 * Missing headers follow Envoy: without treat_missing_header_as_empty, a missing header matches
 * only `present_match: false` (or `present_match: true` with invert_match); every other matcher
 * fails, inverted or not. With it, the value is '' and the normal test runs.
 */
export function compileHeaderMatcher(config: HeaderMatcherConfig, path: string): HeaderPredicate {
  if (config === null || typeof config !== 'object') throw invalid(path, 'expected a HeaderMatcher');
  const rawName = config.name ?? '';
  if (rawName === '') throw invalid(`${path}.name`, 'header name must not be empty');
  const name = rawName.toLowerCase();
  const invert = config.invert_match === true;
  const missingAsEmpty = config.treat_missing_header_as_empty === true;
  const test = compileHeaderValueTest(config, path);
  if (typeof test === 'boolean') {
    const present = test;
    return (headers) => {
      const v = headerValue(headers, name);
      if (v === undefined && !missingAsEmpty) return invert ? present : !present;
      return present !== invert;
    };
  }
  return (headers) => {
    const v = headerValue(headers, name);
    if (v === undefined) return missingAsEmpty ? test('') !== invert : false;
    return test(v) !== invert;
  };
}

export function compileHeaderMatchers(
  configs: readonly HeaderMatcherConfig[] | null | undefined,
  path: string,
): HeaderPredicate {
  const preds = (configs ?? []).map((c, i) => compileHeaderMatcher(c, `${path}[${i}]`));
  if (preds.length === 0) return () => true;
  return (headers) => preds.every((p) => p(headers));
}

/** Envoy tests the first value of the parameter; no string_match means "present". */
export function compileQueryParameterMatcher(
  config: QueryParameterMatcherConfig,
  path: string,
): (query: QueryParams) => boolean {
  const name = config.name ?? '';
  if (name === '') throw invalid(`${path}.name`, 'query parameter name must not be empty');
  if (has(config.string_match)) {
    const test = compileStringMatcher(config.string_match, `${path}.string_match`);
    return (query) => {
      const v = query.get(name);
      return v !== null && test(v);
    };
  }
  // Envoy ignores the value of present_match: anything but string_match is a presence test.
  return (query) => query.get(name) !== null;
}

export function compileQueryParameterMatchers(
  configs: readonly QueryParameterMatcherConfig[] | null | undefined,
  path: string,
): (query: QueryParams) => boolean {
  const preds = (configs ?? []).map((c, i) => compileQueryParameterMatcher(c, `${path}[${i}]`));
  if (preds.length === 0) return () => true;
  return (query) => preds.every((p) => p(query));
}
