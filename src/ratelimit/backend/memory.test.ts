import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../core/clock.js';
import { compileDomains, validateDomains, type CompiledLimit } from '../config.js';
import { MemoryBackend } from './memory.js';

function limit(algorithm: 'token_bucket' | 'fixed_window', rpu: number, unit = 'second'): CompiledLimit {
  const d = compileDomains(
    validateDomains([
      { domain: 'd', descriptors: [{ key: 'k', rate_limit: { unit, requests_per_unit: rpu, algorithm } }] },
    ]),
  );
  return d.get('d')!.root.anyValue.get('k')!.limit!;
}

test('memory backend: 10,000 distinct keys expire once their buckets are full again', async () => {
  const clock = new FakeClock(0);
  const backend = new MemoryBackend({ clock, sweepIntervalMs: 1000 });
  const l = limit('token_bucket', 10);
  const checks = Array.from({ length: 10_000 }, (_, i) => ({ key: `user-${i}`, limit: l, hits: 1 }));
  const decisions = await backend.check(checks);
  assert.ok(decisions.every((d) => !d.overLimit));
  assert.equal(backend.size(), 10_000);
  clock.advance(1000);
  assert.equal(backend.size(), 0, 'the sweep dropped every refilled bucket');
  await backend.close();
});

test('memory backend: fixed windows count per window and expire with it', async () => {
  const clock = new FakeClock(10_000);
  const backend = new MemoryBackend({ clock });
  const l = limit('fixed_window', 2, 'minute');
  const once = async () => (await backend.check([{ key: 'a', limit: l, hits: 1 }]))[0]!;
  assert.deepEqual(
    [(await once()).overLimit, (await once()).overLimit, (await once()).overLimit],
    [false, false, true],
  );
  clock.advance(50_000);
  assert.equal((await once()).overLimit, false, 'a new minute starts a new window');
  clock.advance(120_000);
  assert.equal(backend.size(), 0);
  await backend.close();
});

test('memory backend: never holds more than maxKeys, evicting the least recently used', async () => {
  const clock = new FakeClock(0);
  const backend = new MemoryBackend({ clock, maxKeys: 3 });
  const l = limit('token_bucket', 1, 'hour');
  const take = async (key: string) => (await backend.check([{ key, limit: l, hits: 1 }]))[0]!.overLimit;
  assert.equal(await take('a'), false);
  assert.equal(await take('b'), false);
  assert.equal(await take('c'), false);
  assert.equal(await take('a'), true, 'a is used up, and now the most recently used');
  assert.equal(await take('d'), false);
  assert.equal(backend.size(), 3);
  assert.equal(await take('a'), true, 'a survived eviction; b was the oldest');
  assert.equal(await take('b'), false, 'b was evicted, so it starts afresh');
  await backend.close();
});
