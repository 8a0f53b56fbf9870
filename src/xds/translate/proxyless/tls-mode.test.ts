import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serverTransport, type MtlsMode } from './tls-mode.js';

test("a port's mode as a gRPC server can serve it (Istio's grpcgen)", () => {
  const labelled = { 'security.istio.io/tlsMode': 'istio' };
  const cases: [MtlsMode, Record<string, string>, string][] = [
    ['STRICT', {}, 'mtls'],
    ['STRICT', labelled, 'mtls'],
    ['DISABLE', {}, 'plaintext'],
    ['DISABLE', labelled, 'plaintext'],
    ['PERMISSIVE', {}, 'plaintext'],
    ['PERMISSIVE', labelled, 'mtls'],
    ['PERMISSIVE', { 'security.istio.io/tlsMode': 'disabled' }, 'plaintext'],
    ['PERMISSIVE', { 'security.istio.io/tlsMode': 'ISTIO' }, 'plaintext'],
  ];
  for (const [mode, labels, expected] of cases)
    assert.equal(serverTransport(mode, labels), expected, `${mode} ${JSON.stringify(labels)}`);
});
