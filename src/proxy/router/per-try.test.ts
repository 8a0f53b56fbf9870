import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../core/clock.js';
import { UpstreamError, type UpstreamAttempt, type UpstreamResponse } from '../upstream/attempt.js';
import { runAttempt } from './per-try.js';
import { RequestStop } from './request-stop.js';

function fakeAttempt() {
  let resolve!: (r: UpstreamResponse) => void;
  let reject!: (e: unknown) => void;
  const calls: string[] = [];
  const attempt: UpstreamAttempt = {
    response: new Promise<UpstreamResponse>((res, rej) => {
      resolve = res;
      reject = rej;
    }),
    cancel: () => calls.push('cancel'),
    detachBody: () => calls.push('detach'),
  };
  return { attempt, resolve, reject, calls };
}

const perTry = (timeoutMs: number | undefined) => ({
  timeoutMs,
  whenRequestComplete: (fn: () => void) => fn(),
});

function setup(routeTimeoutMs = 0) {
  const clock = new FakeClock(1000);
  const downstream = { aborted: false, onAbort: (fn: () => void) => (abort = fn) };
  let abort = () => undefined as void;
  const stop = new RequestStop(clock, routeTimeoutMs, { downstream });
  return {
    clock,
    stop,
    abort: () => {
      downstream.aborted = true;
      abort();
    },
  };
}

test('a response before the per-try timeout is the result, with its service time', async () => {
  const { clock, stop } = setup();
  const a = fakeAttempt();
  const running = runAttempt(a.attempt, perTry(100), clock, stop);
  clock.advance(40);
  a.resolve({ status: 200 } as UpstreamResponse);
  const r = await running;
  assert.equal(r.kind, 'response');
  assert.equal(r.kind === 'response' && r.serviceTimeMs, 40);
  assert.deepEqual(a.calls, [], 'a response keeps the attempt and its body');
  assert.equal(clock.pendingTimers(), 0, 'the per-try timer is cancelled');
});

test('the per-try timeout cancels the attempt and detaches the body', async () => {
  const { clock, stop } = setup();
  const a = fakeAttempt();
  const running = runAttempt(a.attempt, perTry(100), clock, stop);
  clock.advance(100);
  assert.deepEqual(await running, { kind: 'per-try-timeout' });
  assert.deepEqual(a.calls, ['cancel', 'detach']);
});

test('no per-try timeout: the attempt waits for its answer', async () => {
  const { clock, stop } = setup();
  const a = fakeAttempt();
  const running = runAttempt(a.attempt, perTry(undefined), clock, stop);
  clock.advance(1e6);
  a.reject(new UpstreamError('connect', 'ECONNREFUSED'));
  const r = await running;
  assert.equal(r.kind === 'error' && r.error.kind, 'connect');
  assert.deepEqual(a.calls, ['detach']);
});

test('an error that is not an UpstreamError is a reset', async () => {
  const { clock, stop } = setup();
  const a = fakeAttempt();
  const running = runAttempt(a.attempt, perTry(undefined), clock, stop);
  a.reject(new Error('odd'));
  const r = await running;
  assert.equal(r.kind === 'error' && r.error.kind, 'reset');
});

test('the route timeout and a client abort stop the attempt', async () => {
  for (const how of ['route-timeout', 'abort'] as const) {
    const { clock, stop, abort } = setup(50);
    const a = fakeAttempt();
    const running = runAttempt(a.attempt, perTry(100), clock, stop);
    if (how === 'abort') abort();
    else clock.advance(50);
    assert.deepEqual(await running, { kind: 'stopped' }, how);
    assert.deepEqual(a.calls, ['cancel', 'detach'], how);
  }
});

test('the per-try timer starts once the client has sent the whole request', async () => {
  const { clock, stop } = setup();
  const a = fakeAttempt();
  let complete: () => void = () => undefined;
  const running = runAttempt(
    a.attempt,
    { timeoutMs: 100, whenRequestComplete: (fn) => (complete = fn) },
    clock,
    stop,
  );
  clock.advance(500);
  assert.deepEqual(a.calls, [], 'a slow upload is not a per-try timeout');
  complete();
  clock.advance(99);
  assert.deepEqual(a.calls, []);
  clock.advance(1);
  assert.deepEqual(await running, { kind: 'per-try-timeout' });
});

test('a request that completes after its response arms no per-try timer', async () => {
  const { clock, stop } = setup();
  const a = fakeAttempt();
  let complete: () => void = () => undefined;
  const running = runAttempt(
    a.attempt,
    { timeoutMs: 100, whenRequestComplete: (fn) => (complete = fn) },
    clock,
    stop,
  );
  a.resolve({ status: 200 } as UpstreamResponse);
  assert.equal((await running).kind, 'response');
  complete();
  assert.equal(clock.pendingTimers(), 0);
});
