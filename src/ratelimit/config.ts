/**
 * Rate limit configuration in envoyproxy/ratelimit's YAML format, accepted unchanged
 * (https://github.com/envoyproxy/ratelimit#the-configuration-format), plus two Trellis
 * additions inside `rate_limit`: `algorithm` (token_bucket | fixed_window) and `burst`.
 * `algorithm` may also be set once per domain as that domain's default.
 *
 * Validation collects every problem with its field path; compilation turns the validated
 * documents into the lookup tree that ./descriptor-match.ts walks.
 */
import { parseAllDocuments } from 'yaml';
import { Problems, TrellisError, formatProblem } from '../core/errors.js';

export const UNITS = ['second', 'minute', 'hour', 'day'] as const;
export type RateLimitUnit = (typeof UNITS)[number];

export const UNIT_MS: Record<RateLimitUnit, number> = {
  second: 1000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

export const ALGORITHMS = ['token_bucket', 'fixed_window'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

/** The `rate_limit` block as written in YAML. */
export interface RateLimitBlock {
  unit?: string;
  requests_per_unit?: number;
  unlimited?: boolean;
  name?: string;
  replaces?: { name: string }[];
  /** Trellis: how the limit is counted. */
  algorithm?: Algorithm;
  /** Trellis: token bucket capacity (default requests_per_unit). */
  burst?: number;
}

export interface DescriptorConfig {
  key: string;
  value?: string;
  rate_limit?: RateLimitBlock;
  descriptors?: DescriptorConfig[];
  shadow_mode?: boolean;
  detailed_metric?: boolean;
}

/** One domain, as one envoyproxy/ratelimit YAML file holds it. */
export interface DomainConfig {
  domain: string;
  descriptors?: DescriptorConfig[];
  /** Trellis: default algorithm for this domain's limits. */
  algorithm?: Algorithm;
}

/** A limit ready for decisions; shared by every counter that matches its descriptor. */
export interface CompiledLimit {
  domain: string;
  /** Stat key as envoyproxy/ratelimit names it: `key_value.subkey` (values omitted for wildcards). */
  statKey: string;
  requestsPerUnit: number;
  unit: RateLimitUnit;
  unitMs: number;
  unlimited: boolean;
  shadowMode: boolean;
  detailedMetric: boolean;
  name: string | undefined;
  replaces: readonly string[];
  algorithm: Algorithm;
  /** Token bucket capacity. */
  burst: number;
}

export interface DescriptorNode {
  key: string;
  /** Undefined: matches any value. Ends in `*`: matches values with that prefix. */
  value: string | undefined;
  statKey: string;
  limit: CompiledLimit | undefined;
  children: DescriptorLevel | undefined;
}

/** One descriptor list: exact key+value first, then value prefixes, then key alone. */
export interface DescriptorLevel {
  exact: Map<string, DescriptorNode>;
  prefixes: { key: string; prefix: string; node: DescriptorNode }[];
  anyValue: Map<string, DescriptorNode>;
}

export interface CompiledDomain {
  domain: string;
  root: DescriptorLevel;
}

const DOMAIN_KEYS = new Set(['domain', 'descriptors', 'algorithm']);
const DESCRIPTOR_KEYS = new Set([
  'key',
  'value',
  'rate_limit',
  'descriptors',
  'shadow_mode',
  'detailed_metric',
]);
const RATE_LIMIT_KEYS = new Set([
  'unit',
  'requests_per_unit',
  'unlimited',
  'name',
  'replaces',
  'algorithm',
  'burst',
]);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(obj: Record<string, unknown>, allowed: Set<string>, path: string, p: Problems): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.has(k)) {
      p.error(path ? `${path}.${k}` : k, `unknown field; expected one of ${[...allowed].join(', ')}`);
    }
  }
}

