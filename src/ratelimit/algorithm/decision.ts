/** What an algorithm decided for one descriptor's counter. */
export interface LimitDecision {
  overLimit: boolean;
  /** Requests still allowed after this one (never negative). */
  remaining: number;
  /**
   * Milliseconds until the quota resets: for an over-limit answer, until the request could
   * pass; otherwise until the counter is back to its full quota.
   */
  resetMs: number;
  /** Usage crossed 80% of the quota but not the limit (envoyproxy/ratelimit's near_limit). */
  nearLimit: boolean;
}

/** envoyproxy/ratelimit's NEAR_LIMIT_RATIO default. */
export const NEAR_LIMIT_RATIO = 0.8;

/** A decision for a limit of 0 requests: everything is over, until the next unit. */
export function blockedDecision(unitMs: number): LimitDecision {
  return { overLimit: true, remaining: 0, resetMs: unitMs, nearLimit: false };
}
