import type { Clock } from './clock.js';

/**
 * A token bucket: `capacity` tokens, refilled by `tokensPerFill` every `fillIntervalMs`
 * (Envoy's local rate limit shape), or continuously when `continuous` is set. Pure arithmetic
 * over an injected clock, shared by the proxy's local limiter and the rate limit service.
 */
export interface TokenBucketSpec {
  capacity: number;
  tokensPerFill: number;
  fillIntervalMs: number;
  /** Refill fractionally over time instead of in steps at interval boundaries. */
  continuous?: boolean;
}

export interface TokenBucketState {
  tokens: number;
  /** Clock time the state was last brought up to date. */
  updatedAt: number;
}

export function newBucketState(spec: TokenBucketSpec, now: number): TokenBucketState {
  return { tokens: spec.capacity, updatedAt: now };
}

/** Brings the bucket up to `now`; returns the new state (input is not modified). */
export function refill(spec: TokenBucketSpec, state: TokenBucketState, now: number): TokenBucketState {
  if (now <= state.updatedAt) return state;
  if (spec.continuous) {
    const added = ((now - state.updatedAt) / spec.fillIntervalMs) * spec.tokensPerFill;
    return { tokens: Math.min(spec.capacity, state.tokens + added), updatedAt: now };
  }
  const intervals = Math.floor((now - state.updatedAt) / spec.fillIntervalMs);
  if (intervals === 0) return state;
  return {
    tokens: Math.min(spec.capacity, state.tokens + intervals * spec.tokensPerFill),
    updatedAt: state.updatedAt + intervals * spec.fillIntervalMs,
  };
}

export interface TakeResult {
  allowed: boolean;
  remaining: number;
  /** Milliseconds until at least one token is available again (0 when allowed). */
  resetMs: number;
  state: TokenBucketState;
}

export function take(spec: TokenBucketSpec, state: TokenBucketState, now: number, cost = 1): TakeResult {
  const s = refill(spec, state, now);
  if (s.tokens >= cost) {
    const next = { tokens: s.tokens - cost, updatedAt: s.updatedAt };
    return { allowed: true, remaining: Math.floor(next.tokens), resetMs: 0, state: next };
  }
  const missing = cost - s.tokens;
  const resetMs = spec.continuous
    ? Math.ceil((missing / spec.tokensPerFill) * spec.fillIntervalMs)
    : Math.ceil(missing / spec.tokensPerFill) * spec.fillIntervalMs - (now - s.updatedAt);
  return { allowed: false, remaining: Math.floor(s.tokens), resetMs: Math.max(1, resetMs), state: s };
}

/** Stateful convenience wrapper over the pure functions. */
export class TokenBucket {
  private state: TokenBucketState;

  constructor(
    readonly spec: TokenBucketSpec,
    private readonly clock: Clock,
  ) {
    this.state = newBucketState(spec, clock.now());
  }

  take(cost = 1): Omit<TakeResult, 'state'> {
    const r = take(this.spec, this.state, this.clock.now(), cost);
    this.state = r.state;
    return { allowed: r.allowed, remaining: r.remaining, resetMs: r.resetMs };
  }
}
