/**
 * Token bucket over core's pure bucket arithmetic: capacity = burst (default
 * requests_per_unit), refilled continuously at requests_per_unit per unit. A denied request
 * takes nothing, so a client that backs off gets through again as soon as tokens return.
 */
import { refill, take, type TokenBucketSpec, type TokenBucketState } from '../../core/token-bucket.js';
import type { CompiledLimit } from '../config.js';
import { NEAR_LIMIT_RATIO, blockedDecision, type LimitDecision } from './decision.js';

export type BucketLimit = Pick<CompiledLimit, 'requestsPerUnit' | 'unitMs' | 'burst'>;

export function bucketSpec(limit: BucketLimit): TokenBucketSpec {
  return {
    capacity: limit.burst,
    tokensPerFill: limit.requestsPerUnit,
    fillIntervalMs: limit.unitMs,
    continuous: true,
  };
}

export interface BucketTake {
  decision: LimitDecision;
  /** State to keep; undefined when there is nothing worth keeping (a limit of 0). */
  state: TokenBucketState | undefined;
  /** Clock time after which the state equals a fresh, full bucket and may be dropped. */
  expiresAt: number;
}

/** Milliseconds for `tokens` tokens to drip in. */
function refillMs(limit: BucketLimit, tokens: number): number {
  return Math.ceil((tokens / limit.requestsPerUnit) * limit.unitMs);
}

export function takeFromBucket(
  limit: BucketLimit,
  state: TokenBucketState | undefined,
  now: number,
  hits: number,
): BucketTake {
  if (limit.requestsPerUnit === 0 || limit.burst === 0) {
    return { decision: blockedDecision(limit.unitMs), state: undefined, expiresAt: now };
  }
  const spec = bucketSpec(limit);
  // A config change may have shrunk the bucket; never keep more tokens than it now holds.
  const current = state
    ? { tokens: Math.min(spec.capacity, state.tokens), updatedAt: state.updatedAt }
    : { tokens: spec.capacity, updatedAt: now };
  const r = take(spec, current, now, hits);
  const tokens = r.allowed ? r.state.tokens : refill(spec, current, now).tokens;
  const toFull = refillMs(limit, spec.capacity - tokens);
  const used = spec.capacity - tokens;
  return {
    decision: {
      overLimit: !r.allowed,
      remaining: Math.max(0, Math.floor(tokens)),
      resetMs: r.allowed ? toFull : r.resetMs,
      nearLimit: r.allowed && used > Math.floor(spec.capacity * NEAR_LIMIT_RATIO),
    },
    state: r.state,
    expiresAt: r.state.updatedAt + toFull,
  };
}
