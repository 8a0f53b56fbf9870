/**
 * The per-try timeout layer: runs one attempt, ending it when its per-try timeout passes
 * (Envoy's per_try_timeout: the attempt is reset locally and may be retried) or when the request
 * is stopped. The attempt is cancelled either way, so its connection is not left waiting.
 */
import type { Clock, TimerHandle } from '../../core/clock.js';
import { UpstreamError, type UpstreamAttempt } from '../upstream/attempt.js';
import type { AttemptResult } from './attempt-result.js';
import type { RequestStop } from './request-stop.js';

export async function runAttempt(
  attempt: UpstreamAttempt,
  perTryTimeoutMs: number | undefined,
  clock: Clock,
  stop: RequestStop,
): Promise<AttemptResult> {
  const started = clock.now();
  const result = await new Promise<AttemptResult>((resolve) => {
    let perTry: TimerHandle | undefined;
    if (perTryTimeoutMs !== undefined) {
      perTry = clock.setTimeout(() => {
        attempt.cancel();
        resolve({ kind: 'per-try-timeout' });
      }, perTryTimeoutMs);
    }
    stop.onStop(() => {
      perTry?.cancel();
      attempt.cancel();
      resolve({ kind: 'stopped' });
    });
    attempt.response.then(
      (response) => {
        perTry?.cancel();
        resolve({ kind: 'response', response, serviceTimeMs: Math.round(clock.now() - started) });
      },
      (error: unknown) => {
        perTry?.cancel();
        resolve({
          kind: 'error',
          error: error instanceof UpstreamError ? error : new UpstreamError('reset', String(error)),
        });
      },
    );
  });
  // An attempt that ended without a response stops reading the request body.
  if (result.kind !== 'response') attempt.detachBody();
  return result;
}
