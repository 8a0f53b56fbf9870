import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { EventEmitter } from 'node:events';
import { FakeClock, systemClock } from '../../core/clock.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { deathSignalPrefix } from './child-processes.js';
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

function collect(opts: Partial<ConstructorParameters<typeof ProcessSupervisor>[0]> & { command: string[] }) {
  const exits: ExitInfo[] = [];
  const events = new EventEmitter();
  let out = '';
  const sup = new ProcessSupervisor({
    name: 'app',
    cwd: process.cwd(),
    env: process.env,
    prefix: 'app | ',
    write: (t) => (out += t),
    clock: systemClock,
    random: seededRandom(1),
    ...opts,
    onExit: (info) => {
      exits.push(info);
      events.emit('exit', info);
    },
  });
  return { sup, exits, events, output: () => out };
}

test('a command that does not exist is said once ("command not found") and never restarted', async () => {
  const clock = new FakeClock();
  for (const command of [['nodex-does-not-exist', 'app.js'], ['/nonexistent/program']]) {
    const { sup, exits, events } = collect({ command, clock });
    sup.start();
    await once(events, 'exit');
    clock.advance(120_000);
    assert.equal(exits.length, 1, 'reported once');
    assert.match(exits[0]?.error ?? '', new RegExp(`^command not found: ${command[0]} \\(`));
    assert.equal(exits[0]?.gaveUp, exits[0]?.error);
    assert.equal(exits[0]?.restartInMs, undefined);
    assert.equal(sup.runs, 1, 'not restarted');
    assert.equal(clock.pendingTimers(), 0);
    await sup.stop();
  }
});

test('a script whose interpreter is missing (setpriv cannot exec it) is not restarted either', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'trellis-sup-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const script = path.join(dir, 'app.sh');
  await writeFile(script, '#!/nonexistent/interpreter\necho hi\n', { mode: 0o755 });
  const clock = new FakeClock();
  const { sup, exits, events } = collect({ command: [script], clock, dieWithParent: true });
  sup.start();
  await once(events, 'exit');
  clock.advance(120_000);
  assert.equal(exits.length, 1);
  if (deathSignalPrefix().length > 0) {
    // Through setpriv: its exit 127 and message are recognised.
    assert.match(exits[0]?.gaveUp ?? '', /^command not found: .*app\.sh/);
  } else {
    assert.ok(exits[0]?.gaveUp !== undefined || exits[0]?.restartInMs !== undefined);
  }
  await sup.stop();
});

test('the restart delay reported is the delay waited', async () => {
  const clock = new FakeClock();
  const { sup, exits, events } = collect({
    command: [process.execPath, '-e', 'process.exit(1)'],
    clock,
    backoff: { baseMs: 1000, maxMs: 8000 },
  });
  sup.start();
  for (let run = 1; run <= 3; run++) {
    await once(events, 'exit');
    const delay = exits[run - 1]?.restartInMs;
    assert.ok(delay !== undefined && delay > 0, `run ${run} restarts after a delay`);
    clock.advance(delay - 1);
    assert.equal(sup.runs, run, `not restarted 1 ms before the ${delay} ms it said`);
    clock.advance(1);
    assert.equal(sup.runs, run + 1, `restarted at the ${delay} ms it said`);
  }
  await sup.stop();
});

test('too many exits within the window: it gives up, says how often, and keeps its last output', async () => {
  const clock = new FakeClock();
  const { sup, exits, events } = collect({
    command: [
      process.execPath,
      '-e',
      'console.log("starting"); console.error("Error: no database"); process.exit(2)',
    ],
    clock,
    backoff: { baseMs: 100, maxMs: 100 },
    maxRestarts: 2,
    restartWindowMs: 60_000,
  });
  sup.start();
  for (let i = 0; i < 3; i++) {
    await once(events, 'exit');
    clock.advance(100);
  }
  clock.advance(120_000);
  assert.equal(exits.length, 3);
  assert.deepEqual(
    exits.map((e) => e.restartInMs !== undefined),
    [true, true, false],
  );
  assert.equal(exits[2]?.gaveUp, 'exited 3 times within 60s; not restarting it');
  assert.equal(exits[2]?.code, 2);
  assert.equal(sup.runs, 3);
  assert.deepEqual([...sup.recentOutput()].sort(), ['Error: no database', 'starting'], 'stdout and stderr');
  await sup.stop();
});

test('restart() replaces the run without reporting a crash, and revives a given-up app', async () => {
  const clock = new FakeClock();
  const marker = path.join(os.tmpdir(), `trellis-sup-${process.pid}-${Date.now()}`);
  const { sup, exits, events, output } = collect({
    // Fails until the marker file exists, then runs until stopped.
    command: [
      process.execPath,
      '-e',
      `const fs=require('fs'); if (!fs.existsSync(${JSON.stringify(marker)})) process.exit(1); console.log('up'); setInterval(()=>{},1000)`,
    ],
    clock,
    backoff: { baseMs: 100, maxMs: 100 },
    maxRestarts: 0,
  });
  after(() => rm(marker, { force: true }));
  sup.start();
  await once(events, 'exit');
  assert.match(exits[0]?.gaveUp ?? '', /exited 1 times within 60s/);
  assert.equal(sup.gaveUp, exits[0]?.gaveUp);
  await writeFile(marker, '');
  await sup.restart(2000);
  assert.equal(sup.gaveUp, undefined);
  await eventually(() => output().includes('app | up\n'), 'the fixed app to run');
  const pid = sup.pid;
  await sup.restart(2000);
  assert.equal(exits.length, 2, 'the replaced run exits without a restart being scheduled');
  assert.equal(exits[1]?.restartInMs, undefined);
  assert.equal(exits[1]?.gaveUp, undefined);
  await eventually(() => sup.pid !== undefined && sup.pid !== pid, 'a new run');
  await sup.stop(2000);
});
