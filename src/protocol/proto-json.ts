/**
 * Proto3 JSON of Envoy messages, both ways (the agent's Envoy bootstrap, EnvoyFilter patch values):
 *
 * - `toProtoJson` turns a message (the plain objects protos.ts encodes, typed by the generated
 *   Envoy types) into the JSON Envoy's bootstrap loader parses: original field names, Any as
 *   `{"@type": URL, ...fields}`, Duration as `"1.5s"`, Struct as plain JSON, wrappers as values,
 *   bytes as base64, enums by name.
 * - `fromProtoJson` reads such JSON back as strictly as Envoy does: an unknown field, a wrong
 *   type or an unknown enum name is a problem with its field path (and the closest field name),
 *   so a typo in what we write, or in a file a person edited, cannot pass.
 *
 * Both walk protobufjs types from protos.ts; only the well-known types Envoy bootstraps use
 * (Any, Duration, Struct/Value/ListValue, wrappers, Empty) are supported, the others are
 * reported rather than passed.
 */
import protobuf from 'protobufjs';
import { CONVERSION, messageType } from './protos.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = Record<string, unknown>;

const WRAPPERS = new Set(
  ['Double', 'Float', 'Int64', 'UInt64', 'Int32', 'UInt32', 'Bool', 'String', 'Bytes'].map(
    (w) => `.google.protobuf.${w}Value`,
  ),
);

function fullName(t: protobuf.Type): string {
  return t.fullName;
}

function durationToJson(d: Obj): string {
  const seconds = Number(d.seconds ?? 0);
  const nanos = Number(d.nanos ?? 0);
  // Digits, not float arithmetic: 100 ns is "0.000000100s", never "1e-7s".
  const sign = seconds < 0 || nanos < 0 ? '-' : '';
  const frac = String(Math.abs(nanos)).padStart(9, '0').replace(/0+$/, '');
  return `${sign}${Math.abs(seconds)}${frac ? `.${frac}` : ''}s`;
}

function valueToJson(v: Obj): Json {
  if ('structValue' in v) return structToJson(v.structValue as Obj);
  if ('listValue' in v) return ((v.listValue as Obj).values as Obj[] | undefined)?.map(valueToJson) ?? [];
  if ('stringValue' in v) return v.stringValue as string;
  if ('numberValue' in v) return v.numberValue as number;
  if ('boolValue' in v) return v.boolValue as boolean;
  return null;
}

function structToJson(s: Obj): Json {
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries((s.fields as Record<string, Obj> | undefined) ?? {}))
    out[k] = valueToJson(v);
  return out;
}

/** A decoded message (protos.ts CONVERSION) of `type` as proto3 JSON. */
function messageToJson(type: protobuf.Type, msg: Obj): Json {
  const name = fullName(type);
  if (name === '.google.protobuf.Duration') return durationToJson(msg);
  if (name === '.google.protobuf.Struct') return structToJson(msg);
  if (name === '.google.protobuf.Value') return valueToJson(msg);
  if (WRAPPERS.has(name)) return scalarToJson(type.fields.value as protobuf.Field, msg.value);
  if (name === '.google.protobuf.Any') {
    const url = typeof msg.type_url === 'string' ? msg.type_url : '';
    const inner = messageType(url);
    const decoded = inner.toObject(
      inner.decode((msg.value as Uint8Array | undefined) ?? new Uint8Array()),
      CONVERSION,
    );
    const json = messageToJson(inner, decoded);
    return json !== null && typeof json === 'object' && !Array.isArray(json) && !isSpecial(inner)
      ? { '@type': url, ...json }
      : { '@type': url, value: json };
  }
  const out: Record<string, Json> = {};
  for (const field of type.fieldsArray) {
    const v = msg[field.name];
    if (v === undefined || v === null) continue;
    if (field.map) {
      const m: Record<string, Json> = {};
      for (const [k, x] of Object.entries(v as Obj)) m[k] = fieldValueToJson(field, x);
      out[field.name] = m;
    } else if (field.repeated) out[field.name] = (v as unknown[]).map((x) => fieldValueToJson(field, x));
    else out[field.name] = fieldValueToJson(field, v);
  }
  return out;
}

function isSpecial(t: protobuf.Type): boolean {
  const n = fullName(t);
  return (
    n === '.google.protobuf.Duration' ||
    n === '.google.protobuf.Struct' ||
    n === '.google.protobuf.Value' ||
    WRAPPERS.has(n)
  );
}

function fieldValueToJson(field: protobuf.Field, v: unknown): Json {
  field.resolve();
  if (field.resolvedType instanceof protobuf.Type) return messageToJson(field.resolvedType, v as Obj);
  return scalarToJson(field, v);
}

function scalarToJson(field: protobuf.Field, v: unknown): Json {
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (
    field.type === 'int64' ||
    field.type === 'uint64' ||
    field.type === 'sint64' ||
    field.type === 'fixed64'
  )
    return String(v);
  return v as Json;
}

/** `object` (as encodeMessage takes it) of message `typeName` as proto3 JSON. */
export function toProtoJson(typeName: string, object: object): Json {
  const t = messageType(typeName);
  const decoded = t.toObject(t.decode(t.encode(t.fromObject(object)).finish()), CONVERSION);
  return messageToJson(t, decoded);
}

export interface ProtoJsonProblem {
  path: string;
  message: string;
}

const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

/** The closest name by edit distance, when close enough to be a likely typo. */
function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const c of candidates) {
    const d = distance(name, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] as number;
      row[j] = Math.min(cur + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] as number;
}

/**
 * Reads proto3 JSON of `typeName` strictly; returns the message object (for encodeMessage) and
 * every problem with its field path.
 */
