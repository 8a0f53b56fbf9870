/**
 * Envoy's stream idle timeout: a request during which nothing moves for this long (no request
 * body bytes arriving, no response headers or body bytes going out) is ended. The HTTP
 * connection manager's stream_idle_timeout sets it (default 5 minutes, 0 disables); a route's
 * idle_timeout replaces it once the route is known. On expiry, if no response has started,
 * Envoy answers 504 when the whole request had arrived and 408 when it had not; after that it
 * resets the stream. Either way the response flag is SI.
 * https://www.envoyproxy.io/docs/envoy/latest/faq/configuration/timeouts#stream-timeouts
 *
 * Activity only records a time: the one timer, when it fires, re-arms itself for what is left,
 * so a busy stream costs a clock read per chunk rather than a timer per chunk.
 */
import type { Clock, TimerHandle } from '../../core/clock.js';

/** Envoy's default HCM stream_idle_timeout. */
export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 300_000;

export class StreamIdleTimer {
  private last: number;
  private timer: TimerHandle | undefined;
  private onExpire: (() => void) | undefined;
  private expiredFlag = false;

  constructor(
    private readonly clock: Clock,
    private timeoutMs: number,
  ) {
    this.last = clock.now();
    if (timeoutMs > 0) this.arm(timeoutMs);
  }

  get expired(): boolean {
    return this.expiredFlag;
  }

  /** Something moved on the stream. */
  touch(): void {
    this.last = this.clock.now();
  }

  /** A route's own idle_timeout: replaces the connection manager's, counting from now (0: none). */
  restart(timeoutMs: number): void {
    if (this.expiredFlag) return;
    this.timer?.cancel();
    this.timer = undefined;
    this.timeoutMs = timeoutMs;
    this.last = this.clock.now();
    if (timeoutMs > 0) this.arm(timeoutMs);
  }

  /** What to cancel on expiry (replaces the previous one); runs at once if already expired. */
  whenExpired(fn: () => void): void {
    this.onExpire = fn;
    if (this.expiredFlag) fn();
  }

  /** The stream is over. */
  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.onExpire = undefined;
  }

  /** A timer only when there is a timeout: with Istio's 0s a request allocates none. */
  private arm(ms: number): void {
    this.timer = this.clock.setTimeout(() => this.check(), ms);
  }

  private check(): void {
    this.timer = undefined;
    const idle = this.clock.now() - this.last;
    if (idle < this.timeoutMs) {
      this.arm(this.timeoutMs - idle);
      return;
    }
    this.expiredFlag = true;
    const fn = this.onExpire;
    this.onExpire = undefined;
    fn?.();
  }
}