function checkBool(obj: Record<string, unknown>, key: string, path: string, p: Problems): void {
  if (obj[key] !== undefined && typeof obj[key] !== 'boolean') {
    p.error(`${path}.${key}`, 'expected true or false');
  }
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

function validateRateLimit(raw: unknown, path: string, p: Problems): void {
  if (!isRecord(raw)) {
    p.error(path, 'expected a mapping with unit and requests_per_unit');
    return;
  }
  checkKeys(raw, RATE_LIMIT_KEYS, path, p);
  checkBool(raw, 'unlimited', path, p);
  const unlimited = raw.unlimited === true;
  if (raw.unit !== undefined || !unlimited) {
    const unit = typeof raw.unit === 'string' ? raw.unit.toLowerCase() : undefined;
    if (unit === undefined || !(UNITS as readonly string[]).includes(unit)) {
      p.error(`${path}.unit`, `expected one of ${UNITS.join(', ')}`);
    }
  }
  if (raw.requests_per_unit !== undefined || !unlimited) {
    if (!isCount(raw.requests_per_unit)) {
      p.error(`${path}.requests_per_unit`, 'expected a whole number >= 0');
    }
  }
  if (unlimited && raw.requests_per_unit !== undefined) {
    p.error(path, 'unlimited: true cannot be combined with requests_per_unit');
  }
  if (raw.name !== undefined && (typeof raw.name !== 'string' || raw.name === '')) {
    p.error(`${path}.name`, 'expected a non-empty string');
  }
  if (raw.replaces !== undefined) {
    if (!Array.isArray(raw.replaces)) {
      p.error(`${path}.replaces`, 'expected a list of {name: ...}');
    } else {
      raw.replaces.forEach((r: unknown, i) => {
        if (!isRecord(r) || typeof r.name !== 'string' || r.name === '') {
          p.error(`${path}.replaces[${i}].name`, 'expected a non-empty string');
        }
      });
    }
  }
  if (raw.algorithm !== undefined && !(ALGORITHMS as readonly unknown[]).includes(raw.algorithm)) {
    p.error(`${path}.algorithm`, `expected one of ${ALGORITHMS.join(', ')}`);
  }
  if (raw.burst !== undefined) {
    if (!isCount(raw.burst) || raw.burst === 0) p.error(`${path}.burst`, 'expected a whole number >= 1');
    else if (raw.algorithm === 'fixed_window') {
      p.error(`${path}.burst`, 'burst applies to the token_bucket algorithm only');
    }
  }
}

function validateDescriptors(raw: unknown, path: string, p: Problems): void {
  if (!Array.isArray(raw)) {
    p.error(path, 'expected a list of descriptors');
    return;
  }
  const seen = new Set<string>();
  raw.forEach((d: unknown, i) => {
    const at = `${path}[${i}]`;
    if (!isRecord(d)) {
      p.error(at, 'expected a mapping with at least a key');
      return;
    }
    checkKeys(d, DESCRIPTOR_KEYS, at, p);
    if (typeof d.key !== 'string' || d.key === '') p.error(`${at}.key`, 'expected a non-empty string');
    if (d.value !== undefined && (typeof d.value !== 'string' || d.value === '')) {
      // YAML turns `value: 500` into a number; envoyproxy/ratelimit reads it as text too.
      if (typeof d.value === 'number' || typeof d.value === 'boolean') d.value = String(d.value);
      else p.error(`${at}.value`, 'expected a non-empty string');
    }
    const composite = `${String(d.key)}_${typeof d.value === 'string' ? d.value : ''}`;
    if (seen.has(composite)) {
      p.error(at, `duplicate descriptor ${JSON.stringify(composite)} in the same list`);
    }
    seen.add(composite);
    checkBool(d, 'shadow_mode', at, p);
    checkBool(d, 'detailed_metric', at, p);
    if (d.rate_limit !== undefined) validateRateLimit(d.rate_limit, `${at}.rate_limit`, p);
    if (d.descriptors !== undefined) validateDescriptors(d.descriptors, `${at}.descriptors`, p);
  });
}

/** Checks one domain document; every problem is reported with its field path. */
export function validateDomainConfig(raw: unknown, p: Problems, path = ''): raw is DomainConfig {
  const before = p.errors.length;
  const at = (k: string) => (path ? `${path}.${k}` : k);
  if (!isRecord(raw)) {
    p.error(path, 'expected a mapping with domain and descriptors');
    return false;
  }
  checkKeys(raw, DOMAIN_KEYS, path, p);
  if (typeof raw.domain !== 'string' || raw.domain === '') {
    p.error(at('domain'), 'expected a non-empty string');
  }
  if (raw.algorithm !== undefined && !(ALGORITHMS as readonly unknown[]).includes(raw.algorithm)) {
    p.error(at('algorithm'), `expected one of ${ALGORITHMS.join(', ')}`);
  }
  if (raw.descriptors !== undefined && raw.descriptors !== null) {
    validateDescriptors(raw.descriptors, at('descriptors'), p);
  }
  return p.errors.length === before;
}

/** Validates a set of domains (unique names) or throws one error listing every problem. */
export function validateDomains(raw: readonly unknown[], source = 'config'): DomainConfig[] {
  const p = new Problems();
  const seen = new Map<string, number>();
  raw.forEach((doc, i) => {
    const path = raw.length > 1 ? `[${i}]` : '';
    if (!validateDomainConfig(doc, p, path)) return;
    const first = seen.get(doc.domain);
    if (first !== undefined) {
      p.error(
        path ? `${path}.domain` : 'domain',
        `domain ${JSON.stringify(doc.domain)} is also defined by [${first}]`,
      );
    }
    seen.set(doc.domain, i);
  });
  if (!p.ok) throw configError(p, source);
  return raw as DomainConfig[];
}

export function configError(p: Problems, file: string): TrellisError {
  const lines = p.errors.map(formatProblem);
  return new TrellisError(
    'TRELLIS_INVALID_CONFIG',
    `${lines.length} problem${lines.length === 1 ? '' : 's'}:\n  ${lines.join('\n  ')}`,
    { file },
  );
}

/** Parses YAML text holding one or more domain documents; errors name the file. */
export function parseConfigYaml(text: string, file: string): unknown[] {
  const docs = parseAllDocuments(text);
  const p = new Problems();
  const out: unknown[] = [];
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    for (const e of doc.errors) p.error(list.length > 1 ? `document ${i}` : '', e.message);
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) out.push(value);
  });
  if (!p.ok) throw configError(p, file);
  return out;
}

