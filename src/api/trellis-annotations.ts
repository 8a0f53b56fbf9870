/**
 * Trellis's traffic annotations on Istio resources (the conventions of issue #13), parsed in one
 * place: the validator rejects a bad value with its field path and what to write instead, and
 * translation reads the parsed value.
 *
 *   VirtualService  trellis.io/sticky-canary: header:<name> | cookie:<name>
 *                   every weighted route picks by a hash of that value (ordinary weighted picks
 *                   when the request lacks it)
 *   VirtualService  trellis.io/fallback-subset: <subset>
 *                   a destination naming another subset of the same host falls back to this
 *                   subset when its own has no healthy endpoint
 *   DestinationRule trellis.io/retry-budget: {"budgetPercent": 20, "minRetryConcurrency": 3} | off
 *                   the cap on concurrent retries per cluster (Envoy's circuit breaker
 *                   retry_budget); without it Trellis's default budget applies
 */
import type { Problems } from '../core/errors.js';
import { fieldPath, isObject } from './fields.js';
import { dns1123LabelError } from './names.js';

export const STICKY_CANARY_ANNOTATION = 'trellis.io/sticky-canary';
export const FALLBACK_SUBSET_ANNOTATION = 'trellis.io/fallback-subset';
export const RETRY_BUDGET_ANNOTATION = 'trellis.io/retry-budget';

export type StickyKey = { readonly header: string } | { readonly cookie: string };

export interface RetryBudgetSetting {
  /** Percent of active and pending requests that may be retries at once (0-100). */
  readonly budgetPercent: number;
  /** Concurrent retries always allowed, whatever the active count. */
  readonly minRetryConcurrency: number;
}

/** Envoy's defaults for a retry_budget without values: 20% and 3. */
export const DEFAULT_RETRY_BUDGET: RetryBudgetSetting = Object.freeze({
  budgetPercent: 20,
  minRetryConcurrency: 3,
});

type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

// RFC 9110 token characters: what a header or cookie name may hold.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function parseStickyCanary(text: string): Parsed<StickyKey> {
  const m = /^(header|cookie):(.*)$/.exec(text.trim());
  const expected = 'expected header:<name> or cookie:<name>, such as header:x-user-id';
  if (m === null) return { ok: false, message: `${JSON.stringify(text)}: ${expected}` };
  const [, kind, rawName] = m as unknown as [string, 'header' | 'cookie', string];
  const name = rawName.trim();
  if (name === '') return { ok: false, message: `the ${kind} name is empty; ${expected}` };
  if (!TOKEN.test(name)) {
    return {
      ok: false,
      message: `${JSON.stringify(name)} is not a valid ${kind} name (letters, digits and !#$%&'*+-.^_\`|~ only; pseudo-headers such as :authority cannot be used)`,
    };
  }
  return { ok: true, value: kind === 'header' ? { header: name.toLowerCase() } : { cookie: name } };
}

export function parseFallbackSubset(text: string): Parsed<string> {
  const name = text.trim();
  const err = dns1123LabelError(name);
  if (err !== undefined)
    return { ok: false, message: `${err}; expected the name of a DestinationRule subset` };
  return { ok: true, value: name };
}

const BUDGET_EXPECTED =
  'expected off or JSON such as {"budgetPercent": 20, "minRetryConcurrency": 3} (both optional: Envoy defaults 20 and 3)';

export function parseRetryBudget(text: string): Parsed<RetryBudgetSetting | 'off'> {
  if (text.trim() === 'off') return { ok: true, value: 'off' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, message: `not JSON: ${BUDGET_EXPECTED}` };
  }
  if (!isObject(value)) return { ok: false, message: BUDGET_EXPECTED };
  for (const key of Object.keys(value)) {
    if (key !== 'budgetPercent' && key !== 'minRetryConcurrency')
      return { ok: false, message: `unknown field ${JSON.stringify(key)}; ${BUDGET_EXPECTED}` };
  }
  const percent = value.budgetPercent ?? DEFAULT_RETRY_BUDGET.budgetPercent;
  const min = value.minRetryConcurrency ?? DEFAULT_RETRY_BUDGET.minRetryConcurrency;
  if (typeof percent !== 'number' || !Number.isFinite(percent) || percent < 0 || percent > 100)
    return {
      ok: false,
      message: `budgetPercent must be a number from 0 to 100, got ${JSON.stringify(percent)}`,
    };
  if (typeof min !== 'number' || !Number.isInteger(min) || min < 0 || min > 4_294_967_295)
    return {
      ok: false,
      message: `minRetryConcurrency must be a whole number from 0 to 4294967295, got ${JSON.stringify(min)}`,
    };
  return { ok: true, value: { budgetPercent: percent, minRetryConcurrency: min } };
}

const PARSERS: Record<string, { kind: string; parse: (text: string) => Parsed<unknown> }> = {
  [STICKY_CANARY_ANNOTATION]: { kind: 'VirtualService', parse: parseStickyCanary },
  [FALLBACK_SUBSET_ANNOTATION]: { kind: 'VirtualService', parse: parseFallbackSubset },
  [RETRY_BUDGET_ANNOTATION]: { kind: 'DestinationRule', parse: parseRetryBudget },
};

/**
 * Checks the Trellis traffic annotations of a resource: a bad value is an error (the resource is
 * rejected, the last good one kept); one on a kind that does not read it is a warning.
 */
export function checkTrellisAnnotations(
  kind: string,
  annotations: Readonly<Record<string, string>> | undefined,
  problems: Problems,
): void {
  for (const [key, text] of Object.entries(annotations ?? {})) {
    const parser = PARSERS[key];
    if (parser === undefined) continue;
    const path = fieldPath('metadata.annotations', key);
    if (kind !== parser.kind) {
      problems.warning(path, `ignored: ${key} is read on a ${parser.kind}, not a ${kind}`);
      continue;
    }
    const parsed = parser.parse(text);
    if (!parsed.ok) problems.error(path, parsed.message);
  }
}

/** The annotation's parsed value on a resource that passed validation; undefined when absent or bad. */
export function annotationValue<T>(
  annotations: Readonly<Record<string, string>> | undefined,
  key: string,
  parse: (text: string) => Parsed<T>,
): T | undefined {
  const text = annotations?.[key];
  if (text === undefined) return undefined;
  const parsed = parse(text);
  return parsed.ok ? parsed.value : undefined;
}
