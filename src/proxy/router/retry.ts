/**
 * The retry layer: one request's retry state. The decision itself is the route's RetryPolicy's
 * (policy/retry-policy.ts, the one owner); this layer adds what only the data path knows:
 * whether the request body can still be replayed, whether the request was stopped, and the
 * cluster's `retries` circuit breaker, a slot of which a retry holds until its attempt is
 * answered (Envoy's RetryStateImpl does the same). It also waits the back-off.
 */
import type { Clock } from '../../core/clock.js';
import type { Random } from '../../core/random.js';
import type { AttemptOutcome, RetryPolicy } from '../policy/retry-policy.js';
import type { RequestHeaders } from '../policy/string-matcher.js';
import type { RequestStop } from './request-stop.js';

export interface RetryBreaker {
  /** A slot of the cluster's retries breaker, or undefined when it is full (counted there). */
  tryAcquire(): (() => void) | undefined;
}

export interface RetryContext {
  requestHeaders: RequestHeaders;
  /** Whether the request body can still be sent again (it was buffered whole). */
  replayable: () => boolean;
  breaker: RetryBreaker;
  clock: Clock;
  random: Random;
}

/**
 * The decision on one attempt's outcome, as Envoy's RetryStatus: `limit-exceeded` when the
 * policy would retry but the retries are spent (URX), `overflow` when the retries breaker is full
 * (UO, upstream_rq_retry_overflow).
 */
export type RetryDecision = 'retry' | 'no' | 'limit-exceeded' | 'overflow';

export class RetryState {
  private retriesDone = 0;
  private release: (() => void) | undefined;
  private readonly allowed: boolean;

  constructor(
    private readonly policy: RetryPolicy | undefined,
    private readonly ctx: RetryContext,
  ) {
    this.allowed = policy !== undefined && policy.requestAllowsRetry(ctx.requestHeaders);
  }

  /** How many retries were made so far. */
  get retries(): number {
    return this.retriesDone;
  }

  /**
   * Whether to retry after `outcome` (undefined: the attempt was stopped, never retried). A
   * `retry` holds a retries-breaker slot until `answered()`.
   */
  decide(outcome: AttemptOutcome | undefined): RetryDecision {
    const { policy } = this;
    if (!this.allowed || policy === undefined || outcome === undefined) return 'no';
    if (!policy.retriable(outcome)) return 'no';
    if (this.retriesDone >= policy.numRetries) return 'limit-exceeded';
    if (!this.ctx.replayable()) return 'no';
    this.release = this.ctx.breaker.tryAcquire();
    if (this.release === undefined) return 'overflow';
    this.retriesDone++;
    return 'retry';
  }

  /** Waits the policy's back-off before the next attempt, cut short if the request stops. */
  backOff(stop: RequestStop): Promise<void> {
    const ms = this.policy!.backoffMs(this.retriesDone, this.ctx.random);
    return stop.wait(this.ctx.clock, ms);
  }

  /** The retry's attempt has an answer (or the request is over): its breaker slot goes back. */
  answered(): void {
    const r = this.release;
    this.release = undefined;
    r?.();
  }
}