export function fromProtoJson(typeName: string, json: unknown): { value: Obj; problems: ProtoJsonProblem[] } {
  const problems: ProtoJsonProblem[] = [];
  const t = messageType(typeName);
  const value = readMessage(t, json, t.name, problems) as Obj;
  return { value, problems };
}

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function readMessage(type: protobuf.Type, json: unknown, path: string, out: ProtoJsonProblem[]): unknown {
  const name = fullName(type);
  if (name === '.google.protobuf.Duration') {
    const m = typeof json === 'string' ? /^(-?\d+)(?:\.(\d{1,9}))?s$/.exec(json) : null;
    if (!m) {
      out.push({
        path,
        message: `expected a duration such as "1s" or "0.250s", got ${JSON.stringify(json)}`,
      });
      return {};
    }
    // The sign is the whole duration's: -1.5s is -1 s and -500000000 ns.
    const nanos = Number((m[2] ?? '').padEnd(9, '0'));
    return { seconds: Number(m[1]), nanos: (m[1] as string).startsWith('-') ? -nanos : nanos };
  }
  if (name === '.google.protobuf.Struct') {
    if (!isObj(json)) out.push({ path, message: 'expected a JSON object' });
    return {
      fields: Object.fromEntries(Object.entries(isObj(json) ? json : {}).map(([k, v]) => [k, jsonValue(v)])),
    };
  }
  if (name === '.google.protobuf.Value') return jsonValue(json);
  if (WRAPPERS.has(name)) return { value: readScalar(type.fields.value as protobuf.Field, json, path, out) };
  if (!isObj(json)) {
    out.push({ path, message: `expected an object (${type.name}), got ${JSON.stringify(json)}` });
    return {};
  }
  if (name === '.google.protobuf.Any') {
    const url = json['@type'];
    let inner: protobuf.Type;
    try {
      if (typeof url !== 'string') throw new Error('no @type');
      inner = messageType(url);
    } catch {
      out.push({
        path: `${path}.@type`,
        message: `expected the type URL of a message Trellis knows, got ${JSON.stringify(url)}`,
      });
      return {};
    }
    const rest = Object.fromEntries(Object.entries(json).filter(([k]) => k !== '@type'));
    const body = isSpecial(inner) ? rest.value : rest;
    const msg = readMessage(inner, body, `${path}<${inner.name}>`, out);
    return { type_url: url, value: Buffer.from(inner.encode(inner.fromObject(msg as Obj)).finish()) };
  }
  const byName = new Map<string, protobuf.Field>();
  for (const f of type.fieldsArray) {
    byName.set(f.name, f);
    byName.set(camel(f.name), f);
  }
  const result: Obj = {};
  const oneofsSet = new Map<string, string>();
  for (const [key, v] of Object.entries(json)) {
    const field = byName.get(key);
    const at = `${path}.${key}`;
    if (field === undefined) {
      const hint = closest(
        key,
        type.fieldsArray.map((f) => f.name),
      );
      out.push({ path: at, message: `unknown field${hint ? ` (did you mean ${hint}?)` : ''}` });
      continue;
    }
    if (v === null) continue;
    if (field.partOf) {
      const other = oneofsSet.get(field.partOf.name);
      if (other !== undefined)
        out.push({ path: at, message: `${field.partOf.name} is a oneof: ${other} is already set` });
      oneofsSet.set(field.partOf.name, field.name);
    }
    field.resolve();
    if (field.map) {
      if (!isObj(v)) out.push({ path: at, message: 'expected an object (a map)' });
      else
        result[field.name] = Object.fromEntries(
          Object.entries(v).map(([k, x]) => [k, readField(field, x, `${at}[${k}]`, out)]),
        );
    } else if (field.repeated) {
      if (!Array.isArray(v)) out.push({ path: at, message: 'expected a list' });
      else result[field.name] = v.map((x, i) => readField(field, x, `${at}[${i}]`, out));
    } else result[field.name] = readField(field, v, at, out);
  }
  return result;
}

function readField(field: protobuf.Field, v: unknown, path: string, out: ProtoJsonProblem[]): unknown {
  if (field.resolvedType instanceof protobuf.Type) return readMessage(field.resolvedType, v, path, out);
  if (field.resolvedType instanceof protobuf.Enum) {
    const values = field.resolvedType.values;
    if (typeof v === 'string' && v in values) return v;
    if (typeof v === 'number' && Object.values(values).includes(v)) return v;
    out.push({
      path,
      message: `expected one of ${Object.keys(values).join(', ')}, got ${JSON.stringify(v)}`,
    });
    return undefined;
  }
  return readScalar(field, v, path, out);
}

function readScalar(field: protobuf.Field, v: unknown, path: string, out: ProtoJsonProblem[]): unknown {
  const bad = (what: string) => {
    out.push({ path, message: `expected ${what}, got ${JSON.stringify(v)}` });
    return undefined;
  };
  switch (field.type) {
    case 'string':
      return typeof v === 'string' ? v : bad('a string');
    case 'bool':
      return typeof v === 'boolean' ? v : bad('true or false');
    case 'bytes':
      return typeof v === 'string' && /^[A-Za-z0-9+/_-]*={0,2}$/.test(v)
        ? Buffer.from(v, 'base64')
        : bad('base64');
    case 'double':
    case 'float':
      return typeof v === 'number' ? v : bad('a number');
    default: {
      const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n)) return bad('a whole number');
      if (field.type.startsWith('u') && n < 0) return bad('a whole number, 0 or more');
      return n;
    }
  }
}

function jsonValue(v: unknown): Obj {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(jsonValue) } };
  if (isObj(v))
    return {
      structValue: { fields: Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonValue(x)])) },
    };
  return { nullValue: 'NULL_VALUE' };
}
