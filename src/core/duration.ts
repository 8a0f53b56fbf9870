import { TrellisError } from './errors.js';

/**
 * Durations as Istio writes them: a sequence of number+unit (`1h`, `1.5s`, `100ms`, `2m30s`,
 * `500us`). Protobuf's google.protobuf.Duration is `{ seconds, nanos }`.
 */
const UNIT_MS: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 0.001,
  µs: 0.001,
  ns: 0.000001,
};

const PART = /(\d+(?:\.\d+)?|\.\d+)(h|ms|m|s|us|µs|ns)/y;

/** Parses an Istio duration to milliseconds, or returns undefined when it is not one. */
export function tryParseDuration(text: string): number | undefined {
  if (typeof text !== 'string' || text.length === 0) return undefined;
  let total = 0;
  PART.lastIndex = 0;
  let consumed = 0;
  while (consumed < text.length) {
    PART.lastIndex = consumed;
    const m = PART.exec(text);
    if (m === null) return undefined;
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    consumed = PART.lastIndex;
  }
  return total;
}

export function parseDuration(text: string, path = ''): number {
  const ms = tryParseDuration(text);
  if (ms === undefined) {
    throw new TrellisError(
      'TRELLIS_INVALID_CONFIG',
      `invalid duration ${JSON.stringify(text)}: expected a number with a unit (h, m, s, ms, us), e.g. "1.5s"`,
      { path },
    );
  }
  return ms;
}

export interface ProtoDuration {
  seconds: number | string;
  nanos: number;
}

export function msToProtoDuration(ms: number): ProtoDuration {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1_000_000);
  return { seconds, nanos };
}

export function protoDurationToMs(
  d: { seconds?: number | string | null; nanos?: number | null } | null | undefined,
): number | undefined {
  if (d === null || d === undefined) return undefined;
  return Number(d.seconds ?? 0) * 1000 + (d.nanos ?? 0) / 1_000_000;
}

/** Shortest readable form: `1.5s`, `100ms`, `2m`. */
export function formatDuration(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000) return `${ms / 1000}s`;
  return `${ms}ms`;
}
