import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../core/clock.js';
import { RequestStop } from './request-stop.js';

function sources() {
  const abortFns: (() => void)[] = [];
  const idleFns: (() => void)[] = [];
  const downstream = { aborted: false, onAbort: (fn: () => void) => abortFns.push(fn) };
  const idle = { expired: false, whenExpired: (fn: () => void) => idleFns.push(fn) };
  return {
    downstream,
    idle,
    abort: () => {
      downstream.aborted = true;
      for (const f of abortFns) f();
    },
    expire: () => {
      idle.expired = true;
      for (const f of idleFns) f();
    },
  };
}

test('the route timeout stops the armed attempt once, when it passes', () => {
  const clock = new FakeClock();
  const s = sources();
  const stop = new RequestStop(clock, 100, s);
  let fired = 0;
  stop.onStop(() => fired++);
  clock.advance(99);
  assert.equal(stop.cause(), undefined);
  assert.equal(fired, 0);
  clock.advance(1);
  assert.equal(stop.cause(), 'route-timeout');
  assert.equal(fired, 1);
  // A handler armed after the stop runs at once.
  stop.onStop(() => fired++);
  assert.equal(fired, 2);
});

test('a timeout of 0 never fires (Envoy: disabled)', () => {
  const clock = new FakeClock();
  const stop = new RequestStop(clock, 0, sources());
  assert.equal(clock.pendingTimers(), 0);
  clock.advance(1e9);
  assert.equal(stop.cause(), undefined);
});

test('cause precedence: the client leaving, then stream idle, then the route timeout', () => {
  const clock = new FakeClock();
  const s = sources();
  const stop = new RequestStop(clock, 10, s);
  clock.advance(10);
  assert.equal(stop.cause(), 'route-timeout');
  s.expire();
  assert.equal(stop.cause(), 'stream-idle-timeout');
  s.abort();
  assert.equal(stop.cause(), 'downstream-disconnect');
});

test('client abort and idle expiry run the armed handler; only the latest handler runs', () => {
  for (const event of ['abort', 'expire'] as const) {
    const clock = new FakeClock();
    const s = sources();
    const stop = new RequestStop(clock, 0, s);
    const ran: string[] = [];
    stop.onStop(() => ran.push('first'));
    stop.onStop(() => ran.push('second'));
    s[event]();
    assert.deepEqual(ran, ['second'], event);
  }
});

test('a back-off wait ends early when the request stops, and dispose cancels the route timer', async () => {
  const clock = new FakeClock();
  const s = sources();
  const stop = new RequestStop(clock, 1000, s);
  let done = false;
  const waiting = stop.wait(clock, 500).then(() => (done = true));
  clock.advance(100);
  await Promise.resolve();
  assert.equal(done, false);
  s.abort();
  await waiting;
  assert.equal(done, true);
  const plain = new RequestStop(clock, 50, sources());
  const w = plain.wait(clock, 20);
  clock.advance(20);
  await w;
  plain.dispose();
  clock.advance(100);
  assert.equal(plain.cause(), undefined);
});

test('the route timer waits for the request body, and never starts after dispose', () => {
  const clock = new FakeClock();
  let complete: (() => void) | undefined;
  const body = { whenComplete: (fn: () => void) => (complete = fn) };
  const stop = new RequestStop(clock, 100, {
    downstream: { aborted: false, onAbort: () => undefined },
    body,
  });
  clock.advance(1000);
  assert.equal(stop.cause(), undefined, 'still uploading: no route timeout yet');
  complete!();
  clock.advance(100);
  assert.equal(stop.cause(), 'route-timeout');
  const late = new RequestStop(clock, 100, {
    downstream: { aborted: false, onAbort: () => undefined },
    body,
  });
  late.dispose();
  complete!();
  assert.equal(clock.pendingTimers(), 0);
});

test('without an idle timer or a route timeout, only the client stops the request; dispose is safe', () => {
  const clock = new FakeClock();
  let abort = () => undefined as void;
  const downstream = { aborted: false, onAbort: (fn: () => void) => (abort = fn) };
  const stop = new RequestStop(clock, 0, { downstream });
  let ran = 0;
  stop.onStop(() => ran++);
  assert.equal(stop.cause(), undefined);
  downstream.aborted = true;
  abort();
  assert.equal(ran, 1);
  assert.equal(stop.cause(), 'downstream-disconnect');
  assert.doesNotThrow(() => stop.dispose());
});
