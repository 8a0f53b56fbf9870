import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage, TYPE } from '../../protocol/protos.js';
import { CircuitBreakers, compileCircuitBreakers } from './circuit-breaker.js';
import { unwrap } from './proto-values.js';

test('a present wrapper holding zero decodes as {} and means zero, not unset', () => {
  assert.equal(unwrap({}, 3), 0);
  assert.equal(unwrap({}, true), false);
  assert.equal(unwrap({ value: 7 }, 3), 7);
  assert.equal(unwrap(undefined, 3), 3);
  assert.equal(unwrap(null, 3), 3);
});

test('max_retries: 0 from the wire disables retries instead of falling back to 3', () => {
  const bytes = encodeMessage(TYPE.cluster, {
    name: 'c',
    circuit_breakers: { thresholds: [{ priority: 'DEFAULT', max_retries: { value: 0 } }] },
  });
  const cluster = decodeMessage<{ circuit_breakers: unknown }>(TYPE.cluster, bytes);
  assert.deepEqual(
    (cluster.circuit_breakers as { thresholds: { max_retries: unknown }[] }).thresholds[0]?.max_retries,
    {},
  );
  const breakers = new CircuitBreakers(
    compileCircuitBreakers(cluster.circuit_breakers as never, 'circuit_breakers'),
  );
  assert.equal(breakers.forPriority('DEFAULT').tryAcquire('retries'), undefined, 'no retry may start');
  assert.notEqual(
    breakers.forPriority('DEFAULT').tryAcquire('requests'),
    undefined,
    'requests keep their default limit',
  );
});
