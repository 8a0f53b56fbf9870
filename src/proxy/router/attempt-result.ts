/**
 * How one upstream attempt ended, and what each layer reads from it: the retry policy's
 * outcome, the outlier detector's outcome, and the local reply when it is the last word.
 * Pure mappings, table-tested in attempt-result.test.ts.
 */
import type { UpstreamOutcome } from '../policy/outlier-detector.js';
import type { AttemptOutcome } from '../policy/retry-policy.js';
import type { UpstreamError, UpstreamResponse } from '../upstream/attempt.js';
import { first } from '../connection-manager/headers.js';
import type { LocalReplyReason } from '../connection-manager/local-reply.js';

export type AttemptResult =
  | { kind: 'response'; response: UpstreamResponse; serviceTimeMs: number }
  | { kind: 'error'; error: UpstreamError }
  | { kind: 'per-try-timeout' }
  /** The request was stopped (route timeout, client gone, stream idle) during the attempt. */
  | { kind: 'stopped' };

/** The retry policy's view; undefined for a stopped attempt, which is never retried. */
export function retryOutcome(result: AttemptResult): AttemptOutcome | undefined {
  switch (result.kind) {
    case 'response': {
      const { status, headers } = result.response;
      const grpc = first(headers['grpc-status']);
      const grpcStatus = grpc !== undefined && /^\d+$/.test(grpc) ? Number(grpc) : undefined;
      return { kind: 'response', status, headers, grpcStatus };
    }
    case 'error': {
      const e = result.error;
      const reason =
        e.kind === 'connect'
          ? 'connect-failure'
          : e.kind === 'refused-stream'
            ? 'refused-stream'
            : 'remote-reset';
      return { kind: 'reset', reason, requestStarted: e.requestStarted };
    }
    case 'per-try-timeout':
      return { kind: 'reset', reason: 'per-try-timeout', requestStarted: true };
    case 'stopped':
      return undefined;
  }
}

/** The outlier detector's view (Envoy counts a timeout as a 504 and a reset as a 503). */
export function outlierOutcome(result: AttemptResult): UpstreamOutcome {
  switch (result.kind) {
    case 'response':
      return { kind: 'response', status: result.response.status };
    case 'error':
      return { kind: result.error.kind === 'connect' ? 'connect-failure' : 'reset' };
    default:
      return { kind: 'timeout' };
  }
}

/** The local reply for an attempt that ended without a response and is not retried. */
export function failureReply(
  result: Exclude<AttemptResult, { kind: 'response' }>,
  cluster: string,
): LocalReplyReason {
  if (result.kind !== 'error') return { kind: 'timeout' };
  const { error } = result;
  return error.kind === 'connect'
    ? { kind: 'connect-failure', cluster, detail: error.message }
    : { kind: 'upstream-reset', cluster, detail: error.message };
}
