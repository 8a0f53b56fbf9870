/**
 * The protoc-gen-validate (`validate.rules`) constraints written in Envoy's protos, evaluated
 * against a message: what Envoy checks when it accepts a resource (and when it instantiates a
 * typed_config extension), before any of its own semantic checks. Envoy cannot run beside these
 * tests, so generated resources are held to its rules here.
 *
 * The message is encoded and decoded first, so the walk sees what Envoy would receive (fields
 * protobufjs drops are gone, enums are names, Any values are bytes). Semantics follow PGV:
 * a proto3 scalar outside a oneof is checked even when unset (it *is* its default value);
 * message, oneof-member and wrapper fields only when set, except `required`; typed_config Anys
 * are opened and checked when their type is one protos.ts loads.
 *
 * A rule this evaluator does not implement is reported as a finding (rule `...:unsupported`)
 * rather than passed, so a gap cannot hide a violation.
 */
import { isIP } from 'node:net';
import protobuf from 'protobufjs';
import RE2 from 're2';
import { CONVERSION, messageType } from './protos.js';

export interface RuleFinding {
  /** Field path from the root message, e.g. `Cluster.load_assignment.endpoints[0].lb_endpoints`. */
  readonly path: string;
  /** The PGV rule, e.g. `string.min_len`, `repeated.min_items`, `oneof.required`. */
  readonly rule: string;
  /** What was expected. */
  readonly message: string;
}

type Rules = Record<string, unknown>;
type Decoded = Record<string, unknown>;

/** Checks `object` (a plain message object, as encodeMessage takes) against its PGV rules. */
export function validateRules(typeNameOrUrl: string, object: object): RuleFinding[] {
  return validateMessage(messageType(typeNameOrUrl), object);
}

/** The same, for a message type from any protobufjs root (parsed with its options kept). */
export function validateMessage(type: protobuf.Type, object: object): RuleFinding[] {
  const decoded = type.toObject(type.decode(type.encode(type.fromObject(object)).finish()), CONVERSION);
  const out: RuleFinding[] = [];
  checkMessage(type, decoded, type.name, out);
  return out;
}

const WRAPPERS: Record<string, string> = {
  '.google.protobuf.DoubleValue': 'double',
  '.google.protobuf.FloatValue': 'float',
  '.google.protobuf.Int64Value': 'int64',
  '.google.protobuf.UInt64Value': 'uint64',
  '.google.protobuf.Int32Value': 'int32',
  '.google.protobuf.UInt32Value': 'uint32',
  '.google.protobuf.BoolValue': 'bool',
  '.google.protobuf.StringValue': 'string',
  '.google.protobuf.BytesValue': 'bytes',
};

const NUMERIC = new Set([
  'float',
  'double',
  'int32',
  'int64',
  'uint32',
  'uint64',
  'sint32',
  'sint64',
  'fixed32',
  'fixed64',
  'sfixed32',
  'sfixed64',
]);

