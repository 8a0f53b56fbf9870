import RE2 from 're2';
import { invalid, unsupported, durationMs, type DurationConfig } from './proto-values.js';
import { type QueryParams, type RegexMatcherConfig, type RequestHeaders } from './string-matcher.js';
import { xxHash64, xxHash64Many } from './xxhash64.js';

/**
 * Request hash for RING_HASH / MAGLEV from a route's hash_policy list, as Envoy computes it:
 * policies run in order, each hash that is found is folded into the running one
 * (rotate-left-1 then xor), and a `terminal` policy stops the walk once a hash exists.
 *
 * Exports:
 *   interface HashInput { headers: RequestHeaders; query?: QueryParams; sourceIp?: string }
 *   interface HashResult { hash?: bigint; setCookie?: GeneratedCookie }
 *   interface GeneratedCookie { name; value; ttlMs; path?; attributes: {name, value}[] }
 *   compileHashPolicies(configs: HashPolicyConfig[], path): (input: HashInput) => HashResult
 *   cookieValue(headers, name): string | undefined
 *
 * A cookie policy with a `ttl` whose cookie is absent generates one (value derived from the
 * client address), hashes it, and returns it in `setCookie` for the data path to send as
 * Set-Cookie on the response (Max-Age from ttlMs; a session cookie when ttlMs is 0).
 */
export interface HashPolicyConfig {
  header?: {
    header_name?: string | null;
    regex_rewrite?: { pattern?: RegexMatcherConfig | null; substitution?: string | null } | null;
  } | null;
  cookie?: {
    name?: string | null;
    ttl?: DurationConfig;
    path?: string | null;
    attributes?: { name?: string | null; value?: string | null }[] | null;
  } | null;
  connection_properties?: { source_ip?: boolean | null } | null;
  query_parameter?: { name?: string | null } | null;
  filter_state?: unknown;
  terminal?: boolean | null;
  policy_specifier?: string;
}

export interface HashInput {
  headers: RequestHeaders;
  query?: QueryParams;
  sourceIp?: string;
}

export interface GeneratedCookie {
  name: string;
  value: string;
  ttlMs: number;
  path?: string;
  attributes: { name: string; value: string }[];
}

export interface HashResult {
  hash?: bigint;
  setCookie?: GeneratedCookie;
}

type Step = (input: HashInput, out: HashResult) => bigint | undefined;

export function cookieValue(headers: RequestHeaders, name: string): string | undefined {
  const raw = headers['cookie'];
  const lines = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  for (const line of lines) {
    for (const part of line.split(';')) {
      const eq = part.indexOf('=');
      if (eq === -1) continue;
      if (part.slice(0, eq).trim() !== name) continue;
      let v = part.slice(eq + 1).trim();
      if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      return v;
    }
  }
  return undefined;
}

/** Envoy substitutions write groups as \1; the re2 package's replace wants $1. */
function toJsSubstitution(sub: string): string {
  return sub.replace(/\$/g, '$$$$').replace(/\\(\d)/g, '$$$1');
}

function compileHeaderStep(c: NonNullable<HashPolicyConfig['header']>, path: string): Step {
  const name = (c.header_name ?? '').toLowerCase();
  if (name === '') throw invalid(`${path}.header_name`, 'header_name must not be empty');
  let rewrite: ((v: string) => string) | undefined;
  if (c.regex_rewrite) {
    const source = c.regex_rewrite.pattern?.regex ?? '';
    if (source === '') throw invalid(`${path}.regex_rewrite.pattern.regex`, 'regex must not be empty');
    let re: RE2;
    try {
      re = new RE2(source, 'gu');
    } catch (err) {
      throw invalid(`${path}.regex_rewrite.pattern.regex`, `invalid RE2 regex: ${String(err)}`);
    }
    const sub = toJsSubstitution(c.regex_rewrite.substitution ?? '');
    rewrite = (v) => re.replace(v, sub);
  }
  return (input) => {
    const raw = input.headers[name];
    if (raw === undefined) return undefined;
    const values = (Array.isArray(raw) ? raw : [raw]).map((v) => (rewrite ? rewrite(v) : v));
    if (values.length === 1) return xxHash64(values[0]!);
    // Several values: Envoy sorts them so the order they arrived in does not matter.
    return xxHash64Many([...values].sort());
  };
}

function compileCookieStep(c: NonNullable<HashPolicyConfig['cookie']>, path: string): Step {
  const name = c.name ?? '';
  if (name === '') throw invalid(`${path}.name`, 'cookie name must not be empty');
  const ttlMs = c.ttl === undefined || c.ttl === null ? undefined : durationMs(c.ttl, 0);
  const attributes = (c.attributes ?? []).map((a) => ({ name: a.name ?? '', value: a.value ?? '' }));
  const cookiePath = c.path ?? undefined;
  return (input, out) => {
    const v = cookieValue(input.headers, name);
    if (v !== undefined) return xxHash64(v);
    if (ttlMs === undefined || input.sourceIp === undefined) return undefined;
    const value = xxHash64(input.sourceIp).toString(16).padStart(16, '0');
    out.setCookie = { name, value, ttlMs, attributes, ...(cookiePath ? { path: cookiePath } : {}) };
    return xxHash64(value);
  };
}

function compileStep(c: HashPolicyConfig, path: string): Step {
  if (c.header) return compileHeaderStep(c.header, `${path}.header`);
  if (c.cookie) return compileCookieStep(c.cookie, `${path}.cookie`);
  if (c.connection_properties) {
    if (c.connection_properties.source_ip !== true) return () => undefined;
    return (input) => (input.sourceIp === undefined ? undefined : xxHash64(input.sourceIp));
  }
  if (c.query_parameter) {
    const name = c.query_parameter.name ?? '';
    if (name === '') throw invalid(`${path}.query_parameter.name`, 'query parameter name must not be empty');
    return (input) => {
      const v = input.query?.get(name);
      return v === null || v === undefined ? undefined : xxHash64(v);
    };
  }
  if (c.filter_state !== undefined && c.filter_state !== null) {
    throw unsupported(`${path}.filter_state`, 'filter_state hash policies are not supported');
  }
  throw invalid(path, 'hash policy needs one of header, cookie, connection_properties or query_parameter');
}

const MASK = (1n << 64n) - 1n;

export function compileHashPolicies(
  configs: readonly HashPolicyConfig[] | null | undefined,
  path: string,
): (input: HashInput) => HashResult {
  const steps = (configs ?? []).map((c, i) => ({
    step: compileStep(c, `${path}[${i}]`),
    terminal: c.terminal === true,
  }));
  return (input) => {
    const out: HashResult = {};
    let hash: bigint | undefined;
    for (const { step, terminal } of steps) {
      const h = step(input, out);
      if (h !== undefined) hash = hash === undefined ? h : (((hash << 1n) | (hash >> 63n)) & MASK) ^ h;
      if (terminal && hash !== undefined) break;
    }
    if (hash !== undefined) out.hash = hash;
    return out;
  };
}
