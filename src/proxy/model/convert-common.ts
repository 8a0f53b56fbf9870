/**
 * Helpers shared by the resource converters: field allowlists (so an Envoy field the proxy
 * does not implement is rejected with its path instead of silently ignored), durations,
 * header mutations and string matchers compiled with RE2.
 */
import RE2 from 're2';
import { isTrellisError, type Problems } from '../../core/errors.js';
import { protoDurationToMs } from '../../core/duration.js';
import type { HeaderMutation, HeaderToAdd } from './config.js';
import type {
  Duration__Output,
  HeaderValueOption__Output,
  Struct__Output,
  Value__Output,
} from '../../protocol/envoy-types.js';

/**
 * Reports every field of `msg` that is not in `known`. protobufjs adds a virtual field per
 * oneof holding the chosen member's name (`path_specifier: 'prefix'`); those are skipped.
 */
export function checkFields(msg: object, path: string, known: ReadonlySet<string>, problems: Problems): void {
  const record = msg as Record<string, unknown>;
  for (const [key, value] of Object.entries(record)) {
    if (value === undefined || known.has(key)) continue;
    if (typeof value === 'string' && value !== key && record[value] !== undefined) continue;
    problems.error(`${path}.${key}`, 'field is not supported by the Trellis proxy');
  }
}

export function fieldSet(...names: string[]): ReadonlySet<string> {
  return new Set(names);
}

export function durationMs(d: Duration__Output | undefined, fallback: number): number {
  return protoDurationToMs(d) ?? fallback;
}

export function headerMutation(
  add: HeaderValueOption__Output[] | undefined,
  remove: string[] | undefined,
  path: string,
  problems: Problems,
): HeaderMutation {
  const out: HeaderToAdd[] = [];
  (add ?? []).forEach((h, i) => {
    const key = h.header?.key?.toLowerCase() ?? '';
    if (key === '') {
      problems.error(`${path}[${i}].header.key`, 'must be a non-empty header name');
      return;
    }
    const action = h.append_action ?? 'APPEND_IF_EXISTS_OR_ADD';
    // The deprecated `append` wrapper wins when set, as in Envoy.
    const append = h.append !== undefined ? (h.append.value ?? false) : action === 'APPEND_IF_EXISTS_OR_ADD';
    out.push({
      key,
      value: h.header?.value ?? '',
      append,
      onlyIfAbsent: h.append === undefined && action === 'ADD_IF_ABSENT',
    });
  });
  return Object.freeze({
    add: Object.freeze(out),
    remove: Object.freeze((remove ?? []).map((r) => r.toLowerCase())),
  });
}

/** Compiles an RE2 pattern anchored at both ends (Envoy's safe_regex is a full match). */
export function compileRegex(
  pattern: string | undefined,
  path: string,
  problems: Problems,
  flags = '',
): RegExp | undefined {
  if (pattern === undefined || pattern === '') {
    problems.error(path, 'regex must be non-empty');
    return undefined;
  }
  try {
    return new RE2(`^(?:${pattern})$`, flags);
  } catch (err) {
    problems.error(path, `invalid RE2 regex ${JSON.stringify(pattern)}: ${(err as Error).message}`);
    return undefined;
  }
}

/** Compiles without anchors, for rewrites that substitute every match. */
export function compileRewriteRegex(
  pattern: string | undefined,
  path: string,
  problems: Problems,
): RegExp | undefined {
  if (pattern === undefined || pattern === '') {
    problems.error(path, 'regex must be non-empty');
    return undefined;
  }
  try {
    return new RE2(pattern, 'g');
  } catch (err) {
    problems.error(path, `invalid RE2 regex ${JSON.stringify(pattern)}: ${(err as Error).message}`);
    return undefined;
  }
}

/** google.protobuf.Struct -> plain JSON. */
export function structToJson(s: Struct__Output | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s?.fields ?? {})) out[k] = valueToJson(v);
  return out;
}

function valueToJson(v: Value__Output): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.numberValue !== undefined) return v.numberValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.structValue !== undefined) return structToJson(v.structValue);
  if (v.listValue !== undefined) return (v.listValue.values ?? []).map(valueToJson);
  return null;
}

/**
 * google.protobuf wrapper values. A wrapper holding the proto default (0, false) decodes as `{}`,
 * so a present wrapper without `value` means 0/false, and only an absent one takes the fallback.
 */
export function u32(w: { value?: number } | undefined, fallback: number): number {
  return w === undefined ? fallback : (w.value ?? 0);
}

export function bool(w: { value?: boolean } | undefined, fallback: boolean): boolean {
  return w === undefined ? fallback : (w.value ?? false);
}

/** Runs a policy compiler, turning its TrellisError into a problem with the field path. */
export function compiled<T>(compile: () => T, problems: Problems, fallback: T): T {
  try {
    return compile();
  } catch (err) {
    if (isTrellisError(err)) problems.error(err.path ?? '', err.message);
    else problems.error('', (err as Error).message);
    return fallback;
  }
}
