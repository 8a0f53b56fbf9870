/**
 * The route timeout layer, and the other two things that stop a request's upstream work: the
 * client going away (Envoy resets the upstream stream) and the stream idle timeout. The route
 * timeout (Envoy's `timeout` on the route; 0 disables it) starts once the client has sent the
 * whole request, as Envoy's router starts it, and covers every attempt, the back-off between
 * them and the response body.
 *
 * One handler at a time is armed (the attempt or back-off in progress); it runs once when the
 * request is stopped, at once if it already was.
 */
import type { Clock, TimerHandle } from '../../core/clock.js';

export type StopCause = 'downstream-disconnect' | 'stream-idle-timeout' | 'route-timeout';

export interface StopSources {
  /** The client side: aborted once it went away. */
  downstream: { readonly aborted: boolean; onAbort(fn: () => void): void };
  /** The stream idle timer, when the route or connection manager has one. */
  idle?: { readonly expired: boolean; whenExpired(fn: () => void): void } | undefined;
  /** The request body: the route timeout starts when it is complete (at once when absent). */
  body?: { whenComplete(fn: () => void): void } | undefined;
}

export class RequestStop {
  private timedOut = false;
  private disposed = false;
  private timer: TimerHandle | undefined;
  private handler: (() => void) | undefined;

  constructor(
    clock: Clock,
    timeoutMs: number,
    private readonly sources: StopSources,
  ) {
    if (timeoutMs > 0) {
      const arm = () => {
        if (this.disposed) return;
        this.timer = clock.setTimeout(() => {
          this.timedOut = true;
          this.fire();
        }, timeoutMs);
      };
      if (sources.body) sources.body.whenComplete(arm);
      else arm();
    }
    sources.downstream.onAbort(this.fire);
    sources.idle?.whenExpired(this.fire);
  }

  /**
   * Why the request is stopped, if it is. A client that left outranks an idle timeout, which
   * outranks the route timeout: what happened to the client decides what (if anything) it sees.
   */
  cause(): StopCause | undefined {
    if (this.sources.downstream.aborted) return 'downstream-disconnect';
    if (this.sources.idle?.expired) return 'stream-idle-timeout';
    return this.timedOut ? 'route-timeout' : undefined;
  }

  /** Arms `fn` for the next stop (replacing the armed one); runs it now if already stopped. */
  onStop(fn: () => void): void {
    this.handler = fn;
    if (this.cause() !== undefined) this.fire();
  }

  /** Waits `ms`, or less if the request is stopped meanwhile. */
  wait(clock: Clock, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = clock.setTimeout(() => {
        this.handler = undefined;
        resolve();
      }, ms);
      this.onStop(() => {
        t.cancel();
        resolve();
      });
    });
  }

  dispose(): void {
    this.disposed = true;
    this.timer?.cancel();
    this.handler = undefined;
  }

  private readonly fire = (): void => {
    const fn = this.handler;
    this.handler = undefined;
    fn?.();
  };
}
