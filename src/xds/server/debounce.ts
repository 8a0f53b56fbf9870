import type { Clock, TimerHandle } from '../../core/clock.js';

/**
 * Debounce as Istio's pilot does it: after the first event of a burst, push once the stream of
 * events has been quiet for `quietMs`, or once `maxMs` has passed since the first event,
 * whichever comes first. The decision is a pure function so it can be tested as a table.
 */
export interface DebounceOptions {
  quietMs: number;
  maxMs: number;
}

export const DEFAULT_DEBOUNCE: DebounceOptions = { quietMs: 100, maxMs: 10_000 };

/** `flush` now, or wait `waitMs` and ask again. */
export type DebounceDecision = { flush: true } | { flush: false; waitMs: number };

export function debounceDecision(
  firstAt: number,
  lastAt: number,
  now: number,
  o: DebounceOptions,
): DebounceDecision {
  const quietDeadline = lastAt + o.quietMs;
  const maxDeadline = firstAt + o.maxMs;
  const deadline = Math.min(quietDeadline, maxDeadline);
  return now >= deadline ? { flush: true } : { flush: false, waitMs: deadline - now };
}

/** Merges events of type E and calls `flush` with all of them once the burst settles. */
export class Debouncer<E> {
  private pending: E[] = [];
  private firstAt = 0;
  private lastAt = 0;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly options: DebounceOptions,
    private readonly clock: Clock,
    private readonly flush: (events: E[]) => void,
  ) {}

  push(event: E): void {
    const now = this.clock.now();
    if (this.pending.length === 0) this.firstAt = now;
    this.lastAt = now;
    this.pending.push(event);
    if (this.options.quietMs <= 0) {
      this.fire();
      return;
    }
    if (!this.timer) this.arm();
  }

  close(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private arm(): void {
    const d = debounceDecision(this.firstAt, this.lastAt, this.clock.now(), this.options);
    if (d.flush) {
      this.fire();
      return;
    }
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.arm();
    }, d.waitMs);
  }

  private fire(): void {
    const events = this.pending;
    this.pending = [];
    this.timer?.cancel();
    this.timer = undefined;
    if (events.length) this.flush(events);
  }
}
