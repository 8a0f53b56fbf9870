import { TrellisError } from '../../core/errors.js';
import { protoDurationToMs } from '../../core/duration.js';
import type { Random } from '../../core/random.js';

/**
 * Small readers for values as protobufjs decodes Envoy protos (snake_case, wrappers as
 * `{ value }`, Durations as `{ seconds, nanos }`, enums as strings). Every policy module reads
 * its config through these so that defaults and bad values are handled the same way.
 *
 * Exports:
 *   type Wrapped<T>               T | { value?: T } (google.protobuf.*Value as decoded)
 *   unwrap(v, fallback)            the wrapped value or the fallback
 *   durationMs(d, fallback)        Duration -> milliseconds
 *   type FractionalPercentConfig   { numerator?, denominator?: 'HUNDRED'|'TEN_THOUSAND'|'MILLION' }
 *   fractionHits(fp, random)       true with the probability the fraction describes
 *   fractionOf(fp)                 the fraction as a number in [0, 1]
 *   type RuntimeFractionalPercentConfig  { default_value?, runtime_key? }
 */
export type Wrapped<T> = T | { value?: T | null } | null | undefined;

/**
 * A wrapper that is present but holds the zero value decodes as `{}` (proto3 leaves default
 * scalars out), so `{}` means 0 / false / '' (the zero of the fallback's type), never "unset":
 * `max_retries: { value: 0 }` must disable retries, not fall back to Envoy's default of 3.
 */
export function unwrap<T>(v: Wrapped<T>, fallback: T): T {
  if (v === null || v === undefined) return fallback;
  if (typeof v === 'object' && !Array.isArray(v)) {
    const inner = (v as { value?: T | null }).value;
    if (inner !== null && inner !== undefined) return inner;
    return zeroLike(fallback);
  }
  return v;
}

function zeroLike<T>(fallback: T): T {
  switch (typeof fallback) {
    case 'number':
      return 0 as T;
    case 'boolean':
      return false as T;
    case 'string':
      return '' as T;
    case 'bigint':
      return 0n as T;
    default:
      return fallback;
  }
}

export type DurationConfig = { seconds?: number | string | null; nanos?: number | null } | null | undefined;

export function durationMs(d: DurationConfig, fallback: number): number {
  return protoDurationToMs(d) ?? fallback;
}

export type DenominatorName = 'HUNDRED' | 'TEN_THOUSAND' | 'MILLION';

export interface FractionalPercentConfig {
  numerator?: number | null;
  denominator?: DenominatorName | number | null;
}

export interface RuntimeFractionalPercentConfig {
  default_value?: FractionalPercentConfig | null;
  /** Trellis has no runtime layer: the key is accepted and the default value always applies. */
  runtime_key?: string | null;
}

const DENOMINATORS: Record<string, number> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };
// protobufjs may hand out the enum's number when a message was built by hand.
const DENOMINATOR_BY_NUMBER = [100, 10_000, 1_000_000];

export function denominatorOf(fp: FractionalPercentConfig, path = ''): number {
  const d = fp.denominator ?? 'HUNDRED';
  const value = typeof d === 'number' ? DENOMINATOR_BY_NUMBER[d] : DENOMINATORS[d];
  if (value === undefined) {
    throw new TrellisError(
      'TRELLIS_INVALID_CONFIG',
      `unknown denominator ${JSON.stringify(d)}: expected HUNDRED, TEN_THOUSAND or MILLION`,
      { path: path ? `${path}.denominator` : 'denominator' },
    );
  }
  return value;
}

export function fractionOf(fp: FractionalPercentConfig | null | undefined): number {
  if (fp === null || fp === undefined) return 0;
  const denominator = denominatorOf(fp);
  return Math.min(1, Math.max(0, (fp.numerator ?? 0) / denominator));
}

/**
 * Envoy draws `random % denominator < numerator`; drawing an integer in [0, denominator) from
 * a uniform [0, 1) number is the same test. An absent fraction never hits (proto default 0).
 */
export function fractionHits(fp: FractionalPercentConfig | null | undefined, random: Random): boolean {
  if (fp === null || fp === undefined) return false;
  const denominator = denominatorOf(fp);
  const numerator = fp.numerator ?? 0;
  if (numerator <= 0) return false;
  if (numerator >= denominator) return true;
  return Math.floor(random() * denominator) < numerator;
}

/** Runtime fractions (route runtime_fraction, filter_enabled): Trellis uses the default value. */
export function runtimeFractionHits(
  rf: RuntimeFractionalPercentConfig | null | undefined,
  random: Random,
  ifAbsent: boolean,
): boolean {
  if (rf === null || rf === undefined || rf.default_value === null || rf.default_value === undefined) {
    return ifAbsent;
  }
  return fractionHits(rf.default_value, random);
}

export function invalid(path: string, message: string): TrellisError {
  return new TrellisError('TRELLIS_INVALID_CONFIG', message, { path });
}

export function unsupported(path: string, message: string): TrellisError {
  return new TrellisError('TRELLIS_UNSUPPORTED', message, { path });
}
