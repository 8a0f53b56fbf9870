import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { EventEmitter } from 'node:events';
import { systemClock } from '../../core/clock.js';
import { seededRandom } from '../../core/random.js';
import { eventually } from '../../core/testing/eventually.js';
import { ProcessSupervisor, type ExitInfo } from './supervisor.js';

// The supervisor's restart timers do not hold the process open (in `up` its servers do).
const keepAlive = setInterval(() => undefined, 1000);
after(() => clearInterval(keepAlive));

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('a process that exits is reported and restarted with backoff; its output is prefixed', async () => {
  const out: string[] = [];
  const exits: ExitInfo[] = [];
  const events = new EventEmitter();
  const sup = new ProcessSupervisor({
    name: 'crasher',
    command: [process.execPath, '-e', 'console.log("run"); process.exit(3)'],
    cwd: process.cwd(),
    env: process.env,
    prefix: 'crasher | ',
    write: (t) => out.push(t),
    clock: systemClock,
    random: seededRandom(1),
    backoff: { baseMs: 20, maxMs: 40 },
    onExit: (info) => {
      exits.push(info);
      if (exits.length === 2) events.emit('two');
    },
  });
  sup.start();
  await once(events, 'two');
  await sup.stop();
  assert.equal(exits[0]?.code, 3);
  assert.ok((exits[0]?.restartInMs ?? -1) > 0, 'a restart is scheduled');
  assert.ok(sup.runs >= 2);
  assert.ok(out.filter((l) => l === 'crasher | run\n').length >= 2);
});

test('stop ends the whole process group and does not restart it', async () => {
  const pids: number[] = [];
  const exits: ExitInfo[] = [];
  let out = '';
  const sup = new ProcessSupervisor({
    name: 'sleeper',
    // A shell whose child would outlive a plain kill of the shell; the child says its pid.
    command: ['sh', '-c', `"${process.execPath}" -e "console.log(process.pid); setInterval(() => {}, 1000)"`],
    cwd: process.cwd(),
    env: process.env,
    prefix: '',
    write: (text) => (out += text),
    clock: systemClock,
    random: seededRandom(1),
    onSpawn: (pid) => pids.push(pid),
    onExit: (info) => exits.push(info),
  });
  sup.start();
  const child = Number(await eventually(() => /^(\d+)\n/.exec(out)?.[1] ?? false, 'the child to start'));
  await sup.stop(2000);
  assert.equal(pids.length, 1);
  assert.equal(isAlive(pids[0]!), false);
  // Killed with its group; reaped by init a moment later (until then it is a zombie).
  await eventually(() => !isAlive(child), `the shell's child ${child} to be gone`);
  assert.equal(exits.length, 1);
  assert.equal(exits[0]?.restartInMs, undefined);
  assert.equal(sup.runs, 1);
});

test('a command that cannot start is reported with its error', async () => {
  const exits: ExitInfo[] = [];
  const events = new EventEmitter();
  const sup = new ProcessSupervisor({
    name: 'missing',
    command: ['/nonexistent/program'],
    cwd: process.cwd(),
    env: process.env,
    prefix: '',
    write: () => undefined,
    clock: systemClock,
    random: seededRandom(1),
    backoff: { baseMs: 1000, maxMs: 1000 },
    onExit: (info) => {
      exits.push(info);
      events.emit('exit');
    },
  });
  sup.start();
  await once(events, 'exit');
  await sup.stop();
  assert.match(exits[0]?.error ?? '', /ENOENT/);
});
