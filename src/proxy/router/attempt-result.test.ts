import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpstreamError, type UpstreamResponse } from '../upstream/attempt.js';
import { failureReply, outlierOutcome, retryOutcome, type AttemptResult } from './attempt-result.js';

function response(status: number, headers: Record<string, string> = {}): AttemptResult {
  return { kind: 'response', response: { status, headers } as unknown as UpstreamResponse, serviceTimeMs: 3 };
}
const error = (kind: 'connect' | 'reset' | 'refused-stream', started?: boolean): AttemptResult => ({
  kind: 'error',
  error: new UpstreamError(kind, 'boom', started),
});

test('what the retry policy, the outlier detector and the local reply learn from an attempt', () => {
  const cases: [string, AttemptResult, unknown, unknown, unknown][] = [
    [
      '503',
      response(503),
      { kind: 'response', status: 503, grpcStatus: undefined },
      { kind: 'response', status: 503 },
      undefined,
    ],
    [
      'gRPC trailers-only 14',
      response(200, { 'grpc-status': '14' }),
      { kind: 'response', status: 200, grpcStatus: 14 },
      { kind: 'response', status: 200 },
      undefined,
    ],
    [
      'a grpc-status that is not a number is no gRPC status',
      response(200, { 'grpc-status': 'x' }),
      { kind: 'response', status: 200, grpcStatus: undefined },
      { kind: 'response', status: 200 },
      undefined,
    ],
    [
      'grpc-status with trailing junk',
      response(200, { 'grpc-status': '14x' }),
      { kind: 'response', status: 200, grpcStatus: undefined },
      { kind: 'response', status: 200 },
      undefined,
    ],
    [
      'grpc-status with leading junk',
      response(200, { 'grpc-status': 'x14' }),
      { kind: 'response', status: 200, grpcStatus: undefined },
      { kind: 'response', status: 200 },
      undefined,
    ],
    [
      'connect failure',
      error('connect'),
      { kind: 'reset', reason: 'connect-failure', requestStarted: false },
      { kind: 'connect-failure' },
      { kind: 'connect-failure', cluster: 'c', detail: 'boom' },
    ],
    [
      'reset after the request started',
      error('reset'),
      { kind: 'reset', reason: 'remote-reset', requestStarted: true },
      { kind: 'reset' },
      { kind: 'upstream-reset', cluster: 'c', detail: 'boom' },
    ],
    [
      'reset before the request started',
      error('reset', false),
      { kind: 'reset', reason: 'remote-reset', requestStarted: false },
      { kind: 'reset' },
      { kind: 'upstream-reset', cluster: 'c', detail: 'boom' },
    ],
    [
      'refused stream',
      error('refused-stream'),
      { kind: 'reset', reason: 'refused-stream', requestStarted: true },
      { kind: 'reset' },
      { kind: 'upstream-reset', cluster: 'c', detail: 'boom' },
    ],
    [
      'per-try timeout',
      { kind: 'per-try-timeout' },
      { kind: 'reset', reason: 'per-try-timeout', requestStarted: true },
      { kind: 'timeout' },
      { kind: 'timeout' },
    ],
    ['stopped', { kind: 'stopped' }, undefined, { kind: 'timeout' }, { kind: 'timeout' }],
  ];
  for (const [name, result, retry, outlier, reply] of cases) {
    const r = retryOutcome(result);
    if (r?.kind === 'response')
      assert.deepEqual({ ...r, headers: undefined }, { ...(retry as object), headers: undefined }, name);
    else assert.deepEqual(r, retry, name);
    assert.deepEqual(outlierOutcome(result), outlier, name);
    if (result.kind !== 'response') assert.deepEqual(failureReply(result, 'c'), reply, name);
  }
});
