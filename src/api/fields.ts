/**
 * Reading untyped YAML/JSON values against a schema while collecting every problem with its
 * field path. Validators for each kind are written on top of this; they never throw.
 * `null` counts as absent, as protobuf JSON treats it.
 */
import RE2 from 're2';
import { tryParseDuration } from '../core/duration.js';
import type { Problems } from '../core/errors.js';

export type Obj = Record<string, unknown>;

export function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isAbsent(value: unknown): value is null | undefined {
  return value === undefined || value === null;
}

export function fieldPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

export function itemPath(path: string, index: number): string {
  return `${path}[${index}]`;
}

/**
 * "a string", "a list", ... for "expected X, got Y" messages. `quote: false` never repeats a
 * string's content (Secrets: a misplaced private key must not end up in logs and API errors).
 */
export function describeValue(value: unknown, quote = true): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return quote ? `the string ${JSON.stringify(value)}` : 'a string';
    case 'number':
      return `the number ${value}`;
    case 'boolean':
      return `the boolean ${value}`;
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

export interface RequiredOption {
  /** Report `required` when the field is absent. */
  required?: boolean;
}

export interface NumberOptions extends RequiredOption {
  integer?: boolean;
  min?: number;
  max?: number;
}

export interface ListOptions extends RequiredOption {
  /** Report an empty list (present or, with required, absent) as an error. */
  nonEmpty?: boolean;
}

export interface DurationOptions extends RequiredOption {
  /** Accept `0s` (e.g. a session cookie's ttl). Otherwise durations must be at least 1ms. */
  allowZero?: boolean;
}

/** An item of a list together with its field path. */
export interface Item {
  value: unknown;
  path: string;
}

