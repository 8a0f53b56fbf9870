/**
 * The one way tests wait for something to become true (imported by tests only). It polls a
 * condition or an assertion until it holds or a deadline passes, and then fails with the last
 * assertion error and how long it waited, so a test that would hang fails instead, and says why.
 *
 * Prefer an event (a promise that resolves when the thing happens) when the code offers one;
 * use this for state that is only observable by looking (stats, status pages, counters).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '../errors.js';

export interface EventuallyOptions {
  /** What is being waited for, for the failure message. */
  what?: string;
  /** Give up after this long (real time). Default 5000 ms. */
  timeoutMs?: number;
  /** Pause between attempts. Default 10 ms. */
  intervalMs?: number;
  /** Appended to the failure message, e.g. the tail of a child process's output. */
  context?: () => string;
}

/** Thrown when the deadline passes; `cause` is the check's last error, if it threw. */
export class EventuallyTimeoutError extends Error {
  readonly waitedMs: number;
  readonly attempts: number;

  constructor(message: string, waitedMs: number, attempts: number, cause: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'EventuallyTimeoutError';
    this.waitedMs = waitedMs;
    this.attempts = attempts;
  }
}

type Result<F extends () => unknown> = Awaited<ReturnType<F>>;

/**
 * A check may be an assertion (returns nothing, throws until it holds) or a condition (returns
 * `false` until it holds). A check typed to return "a value or undefined" is refused at compile
 * time: at run time its `undefined` would read as "holds" and the test would pass too early.
 */
type Check<F extends () => unknown> = undefined extends Result<F>
  ? [Result<F>] extends [void]
    ? F
    : F & 'eventually: return false, not undefined, while the check does not hold yet'
  : F;

/**
 * Runs `check` until it returns without throwing and without returning `false`, and resolves
 * to what it returned. A check that throws (e.g. `assert.equal`) is retried; if the deadline
 * passes, the error says what was awaited, how long and how many times it was tried, and
 * carries the last thrown error's message (and the error itself as `cause`).
 */
export async function eventually<F extends () => unknown>(
  check: Check<F>,
  options: EventuallyOptions | string = {},
): Promise<Exclude<Result<F>, false>> {
  const { what = 'condition', timeoutMs = 5000, intervalMs = 10, context } =
    typeof options === 'string' ? { what: options } : options;
  const started = performance.now();
  let attempts = 0;
  let lastError: unknown;
  for (;;) {
    attempts++;
    try {
      const value = (await check()) as Result<F>;
      if (value !== false) return value as Exclude<Result<F>, false>;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    const waited = performance.now() - started;
    if (waited >= timeoutMs) {
      const why =
        lastError === undefined
          ? 'the check still returned false'
          : `last error: ${errorMessage(lastError)}`;
      throw new EventuallyTimeoutError(
        `eventually: ${what} did not hold after ${Math.round(waited)} ms (${attempts} attempts); ${why}${context?.() ?? ''}`,
        waited,
        attempts,
        lastError,
      );
    }
    await sleep(Math.min(intervalMs, Math.max(0, timeoutMs - waited)));
  }
}