/** An option as protobufjs parsed it: `parsedOptions` is a list of `{ "(name)": value }`. */
function option(parsed: unknown, name: string): unknown {
  if (!Array.isArray(parsed)) return undefined;
  let found: unknown;
  for (const entry of parsed as Record<string, unknown>[]) {
    if (!(name in entry)) continue;
    const value = entry[name];
    // `[(validate.rules).message.required = true, (validate.rules).duration.gt = {}]` arrives as
    // two entries; they are one FieldRules.
    found = isObject(found) && isObject(value) ? { ...found, ...value } : value;
  }
  return found;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function list(v: unknown): unknown[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function checkMessage(type: protobuf.Type, msg: Decoded, path: string, out: RuleFinding[]): void {
  if (option(type.parsedOptions, '(validate.disabled)') === true) return;
  if (type.fullName === '.google.protobuf.Any') {
    checkAnyContent(msg, path, out);
    return;
  }
  for (const oneof of type.oneofsArray) {
    if (option(oneof.parsedOptions, '(validate.required)') !== true) continue;
    if (!oneof.oneof.some((name) => msg[name] !== undefined && msg[name] !== null)) {
      out.push({
        path: `${path}.${oneof.name}`,
        rule: 'oneof.required',
        message: `one of ${oneof.oneof.join(', ')} must be set`,
      });
    }
  }
  for (const field of type.fieldsArray) {
    field.resolve();
    const rules = (option(field.parsedOptions, '(validate.rules)') ?? {}) as Rules;
    const value = msg[field.name];
    const fieldPath = `${path}.${field.name}`;
    if (field instanceof protobuf.MapField) {
      checkMap(field, (value ?? {}) as Decoded, rules, fieldPath, out);
    } else if (field.repeated) {
      checkRepeated(field, (value ?? []) as unknown[], rules, fieldPath, out);
    } else {
      // Oneof members (and proto3 `optional`) have presence: unset means not there at all.
      const present = value !== undefined || field.partOf === null;
      checkValue(field, value, present, rules, fieldPath, out);
    }
  }
}

function checkRepeated(
  field: protobuf.FieldBase,
  items: unknown[],
  rules: Rules,
  path: string,
  out: RuleFinding[],
): void {
  const r = rules.repeated as Rules | undefined;
  if (r !== undefined) {
    const n = items.length;
    if (r.min_items !== undefined && n < Number(r.min_items))
      out.push({
        path,
        rule: 'repeated.min_items',
        message: `at least ${Number(r.min_items)} item(s), got ${n}`,
      });
    if (r.max_items !== undefined && n > Number(r.max_items))
      out.push({
        path,
        rule: 'repeated.max_items',
        message: `at most ${Number(r.max_items)} item(s), got ${n}`,
      });
    if (r.unique === true) {
      const seen = new Set(items.map((i) => JSON.stringify(i)));
      if (seen.size !== n) out.push({ path, rule: 'repeated.unique', message: 'items must be unique' });
    }
    reportUnsupported(r, ['min_items', 'max_items', 'unique', 'items'], 'repeated', path, out);
  }
  const itemRules = (r?.items ?? {}) as Rules;
  items.forEach((item, i) => checkValue(field, item, true, itemRules, `${path}[${i}]`, out));
}

function checkMap(
  field: protobuf.MapField,
  entries: Decoded,
  rules: Rules,
  path: string,
  out: RuleFinding[],
): void {
  const r = rules.map as Rules | undefined;
  const keys = Object.keys(entries);
  if (r !== undefined) {
    if (r.min_pairs !== undefined && keys.length < Number(r.min_pairs))
      out.push({
        path,
        rule: 'map.min_pairs',
        message: `at least ${Number(r.min_pairs)} pair(s), got ${keys.length}`,
      });
    if (r.max_pairs !== undefined && keys.length > Number(r.max_pairs))
      out.push({
        path,
        rule: 'map.max_pairs',
        message: `at most ${Number(r.max_pairs)} pair(s), got ${keys.length}`,
      });
    reportUnsupported(r, ['min_pairs', 'max_pairs', 'keys', 'values', 'no_sparse'], 'map', path, out);
  }
  for (const key of keys) {
    const keyRules = (r?.keys ?? {}) as Rules;
    const keyValue = field.keyType === 'string' ? key : Number(key);
    checkScalar(field.keyType, keyValue, keyRules, `${path}[${key}]<key>`, out);
    checkValue(field, entries[key], true, (r?.values ?? {}) as Rules, `${path}[${key}]`, out);
  }
}

/** One value of `field` (the field itself, a list item or a map value). */
function checkValue(
  field: protobuf.FieldBase,
  value: unknown,
  present: boolean,
  rules: Rules,
  path: string,
  out: RuleFinding[],
): void {
  const resolved = field.resolvedType;
  // An unset oneof member is not there to check, not even for `required`.
  if (!present) return;
  if (resolved instanceof protobuf.Type) {
    checkMessageField(resolved, value as Decoded | undefined, rules, path, out);
    return;
  }
  if (resolved instanceof protobuf.Enum) {
    checkEnum(resolved, value ?? resolved.valuesById[0] ?? 0, (rules.enum ?? {}) as Rules, rules, path, out);
    return;
  }
  checkScalar(field.type, value ?? defaultOf(field.type), rules, path, out);
}

function defaultOf(type: string): unknown {
  if (type === 'string') return '';
  if (type === 'bool') return false;
  if (type === 'bytes') return new Uint8Array(0);
  return 0;
}

function checkMessageField(
  type: protobuf.Type,
  value: Decoded | undefined | null,
  rules: Rules,
  path: string,
  out: RuleFinding[],
): void {
  const messageRules = (rules.message ?? {}) as Rules;
  const name = type.fullName;
  const kindRules = (
    name === '.google.protobuf.Duration'
      ? rules.duration
      : name === '.google.protobuf.Timestamp'
        ? rules.timestamp
        : name === '.google.protobuf.Any'
          ? rules.any
          : undefined
  ) as Rules | undefined;
  if (value === undefined || value === null) {
    if (messageRules.required === true || kindRules?.required === true)
      out.push({
        path,
        rule: messageRules.required === true ? 'message.required' : `${kindName(name)}.required`,
        message: 'value is required',
      });
    return;
  }
  const wrapped = WRAPPERS[name];
  if (wrapped !== undefined) {
    checkScalar(wrapped, value.value ?? defaultOf(wrapped), rules, path, out);
    return;
  }
  if (kindRules !== undefined) {
    if (name === '.google.protobuf.Any') checkAnyRules(value, kindRules, path, out);
    else checkTimeRules(kindName(name), value, kindRules, path, out);
  }
  if (messageRules.skip === true) return;
  checkMessage(type, value, path, out);
}

function kindName(fullName: string): string {
  return fullName.slice(fullName.lastIndexOf('.') + 1).toLowerCase();
}

function checkAnyRules(any: Decoded, r: Rules, path: string, out: RuleFinding[]): void {
  const url = typeof any.type_url === 'string' ? any.type_url : '';
  const allowed = list(r.in);
  if (allowed.length > 0 && !allowed.includes(url))
    out.push({ path, rule: 'any.in', message: `type_url must be one of ${allowed.join(', ')}, got ${url}` });
  if (list(r.not_in).includes(url))
    out.push({ path, rule: 'any.not_in', message: `type_url ${url} is not allowed` });
  reportUnsupported(r, ['required', 'in', 'not_in'], 'any', path, out);
}

/** An Any's content is checked as its own message when protos.ts knows the type. */
function checkAnyContent(any: Decoded, path: string, out: RuleFinding[]): void {
  const url = typeof any.type_url === 'string' ? any.type_url : '';
  let type: protobuf.Type;
  try {
    type = messageType(url);
  } catch {
    return;
  }
  const bytes = any.value instanceof Uint8Array ? any.value : new Uint8Array(0);
  checkMessage(type, type.toObject(type.decode(bytes), CONVERSION), `${path}<${type.name}>`, out);
}

function nanosOf(d: unknown): bigint {
  const o = (isObject(d) ? d : {}) as { seconds?: number | string; nanos?: number };
  return BigInt(o.seconds ?? 0) * 1_000_000_000n + BigInt(o.nanos ?? 0);
}

function checkTimeRules(kind: string, value: Decoded, r: Rules, path: string, out: RuleFinding[]): void {
  const v = nanosOf(value);
  const show = (n: bigint): string => `${Number(n) / 1e9}s`;
  const bound = (key: string): bigint | undefined => (r[key] === undefined ? undefined : nanosOf(r[key]));
  for (const problem of rangeProblems(
    v,
    bound('const'),
    bound('lt'),
    bound('lte'),
    bound('gt'),
    bound('gte'),
    show,
  )) {
    out.push({ path, rule: `${kind}.${problem.rule}`, message: problem.message });
  }
  const allowed = list(r.in).map(nanosOf);
  if (allowed.length > 0 && !allowed.includes(v))
    out.push({ path, rule: `${kind}.in`, message: `must be one of ${allowed.map(show).join(', ')}` });
  if (list(r.not_in).map(nanosOf).includes(v))
    out.push({ path, rule: `${kind}.not_in`, message: `must not be ${show(v)}` });
  reportUnsupported(r, ['required', 'const', 'lt', 'lte', 'gt', 'gte', 'in', 'not_in'], kind, path, out);
}

/**
 * PGV's range semantics: with both bounds, lower < upper means inside the range and
 * lower > upper means outside it (`gt: 10, lt: 5` = "not within [5, 10]").
 */
function rangeProblems<T extends number | bigint>(
  v: T,
  constant: T | undefined,
  lt: T | undefined,
  lte: T | undefined,
  gt: T | undefined,
  gte: T | undefined,
  show: (n: T) => string,
): { rule: string; message: string }[] {
  const problems: { rule: string; message: string }[] = [];
  if (constant !== undefined && v !== constant)
    problems.push({ rule: 'const', message: `must equal ${show(constant)}, got ${show(v)}` });
  const upper = lt ?? lte;
  const lower = gt ?? gte;
  const upperRule = lt !== undefined ? 'lt' : 'lte';
  const lowerRule = gt !== undefined ? 'gt' : 'gte';
  const belowUpper = upper === undefined || (lt !== undefined ? v < upper : v <= upper);
  const aboveLower = lower === undefined || (gt !== undefined ? v > lower : v >= lower);
  const text = (rule: string, n: T): string =>
    `${{ lt: 'less than', lte: 'at most', gt: 'greater than', gte: 'at least' }[rule]} ${show(n)}`;
  if (upper !== undefined && lower !== undefined && lower > upper) {
    if (!belowUpper && !aboveLower)
      problems.push({
        rule: `${lowerRule}`,
        message: `must be ${text(upperRule, upper)} or ${text(lowerRule, lower)}, got ${show(v)}`,
      });
    return problems;
  }
  if (!belowUpper)
    problems.push({ rule: upperRule, message: `must be ${text(upperRule, upper)}, got ${show(v)}` });
  if (!aboveLower)
    problems.push({ rule: lowerRule, message: `must be ${text(lowerRule, lower)}, got ${show(v)}` });
  return problems;
}

function checkEnum(
  type: protobuf.Enum,
  value: unknown,
  r: Rules,
  _all: Rules,
  path: string,
  out: RuleFinding[],
): void {
  const number = typeof value === 'string' ? type.values[value] : (value as number);
  if (r.defined_only === true && (number === undefined || type.valuesById[number] === undefined))
    out.push({
      path,
      rule: 'enum.defined_only',
      message: `${String(value)} is not a value of ${type.fullName.slice(1)}`,
    });
  if (r.const !== undefined && number !== Number(r.const))
    out.push({
      path,
      rule: 'enum.const',
      message: `must be ${type.valuesById[Number(r.const)] ?? Number(r.const)}`,
    });
  const allowed = list(r.in).map(Number);
  if (allowed.length > 0 && (number === undefined || !allowed.includes(number)))
    out.push({
      path,
      rule: 'enum.in',
      message: `must be one of ${allowed.map((n) => type.valuesById[n] ?? n).join(', ')}`,
    });
  if (number !== undefined && list(r.not_in).map(Number).includes(number))
    out.push({ path, rule: 'enum.not_in', message: `${String(value)} is not allowed` });
  reportUnsupported(r, ['defined_only', 'const', 'in', 'not_in'], 'enum', path, out);
}

/** A scalar (or wrapped scalar) against the rules for its kind. */
function checkScalar(kind: string, value: unknown, rules: Rules, path: string, out: RuleFinding[]): void {
  if (kind === 'string') {
    if (rules.string !== undefined) checkString(String(value), rules.string as Rules, path, out);
  } else if (NUMERIC.has(kind)) {
    const r = rules[kind] as Rules | undefined;
    if (r === undefined) return;
    const v = Number(value);
    const num = (key: string): number | undefined => (r[key] === undefined ? undefined : Number(r[key]));
    for (const p of rangeProblems(v, num('const'), num('lt'), num('lte'), num('gt'), num('gte'), String))
      out.push({ path, rule: `${kind}.${p.rule}`, message: p.message });
    const allowed = list(r.in).map(Number);
    if (allowed.length > 0 && !allowed.includes(v))
      out.push({ path, rule: `${kind}.in`, message: `must be one of ${allowed.join(', ')}, got ${v}` });
    if (list(r.not_in).map(Number).includes(v))
      out.push({ path, rule: `${kind}.not_in`, message: `${v} is not allowed` });
    reportUnsupported(r, ['const', 'lt', 'lte', 'gt', 'gte', 'in', 'not_in'], kind, path, out);
  } else if (kind === 'bool') {
    const r = rules.bool as Rules | undefined;
    if (r?.const !== undefined && value !== r.const)
      out.push({ path, rule: 'bool.const', message: `must be ${JSON.stringify(r.const)}` });
  } else if (kind === 'bytes') {
    const r = rules.bytes as Rules | undefined;
    if (r === undefined) return;
    const n = value instanceof Uint8Array ? value.length : Buffer.byteLength(String(value));
    if (r.min_len !== undefined && n < Number(r.min_len))
      out.push({ path, rule: 'bytes.min_len', message: `at least ${Number(r.min_len)} byte(s), got ${n}` });
    if (r.max_len !== undefined && n > Number(r.max_len))
      out.push({ path, rule: 'bytes.max_len', message: `at most ${Number(r.max_len)} byte(s), got ${n}` });
    if (r.len !== undefined && n !== Number(r.len))
      out.push({ path, rule: 'bytes.len', message: `exactly ${Number(r.len)} byte(s), got ${n}` });
    reportUnsupported(r, ['min_len', 'max_len', 'len'], 'bytes', path, out);
  }
}

/* eslint-disable no-control-regex -- the patterns are about control characters */
/** PGV's KnownRegex patterns: strict follows RFC 7230 tokens; lax only bans NUL, CR and LF. */
const KNOWN_REGEX: Record<string, { strict: RegExp; lax: RegExp }> = {
  HTTP_HEADER_NAME: {
    strict: /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/,
    lax: /^[^\u0000\n\r]*$/,
  },
  HTTP_HEADER_VALUE: {
    strict: /^[^\u0000-\u0008\n-\u001f\u007f]*$/,
    lax: /^[^\u0000\n\r]*$/,
  },
};
/* eslint-enable no-control-regex */

function checkString(s: string, r: Rules, path: string, out: RuleFinding[]): void {
  const push = (rule: string, message: string): void => {
    out.push({ path, rule: `string.${rule}`, message });
  };
  const runes = [...s].length;
  const bytes = Buffer.byteLength(s);
  const n = (key: string): number => Number(r[key]);
  if (r.const !== undefined && s !== r.const) push('const', `must equal ${JSON.stringify(r.const)}`);
  if (r.len !== undefined && runes !== n('len'))
    push('len', `exactly ${n('len')} character(s), got ${runes}`);
  if (r.min_len !== undefined && runes < n('min_len'))
    push('min_len', `at least ${n('min_len')} character(s), got ${runes}`);
  if (r.max_len !== undefined && runes > n('max_len'))
    push('max_len', `at most ${n('max_len')} character(s), got ${runes}`);
  if (r.len_bytes !== undefined && bytes !== n('len_bytes'))
    push('len_bytes', `exactly ${n('len_bytes')} byte(s), got ${bytes}`);
  if (r.min_bytes !== undefined && bytes < n('min_bytes'))
    push('min_bytes', `at least ${n('min_bytes')} byte(s), got ${bytes}`);
  if (r.max_bytes !== undefined && bytes > n('max_bytes'))
    push('max_bytes', `at most ${n('max_bytes')} byte(s), got ${bytes}`);
  if (typeof r.pattern === 'string' && !new RE2(r.pattern).test(s))
    push('pattern', `must match ${r.pattern}`);
  if (typeof r.prefix === 'string' && !s.startsWith(r.prefix))
    push('prefix', `must start with ${JSON.stringify(r.prefix)}`);
  if (typeof r.suffix === 'string' && !s.endsWith(r.suffix))
    push('suffix', `must end with ${JSON.stringify(r.suffix)}`);
  if (typeof r.contains === 'string' && !s.includes(r.contains))
    push('contains', `must contain ${JSON.stringify(r.contains)}`);
  if (typeof r.not_contains === 'string' && s.includes(r.not_contains))
    push('not_contains', `must not contain ${JSON.stringify(r.not_contains)}`);
  const allowed = list(r.in).map(String);
  if (allowed.length > 0 && !allowed.includes(s))
    push('in', `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
  if (list(r.not_in).map(String).includes(s)) push('not_in', `${JSON.stringify(s)} is not allowed`);
  if (r.well_known_regex !== undefined) {
    const name = JSON.stringify(r.well_known_regex).replaceAll('"', '');
    const known = KNOWN_REGEX[name];
    if (known === undefined) push('well_known_regex:unsupported', `unknown regex ${name}`);
    else if (!(r.strict === false ? known.lax : known.strict).test(s))
      push('well_known_regex', `${JSON.stringify(s)} is not a valid ${name}`);
  }
  if (r.ip === true && isIP(s) === 0) push('ip', `${JSON.stringify(s)} is not an IP address`);
  if (r.ipv4 === true && isIP(s) !== 4) push('ipv4', `${JSON.stringify(s)} is not an IPv4 address`);
  if (r.ipv6 === true && isIP(s) !== 6) push('ipv6', `${JSON.stringify(s)} is not an IPv6 address`);
  if (r.hostname === true && !isHostname(s)) push('hostname', `${JSON.stringify(s)} is not a hostname`);
  if (r.address === true && isIP(s) === 0 && !isHostname(s))
    push('address', `${JSON.stringify(s)} is not an IP address or hostname`);
  reportUnsupported(
    r,
    [
      'const',
      'len',
      'min_len',
      'max_len',
      'len_bytes',
      'min_bytes',
      'max_bytes',
      'pattern',
      'prefix',
      'suffix',
      'contains',
      'not_contains',
      'in',
      'not_in',
      'well_known_regex',
      'strict',
      'ip',
      'ipv4',
      'ipv6',
      'hostname',
      'address',
    ],
    'string',
    path,
    out,
  );
}

/** RFC 1034 host names as PGV checks them: labels of letters, digits and inner hyphens. */
function isHostname(s: string): boolean {
  const name = s.endsWith('.') ? s.slice(0, -1) : s;
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((label) => /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/.test(label));
}

function reportUnsupported(
  r: Rules,
  known: readonly string[],
  kind: string,
  path: string,
  out: RuleFinding[],
): void {
  for (const key of Object.keys(r)) {
    if (!known.includes(key))
      out.push({
        path,
        rule: `${kind}.${key}:unsupported`,
        message: 'this rule is not implemented by validate-rules.ts',
      });
  }
}
