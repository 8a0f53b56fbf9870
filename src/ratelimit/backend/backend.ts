/**
 * Where counters live. The service matches descriptors and builds one CounterCheck per limited
 * descriptor; a backend decides them all at once, so a request costs at most one round trip.
 */
import type { LimitDecision } from '../algorithm/decision.js';
import type { CompiledLimit } from '../config.js';

export interface CounterCheck {
  /** Identifies the counter: domain plus every request entry (so key-only nodes count per value). */
  key: string;
  limit: CompiledLimit;
  /** hits_addend, at least 1. */
  hits: number;
}

export interface RateLimitBackend {
  readonly kind: 'memory' | 'redis';
  /** Decides every check in order; rejects when the store cannot be reached. */
  check(checks: readonly CounterCheck[]): Promise<LimitDecision[]>;
  /** Whether the store is reachable now (always true in memory). */
  isUp(): boolean;
  /** Called with the new state whenever reachability changes. */
  onStatusChange(listener: (up: boolean) => void): void;
  /** Counters currently held (memory) or cached as over limit (redis); for /metrics. */
  size(): number;
  close(): Promise<void>;
}

/** The counter's name in the store: algorithm and unit first, so a changed limit starts afresh. */
export function storageKey(check: CounterCheck, windowStart?: number): string {
  const l = check.limit;
  return l.algorithm === 'fixed_window'
    ? `fw:${l.unitMs}:${windowStart ?? 0}:${check.key}`
    : `tb:${l.unitMs}:${check.key}`;
}
