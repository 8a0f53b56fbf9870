/**
 * What a sidecar remembers between an inbound request in a lane and the outbound requests its
 * application makes while serving it: lane by trace key (policy/lanes.ts `traceKeys`), for a
 * bounded time and a bounded count. One per proxy, shared by its inbound and outbound
 * connection managers.
 *
 * A least-recently-used table on a Map (insertion order is recency: a hit is moved to the end),
 * each entry expiring `ttlMs` after it was remembered. A full table drops its oldest entry; what
 * goes is counted (`evicted` when still live, `expired` when past its time), so an operator sees
 * a table too small for the traffic. Hand-written rather than lru-cache, which is only a
 * transitive dependency here: the whole of it is these few lines.
 */
import type { Clock } from '../../core/clock.js';

export interface LaneMemoryLimits {
  /** Entries kept at most (one per trace key). */
  maxEntries: number;
  /** How long a remembered lane is carried, from the inbound request that brought it. */
  ttlMs: number;
}

/** A minute covers a request's own outbound calls; 10,000 keys is a few MB at most. */
export const DEFAULT_LANE_MEMORY: LaneMemoryLimits = Object.freeze({ maxEntries: 10_000, ttlMs: 60_000 });

/** Where counters go: `remembered`, `forgotten`, `carried`, `evicted`, `expired`. */
export type LaneCounter = (name: 'remembered' | 'forgotten' | 'carried' | 'evicted' | 'expired') => void;

const NO_COUNT: LaneCounter = () => undefined;

interface Entry {
  lane: string;
  expiresAt: number;
}

export class LaneMemory {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly clock: Clock,
    private readonly limits: LaneMemoryLimits = DEFAULT_LANE_MEMORY,
  ) {
    if (!(limits.maxEntries >= 1) || !(limits.ttlMs > 0))
      throw new RangeError(`lane memory limits must be positive: ${JSON.stringify(limits)}`);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Remembers `lane` under every key of an inbound request. */
  remember(keys: readonly string[], lane: string, count: LaneCounter = NO_COUNT): void {
    if (keys.length === 0) return;
    const expiresAt = this.clock.now() + this.limits.ttlMs;
    for (const key of keys) {
      this.entries.delete(key);
      this.entries.set(key, { lane, expiresAt });
    }
    count('remembered');
    while (this.entries.size > this.limits.maxEntries) {
      const [oldest, entry] = this.entries.entries().next().value as [string, Entry];
      this.entries.delete(oldest);
      count(entry.expiresAt <= this.clock.now() ? 'expired' : 'evicted');
    }
  }

  /**
   * An inbound request in no lane: its keys no longer name one, so a trace id reused (or chosen)
   * by another caller cannot pull this request's outbound calls into a lane.
   */
  forget(keys: readonly string[], count: LaneCounter = NO_COUNT): void {
    let any = false;
    for (const key of keys) any = this.entries.delete(key) || any;
    if (any) count('forgotten');
  }

  /** The lane remembered under the first key that has a live one. */
  recall(keys: readonly string[], count: LaneCounter = NO_COUNT): string | undefined {
    const now = this.clock.now();
    for (const key of keys) {
      const entry = this.entries.get(key);
      if (entry === undefined) continue;
      this.entries.delete(key);
      if (entry.expiresAt <= now) {
        count('expired');
        continue;
      }
      this.entries.set(key, entry);
      count('carried');
      return entry.lane;
    }
    return undefined;
  }
}
