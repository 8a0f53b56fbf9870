/**
 * In-process counters: the embedded default. Bounded (least recently used keys are evicted
 * past `maxKeys`) and expiring (a full bucket or a finished window is the same as no entry, so
 * a periodic sweep drops them), so tens of thousands of distinct keys come and go without
 * leaking memory.
 */
import { systemClock, type Clock, type TimerHandle } from '../../core/clock.js';
import type { LimitDecision } from '../algorithm/decision.js';
import { windowDecision, windowStart } from '../algorithm/fixed-window.js';
import { takeFromBucket } from '../algorithm/token-bucket.js';
import { storageKey, type CounterCheck, type RateLimitBackend } from './backend.js';

interface Entry {
  /** Tokens (token bucket) or the window's count (fixed window). */
  value: number;
  updatedAt: number;
  /** Clock time after which the entry carries no information. */
  expiresAt: number;
}

export interface MemoryBackendOptions {
  clock?: Clock;
  maxKeys?: number;
  sweepIntervalMs?: number;
}

export class MemoryBackend implements RateLimitBackend {
  readonly kind = 'memory';
  private readonly entries = new Map<string, Entry>();
  private readonly clock: Clock;
  private readonly maxKeys: number;
  private readonly sweepIntervalMs: number;
  private sweepTimer: TimerHandle | undefined;

  constructor(options: MemoryBackendOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.maxKeys = options.maxKeys ?? 1_000_000;
    this.sweepIntervalMs = options.sweepIntervalMs ?? 1000;
    this.scheduleSweep();
  }

  async check(checks: readonly CounterCheck[]): Promise<LimitDecision[]> {
    return checks.map((c) => this.decide(c));
  }

  /** Synchronous core of check(), exposed for tests and the benchmark. */
  decide(check: CounterCheck): LimitDecision {
    const now = this.clock.now();
    const limit = check.limit;
    if (limit.algorithm === 'fixed_window') {
      const wall = this.clock.wallNow();
      const key = storageKey(check, windowStart(wall, limit.unitMs));
      const prev = this.live(key, now);
      const count = (prev?.value ?? 0) + check.hits;
      const decision = windowDecision(limit, count, wall);
      this.store(key, { value: count, updatedAt: now, expiresAt: now + decision.resetMs });
      return decision;
    }
    const key = storageKey(check);
    const prev = this.live(key, now);
    const r = takeFromBucket(
      limit,
      prev ? { tokens: prev.value, updatedAt: prev.updatedAt } : undefined,
      now,
      check.hits,
    );
    if (r.state && r.expiresAt > now) {
      this.store(key, { value: r.state.tokens, updatedAt: r.state.updatedAt, expiresAt: r.expiresAt });
    } else if (prev) {
      this.entries.delete(key);
    }
    return r.decision;
  }

  isUp(): boolean {
    return true;
  }

  onStatusChange(): void {
    // Memory never becomes unreachable.
  }

  size(): number {
    return this.entries.size;
  }

  async close(): Promise<void> {
    this.sweepTimer?.cancel();
    this.sweepTimer = undefined;
    this.entries.clear();
  }

  /** Drops entries whose information has expired; returns how many. */
  sweep(): number {
    const now = this.clock.now();
    let dropped = 0;
    for (const [key, e] of this.entries) {
      if (e.expiresAt <= now) {
        this.entries.delete(key);
        dropped++;
      }
    }
    return dropped;
  }

  private live(key: string, now: number): Entry | undefined {
    const e = this.entries.get(key);
    if (e === undefined || e.expiresAt > now) return e;
    this.entries.delete(key);
    return undefined;
  }

  private store(key: string, entry: Entry): void {
    // Re-inserting keeps the Map in least-recently-used order for eviction.
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > this.maxKeys) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  private scheduleSweep(): void {
    this.sweepTimer = this.clock.setTimeout(() => {
      this.sweep();
      this.scheduleSweep();
    }, this.sweepIntervalMs);
  }
}
