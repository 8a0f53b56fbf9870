import type { Random } from './random.js';

/** Exponential backoff with full jitter, as a pure function of the attempt number. */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/**
 * Delay before retry `attempt` (0-based): uniform in [0, min(max, base * 2^attempt)), the
 * "full jitter" scheme Envoy uses for retries.
 */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: Random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** A restartable backoff sequence for reconnect loops; `reset()` after a success. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly policy: BackoffPolicy,
    private readonly random: Random,
  ) {}

  next(): number {
    // Never zero, so a tight loop cannot spin; and never past the cap, even when half the base is.
    const floor = Math.min(this.policy.baseMs / 2, this.policy.maxMs);
    const d = Math.max(floor, backoffDelay(this.policy, this.attempt, this.random));
    this.attempt++;
    return d;
  }

  reset(): void {
    this.attempt = 0;
  }
}
