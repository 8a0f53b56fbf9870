import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, EventuallyTimeoutError } from './eventually.js';

test('eventually resolves to the first value the check returns that is not false', async () => {
  let calls = 0;
  const value = await eventually(() => {
    calls++;
    if (calls < 3) return false;
    return { calls };
  });
  assert.deepEqual(value, { calls: 3 });
  assert.equal(await eventually(() => 0), 0, 'only false means "not yet"');
});

test('eventually retries an assertion that throws until it passes', async () => {
  let n = 0;
  await eventually(
    () => {
      n++;
      assert.ok(n >= 3, `n is ${n}`);
    },
    { what: 'n to reach 3' },
  );
  assert.equal(n, 3);
});

test('eventually fails at the deadline with the last assertion error and how long it waited', async () => {
  let n = 0;
  const started = performance.now();
  const err = await eventually(
    () => {
      n++;
      assert.equal(n, -1, `attempt ${n}`);
    },
    { what: 'the impossible', timeoutMs: 60, intervalMs: 5 },
  ).then(
    () => assert.fail('resolved'),
    (e: unknown) => e,
  );
  const elapsed = performance.now() - started;
  assert.ok(err instanceof EventuallyTimeoutError);
  assert.match(err.message, /^eventually: the impossible did not hold after \d+ ms \(\d+ attempts\); last error: attempt \d+/);
  assert.ok(err.waitedMs >= 60, `waited ${err.waitedMs} ms`);
  assert.ok(elapsed < 1000, `gave up promptly (${Math.round(elapsed)} ms)`);
  assert.equal(err.attempts, n);
  assert.match((err.cause as Error).message, new RegExp(`^attempt ${n}\\b`));
});

test('eventually says when a condition stayed false, and accepts a description as its second argument', async () => {
  await assert.rejects(
    eventually(() => false, { what: 'never', timeoutMs: 20 }),
    /eventually: never did not hold after \d+ ms .*the check still returned false/,
  );
  assert.equal(await eventually(() => 'ok', 'a string'), 'ok');
  await assert.rejects(
    eventually(() => false, { what: 'x', timeoutMs: 0, context: () => '; log tail: boom' }),
    /still returned false; log tail: boom$/,
  );
});

test('eventually refuses, at compile time, a check that may return undefined', async () => {
  const found = (): string | undefined => 'x';
  // @ts-expect-error: "undefined" would read as "holds"; such a check returns `?? false`.
  await eventually(found);
  assert.equal(await eventually(() => found() ?? false), 'x');
});

test('eventually awaits async checks and does not overlap attempts', async () => {
  let running = 0;
  let maxRunning = 0;
  let n = 0;
  await eventually(async () => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    await new Promise((r) => setImmediate(r));
    running--;
    return ++n === 5;
  });
  assert.equal(maxRunning, 1);
  assert.equal(n, 5);
});