/** Compiles a regular expression with RE2 (what Envoy uses); returns the error text or undefined. */
export function re2Error(pattern: string): string | undefined {
  try {
    new RE2(pattern, 'u');
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** Typed reads of one untyped document, reporting into a Problems collector. */
export class SpecCheck {
  /** `sensitive`: error messages name the kind of a wrong value, never its content. */
  constructor(
    readonly problems: Problems,
    private readonly sensitive = false,
  ) {}

  private describe(value: unknown): string {
    return describeValue(value, !this.sensitive);
  }

  error(path: string, message: string): void {
    this.problems.error(path, message);
  }

  warning(path: string, message: string): void {
    this.problems.warning(path, message);
  }

  /** An object whose keys must all be in `allowed`; undefined when absent or not an object. */
  object(value: unknown, path: string, allowed: readonly string[]): Obj | undefined {
    if (isAbsent(value)) return undefined;
    if (!isObject(value)) {
      this.error(path, `expected an object, got ${this.describe(value)}`);
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) {
        this.error(fieldPath(path, key), `unknown field; allowed: ${allowed.join(', ')}`);
      }
    }
    return value;
  }

  /** The object at `o[key]`, checked like object(); reports `required` when asked. */
  child(
    o: Obj,
    key: string,
    path: string,
    allowed: readonly string[],
    opts: RequiredOption = {},
  ): Obj | undefined {
    if (opts.required && !this.present(o, key, path)) return undefined;
    return this.object(o[key], fieldPath(path, key), allowed);
  }

  /** True when `o[key]` is set; otherwise reports `PATH.key: required`. */
  present(o: Obj, key: string, path: string): boolean {
    if (!isAbsent(o[key])) return true;
    this.error(fieldPath(path, key), 'required');
    return false;
  }

  string(o: Obj, key: string, path: string, opts: RequiredOption = {}): string | undefined {
    const value = o[key];
    const p = fieldPath(path, key);
    if (isAbsent(value)) {
      if (opts.required) this.error(p, 'required');
      return undefined;
    }
    if (typeof value !== 'string') {
      this.error(p, `expected a string, got ${this.describe(value)}`);
      return undefined;
    }
    if (opts.required && value === '') {
      this.error(p, 'required; must not be empty');
      return undefined;
    }
    return value;
  }

  number(o: Obj, key: string, path: string, opts: NumberOptions = {}): number | undefined {
    const value = o[key];
    const p = fieldPath(path, key);
    if (isAbsent(value)) {
      if (opts.required) this.error(p, 'required');
      return undefined;
    }
    const kind = opts.integer ? 'a whole number' : 'a number';
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      this.error(p, `expected ${kind}, got ${this.describe(value)}`);
      return undefined;
    }
    if (opts.integer && !Number.isInteger(value)) {
      this.error(p, `expected ${kind}, got ${value}`);
      return undefined;
    }
    const { min, max } = opts;
    if ((min !== undefined && value < min) || (max !== undefined && value > max)) {
      const range =
        min !== undefined && max !== undefined
          ? `${min}..${max}`
          : min !== undefined
            ? `>= ${min}`
            : `<= ${max ?? ''}`;
      this.error(p, `${value} is out of range; expected ${range}`);
      return undefined;
    }
    return value;
  }

  int(o: Obj, key: string, path: string, opts: NumberOptions = {}): number | undefined {
    return this.number(o, key, path, { ...opts, integer: true });
  }

  /** A port number, 1..65535. */
  port(o: Obj, key: string, path: string, opts: RequiredOption = {}): number | undefined {
    return this.int(o, key, path, { ...opts, min: 1, max: 65535 });
  }

  bool(o: Obj, key: string, path: string): boolean | undefined {
    const value = o[key];
    if (isAbsent(value)) return undefined;
    if (typeof value !== 'boolean') {
      this.error(fieldPath(path, key), `expected true or false, got ${this.describe(value)}`);
      return undefined;
    }
    return value;
  }

  enumValue<T extends string>(
    o: Obj,
    key: string,
    path: string,
    values: readonly T[],
    opts: RequiredOption = {},
  ): T | undefined {
    const value = this.string(o, key, path, opts);
    if (value === undefined) return undefined;
    if (!(values as readonly string[]).includes(value)) {
      this.error(
        fieldPath(path, key),
        `${JSON.stringify(value)} is not valid; expected one of ${values.join(', ')}`,
      );
      return undefined;
    }
    return value as T;
  }

  /**
   * An Istio duration, returned in milliseconds. Istio rejects durations under 1ms and finer
   * than millisecond precision; so does this.
   */
  duration(o: Obj, key: string, path: string, opts: DurationOptions = {}): number | undefined {
    const text = this.string(o, key, path, opts);
    if (text === undefined) return undefined;
    const p = fieldPath(path, key);
    const ms = tryParseDuration(text);
    if (ms === undefined) {
      this.error(
        p,
        `invalid duration ${JSON.stringify(text)}: expected a number with a unit (h, m, s, ms), e.g. "1.5s"`,
      );
      return undefined;
    }
    if (ms === 0 && opts.allowZero) return 0;
    if (ms < 1) {
      this.error(p, `duration ${JSON.stringify(text)} must be at least 1ms`);
      return undefined;
    }
    if (!Number.isInteger(Math.round(ms * 1e6) / 1e6)) {
      this.error(p, `duration ${JSON.stringify(text)}: only millisecond precision is supported`);
      return undefined;
    }
    return ms;
  }

  /** The items of a list with their paths; undefined when absent or not a list. */
  list(o: Obj, key: string, path: string, opts: ListOptions = {}): Item[] | undefined {
    const value = o[key];
    const p = fieldPath(path, key);
    if (isAbsent(value)) {
      if (opts.required) this.error(p, opts.nonEmpty ? 'required; must not be empty' : 'required');
      return undefined;
    }
    if (!Array.isArray(value)) {
      this.error(p, `expected a list, got ${this.describe(value)}`);
      return undefined;
    }
    if (opts.nonEmpty && value.length === 0) {
      this.error(p, opts.required ? 'required; must not be empty' : 'must not be empty');
    }
    return value.map((v: unknown, i) => ({ value: v, path: itemPath(p, i) }));
  }

  /** A list of strings, each with its path; non-strings are reported and left out. */
  stringList(
    o: Obj,
    key: string,
    path: string,
    opts: ListOptions = {},
  ): { value: string; path: string }[] | undefined {
    const items = this.list(o, key, path, opts);
    if (items === undefined) return undefined;
    const out: { value: string; path: string }[] = [];
    for (const item of items) {
      if (typeof item.value !== 'string') {
        this.error(item.path, `expected a string, got ${this.describe(item.value)}`);
      } else {
        out.push({ value: item.value, path: item.path });
      }
    }
    return out;
  }

  /** An object used as a map; returns its entries with their paths. */
  map(o: Obj, key: string, path: string, opts: RequiredOption = {}): Item[] | undefined {
    const value = o[key];
    const p = fieldPath(path, key);
    if (isAbsent(value)) {
      if (opts.required) this.error(p, 'required');
      return undefined;
    }
    if (!isObject(value)) {
      this.error(p, `expected a map, got ${this.describe(value)}`);
      return undefined;
    }
    return Object.entries(value).map(([k, v]) => ({ value: v, path: fieldPath(p, k) }));
  }

  /** A map of string to string (labels, header values); returns the valid entries. */
  stringMap(o: Obj, key: string, path: string): Map<string, string> | undefined {
    const value = o[key];
    if (isAbsent(value)) return undefined;
    const entries = this.map(o, key, path);
    if (entries === undefined || !isObject(value)) return undefined;
    const out = new Map<string, string>();
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== 'string') {
        this.error(fieldPath(fieldPath(path, key), k), `expected a string, got ${this.describe(v)}`);
      } else {
        out.set(k, v);
      }
    }
    return out;
  }

  /** A regular expression that must compile under RE2, as Envoy requires. */
  regex(pattern: string, path: string): void {
    const err = re2Error(pattern);
    if (err !== undefined) this.error(path, `invalid RE2 regex ${JSON.stringify(pattern)}: ${err}`);
  }

  /** Warns when a deprecated field is set. */
  deprecated(o: Obj, key: string, path: string, instead: string): void {
    if (!isAbsent(o[key])) {
      this.warning(fieldPath(path, key), `deprecated; use ${instead} instead`);
    }
  }
}
