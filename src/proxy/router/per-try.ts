/**
 * The per-try timeout layer: runs one attempt, ending it when its per-try timeout passes
 * (Envoy's per_try_timeout: the attempt is reset locally and may be retried) or when the request
 * is stopped. The per-try timer starts when the attempt starts or, if the client is still
 * sending the request, once it has sent all of it (Envoy's router does the same). An attempt
 * that ends without a response is cancelled and stops reading the request body.
 */
import type { Clock, TimerHandle } from '../../core/clock.js';
import { UpstreamError, type UpstreamAttempt } from '../upstream/attempt.js';
import type { AttemptResult } from './attempt-result.js';
import type { RequestStop } from './request-stop.js';

export interface PerTry {
  timeoutMs: number | undefined;
  /** Runs `fn` once the request body is complete (at once if it is). */
  whenRequestComplete: (fn: () => void) => void;
}

export async function runAttempt(
  attempt: UpstreamAttempt,
  perTry: PerTry,
  clock: Clock,
  stop: RequestStop,
): Promise<AttemptResult> {
  const started = clock.now();
  let settled = false;
  const result = await new Promise<AttemptResult>((resolve) => {
    let timer: TimerHandle | undefined;
    const settle = (r: AttemptResult) => {
      settled = true;
      timer?.cancel();
      resolve(r);
    };
    const ms = perTry.timeoutMs;
    if (ms !== undefined) {
      perTry.whenRequestComplete(() => {
        if (settled) return;
        timer = clock.setTimeout(() => {
          attempt.cancel();
          settle({ kind: 'per-try-timeout' });
        }, ms);
      });
    }
    stop.onStop(() => {
      attempt.cancel();
      settle({ kind: 'stopped' });
    });
    attempt.response.then(
      (response) => settle({ kind: 'response', response, serviceTimeMs: Math.round(clock.now() - started) }),
      (error: unknown) =>
        settle({
          kind: 'error',
          error: error instanceof UpstreamError ? error : new UpstreamError('reset', String(error)),
        }),
    );
  });
  if (result.kind !== 'response') attempt.detachBody();
  return result;
}
