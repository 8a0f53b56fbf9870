/**
 * Whether a request's trace is sampled, as Envoy decides it for its OpenTelemetry tracer: a
 * request that arrives with a sampled flag keeps it (parent based); otherwise the first hop
 * decides: `x-client-trace-id` (under client_sampling) or `x-envoy-force-trace` forces a trace,
 * else random_sampling; overall_sampling applies last and may veto any of them. Envoy draws the
 * random and overall checks from one number (its x-request-id hash), so the effective rate is the
 * smaller of the two percentages, not their product; one draw here does the same.
 */
import type { Random } from '../../core/random.js';

export interface SamplingPercentages {
  /** 0-100 each. */
  random: number;
  client: number;
  overall: number;
}

export interface SamplingInput {
  /** The decision the request carried (W3C flags, B3 sampled/debug); undefined: none (first hop, or B3 deferred). */
  incoming: boolean | undefined;
  clientTraceId: boolean;
  forceTrace: boolean;
}

export type SamplingReason = 'parent' | 'client' | 'forced' | 'random' | 'not-sampled' | 'overall-veto';

export interface SamplingDecision {
  sampled: boolean;
  reason: SamplingReason;
}

/** `percent` of draws hit; 0 and 100 need no draw (the random source is not consumed). */
function hits(percent: number, draw: () => number): boolean {
  if (percent >= 100) return true;
  if (percent <= 0) return false;
  return draw() < percent;
}

export function decideSampling(
  input: SamplingInput,
  pct: SamplingPercentages,
  random: Random,
): SamplingDecision {
  if (input.incoming !== undefined) return { sampled: input.incoming, reason: 'parent' };
  let shared: number | undefined;
  const sharedDraw = (): number => (shared ??= random() * 100);
  let reason: SamplingReason = 'not-sampled';
  if (input.clientTraceId && hits(pct.client, () => random() * 100)) reason = 'client';
  else if (input.forceTrace) reason = 'forced';
  else if (hits(pct.random, sharedDraw)) reason = 'random';
  if (reason === 'not-sampled') return { sampled: false, reason };
  if (!hits(pct.overall, sharedDraw)) return { sampled: false, reason: 'overall-veto' };
  return { sampled: true, reason };
}
