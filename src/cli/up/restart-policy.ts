/**
 * When to restart a workload that stopped on its own, and when to stop trying. Backoff grows
 * while a process keeps failing (reset once a run has lasted `stableMs`, so a process that
 * fails once a day restarts at once); more than `maxRestarts` exits within `windowMs` is a
 * crash loop that restarting will not fix, so the supervisor gives up and says so. The delay
 * returned is the one the supervisor waits, so what `up` prints is what happens.
 */
import { Backoff, type BackoffPolicy } from '../../core/backoff.js';
import type { Random } from '../../core/random.js';

export interface RestartLimits {
  backoff: BackoffPolicy;
  /** A run at least this long resets the backoff. */
  stableMs: number;
  /** Restarts allowed within `windowMs`; the next exit in the window gives up. */
  maxRestarts: number;
  windowMs: number;
}

export const DEFAULT_RESTART_LIMITS: RestartLimits = {
  backoff: { baseMs: 500, maxMs: 30_000 },
  stableMs: 10_000,
  maxRestarts: 5,
  windowMs: 60_000,
};

export type RestartDecision =
  { restart: true; delayMs: number } | { restart: false; exits: number; windowMs: number };

export class RestartPolicy {
  private readonly backoff: Backoff;
  /** Times of recent unasked exits, oldest first, all within the window. */
  private exits: number[] = [];

  constructor(
    private readonly limits: RestartLimits,
    random: Random,
  ) {
    this.backoff = new Backoff(limits.backoff, random);
  }

  /** A run that started at `startedAt` ended unasked at `now`. */
  afterExit(startedAt: number, now: number): RestartDecision {
    if (now - startedAt >= this.limits.stableMs) this.backoff.reset();
    this.exits = this.exits.filter((t) => now - t < this.limits.windowMs);
    this.exits.push(now);
    if (this.exits.length > this.limits.maxRestarts) {
      return { restart: false, exits: this.exits.length, windowMs: this.limits.windowMs };
    }
    return { restart: true, delayMs: this.backoff.next() };
  }

  /** A fresh start asked for by a person (a file change under --watch): forget past failures. */
  reset(): void {
    this.exits = [];
    this.backoff.reset();
  }
}