export interface CompileOptions {
  /** Algorithm for limits that name none (command-line --algorithm). */
  defaultAlgorithm?: Algorithm;
}

function compileLevel(
  domain: DomainConfig,
  list: readonly DescriptorConfig[],
  parentStat: string,
  options: CompileOptions,
): DescriptorLevel {
  const level: DescriptorLevel = { exact: new Map(), prefixes: [], anyValue: new Map() };
  for (const d of list) {
    const own = d.value === undefined ? d.key : `${d.key}_${d.value}`;
    const statKey = parentStat ? `${parentStat}.${own}` : own;
    const node: DescriptorNode = {
      key: d.key,
      value: d.value,
      statKey,
      limit: d.rate_limit ? compileLimit(domain, d, statKey, options) : undefined,
      children: d.descriptors?.length ? compileLevel(domain, d.descriptors, statKey, options) : undefined,
    };
    if (d.value === undefined) level.anyValue.set(d.key, node);
    else if (d.value.endsWith('*')) {
      level.prefixes.push({ key: d.key, prefix: d.value.slice(0, -1), node });
    } else level.exact.set(`${d.key}\x1f${d.value}`, node);
  }
  // Longest prefix first, so the most specific wildcard wins.
  level.prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
  return level;
}

function compileLimit(
  domain: DomainConfig,
  d: DescriptorConfig,
  statKey: string,
  options: CompileOptions,
): CompiledLimit {
  const rl = d.rate_limit as RateLimitBlock;
  const unit = (rl.unit?.toLowerCase() ?? 'second') as RateLimitUnit;
  const requestsPerUnit = rl.requests_per_unit ?? 0;
  return {
    domain: domain.domain,
    statKey,
    requestsPerUnit,
    unit,
    unitMs: UNIT_MS[unit],
    unlimited: rl.unlimited === true,
    shadowMode: d.shadow_mode === true,
    detailedMetric: d.detailed_metric === true,
    name: rl.name,
    replaces: (rl.replaces ?? []).map((r) => r.name),
    algorithm: rl.algorithm ?? domain.algorithm ?? options.defaultAlgorithm ?? 'token_bucket',
    burst: rl.burst ?? requestsPerUnit,
  };
}

/** Builds the lookup tree for validated domains. */
export function compileDomains(
  domains: readonly DomainConfig[],
  options: CompileOptions = {},
): Map<string, CompiledDomain> {
  const out = new Map<string, CompiledDomain>();
  for (const d of domains) {
    out.set(d.domain, { domain: d.domain, root: compileLevel(d, d.descriptors ?? [], '', options) });
  }
  return out;
}
