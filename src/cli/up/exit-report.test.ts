import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeExit, exitKind, seconds } from './exit-report.js';

test('a clean exit is not a crash; a code or a signal is; a spawn failure says why', () => {
  const cases: [Parameters<typeof describeExit>[0], string][] = [
    [{ code: 0, signal: null }, 'exited (code 0)'],
    [{ code: 1, signal: null }, 'crashed (code 1)'],
    [{ code: 137, signal: null }, 'crashed (code 137)'],
    [{ code: null, signal: 'SIGSEGV' }, 'crashed (signal SIGSEGV)'],
    [{ code: null, signal: 'SIGKILL' }, 'crashed (signal SIGKILL)'],
    [{ code: null, signal: null }, 'crashed (code ?)'],
    [{ code: null, signal: null, error: 'spawn EACCES' }, 'failed to start (spawn EACCES)'],
  ];
  for (const [facts, said] of cases) assert.equal(describeExit(facts), said, JSON.stringify(facts));
  assert.equal(exitKind({ code: 0, signal: null }), 'exited');
  assert.equal(exitKind({ code: 0, signal: 'SIGTERM' }), 'crashed');
});

test('delays are printed with one decimal', () => {
  assert.equal(seconds(250), '0.3s');
  assert.equal(seconds(1000), '1.0s');
  assert.equal(seconds(29_999), '30.0s');
});
