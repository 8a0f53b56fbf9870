import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { guardOutput, stopTriggers, type StopReason } from './stop-triggers.js';

test('the first signal or internal error is the reason to stop; later ones are reported as "again"', async () => {
  for (const [event, arg, expected] of [
    ['SIGINT', 'SIGINT', { kind: 'signal', signal: 'SIGINT' }],
    ['SIGTERM', 'SIGTERM', { kind: 'signal', signal: 'SIGTERM' }],
    ['SIGHUP', 'SIGHUP', { kind: 'signal', signal: 'SIGHUP' }],
    ['uncaughtException', 'boom', { kind: 'error', error: 'boom' }],
    ['unhandledRejection', 'nope', { kind: 'error', error: 'nope' }],
  ] as const) {
    const proc = new EventEmitter();
    const triggers = stopTriggers(proc);
    const again: StopReason[] = [];
    triggers.onAgain((r) => again.push(r));
    proc.emit(event, arg);
    proc.emit('SIGINT', 'SIGINT');
    assert.deepEqual(await triggers.first, expected);
    assert.deepEqual(again, [{ kind: 'signal', signal: 'SIGINT' }]);
    triggers.dispose();
    for (const e of ['SIGINT', 'SIGTERM', 'SIGHUP', 'uncaughtException', 'unhandledRejection'])
      assert.equal(proc.listenerCount(e), 0, `${e} listener removed`);
  }
});

test('output to a closed pipe is dropped, not thrown', () => {
  const stream = new EventEmitter() as EventEmitter & { write(text: string): boolean };
  const written: string[] = [];
  stream.write = (text: string) => {
    written.push(text);
    return true;
  };
  const out = guardOutput(stream);
  out.write('one\n');
  stream.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
  out.write('two\n');
  assert.equal(out.closed, true);
  assert.deepEqual(written, ['one\n']);
  // A stream that throws (destroyed) closes the output too.
  const throwing = new EventEmitter() as EventEmitter & { write(text: string): boolean };
  throwing.write = () => {
    throw new Error('write after end');
  };
  const out2 = guardOutput(throwing);
  out2.write('x');
  assert.equal(out2.closed, true);
});
