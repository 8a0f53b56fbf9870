/** Several CAs (issue #16): unreachable ones are skipped, a CA's own refusal is final. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import {
  CaCallError,
  failoverCertificateRequester,
  type CertificateRequester,
} from './ca-client-transport.js';

function fake(name: string, outcome: grpc.status | 'ok', calls: string[]): CertificateRequester {
  return {
    request: () => {
      calls.push(name);
      return outcome === 'ok'
        ? Promise.resolve({ cert_chain: [name] })
        : Promise.reject(new CaCallError(outcome, `${grpc.status[outcome]}: ${name}`));
    },
    close: () => undefined,
  };
}

test('an unreachable CA is skipped and the one that answered is asked first next time', async () => {
  const calls: string[] = [];
  const r = failoverCertificateRequester([
    fake('a', grpc.status.UNAVAILABLE, calls),
    fake('b', grpc.status.DEADLINE_EXCEEDED, calls),
    fake('c', 'ok', calls),
  ]);
  assert.deepEqual(await r.request({ csr: '' }, 't'), { cert_chain: ['c'] });
  assert.deepEqual(calls, ['a', 'b', 'c']);
  calls.length = 0;
  await r.request({ csr: '' }, 't');
  assert.deepEqual(calls, ['c']);
});

test("a CA's refusal is not asked of the others, and all unreachable reports the last error", async () => {
  const calls: string[] = [];
  const refused = failoverCertificateRequester([
    fake('a', grpc.status.UNAUTHENTICATED, calls),
    fake('b', 'ok', calls),
  ]);
  await assert.rejects(refused.request({ csr: '' }, 't'), /UNAUTHENTICATED: a/);
  assert.deepEqual(calls, ['a']);
  const down = failoverCertificateRequester([
    fake('a', grpc.status.UNAVAILABLE, []),
    fake('b', grpc.status.UNAVAILABLE, []),
  ]);
  await assert.rejects(down.request({ csr: '' }, 't'), /UNAVAILABLE: b/);
});
