/**
 * `kill -9` of `trellis up` must not leave its applications running with their ports held:
 * the kernel kills them with it (setpriv --pdeathsig), and what a killed run left anyway
 * (processes an app forked itself) is killed at the next start, from the pid file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventually } from '../../core/testing/eventually.js';
import { ChildPidFile, deathSignalPrefix, readProcStat } from './child-processes.js';

const HARNESS = path.join(import.meta.dirname, 'testdata', 'die-with-parent-harness.ts');

/** Waits until `pid` is gone (a zombie counts as gone); fails with `what` at the deadline. */
async function gone(pid: number, what: string): Promise<void> {
  await eventually(() => readProcStat(pid) === undefined, { what, timeoutMs: 10_000, intervalMs: 50 });
}

function killQuietly(target: number): void {
  try {
    process.kill(target, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

test(
  'an app started by the supervisor dies when its parent is killed with SIGKILL',
  { skip: deathSignalPrefix().length === 0 ? 'needs Linux and util-linux setpriv' : false },
  async () => {
    const harness = spawn(process.execPath, ['--import', 'tsx', HARNESS], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let appPid: number | undefined;
    try {
      let out = '';
      const deadline = setTimeout(() => harness.kill('SIGKILL'), 20_000);
      for await (const chunk of harness.stdout) {
        out += String(chunk);
        const m = /app pid (\d+)/.exec(out);
        if (m) {
          appPid = Number(m[1]);
          break;
        }
      }
      clearTimeout(deadline);
      assert.ok(appPid !== undefined, `the harness started no app: ${out}`);
      assert.ok(readProcStat(appPid), 'the app runs');
      harness.kill('SIGKILL');
      await once(harness, 'exit');
      await gone(appPid, `app ${appPid} to die after its parent was killed`);
    } finally {
      harness.kill('SIGKILL');
      if (appPid !== undefined) killQuietly(-appPid);
    }
  },
);

test('the next start kills what a killed run left: same processes only, orphans of its groups included', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-up-pids-'));
  // An app that forked a worker, in its own process group, as the supervisor starts apps.
  const app = spawn('sh', ['-c', `"${process.execPath}" -e "setInterval(() => {}, 1000)" & echo $!; wait`], {
    detached: true,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  // A second app whose leader is still alive.
  const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
    detached: true,
    stdio: 'ignore',
  });
  // A live process in its own group, recorded with another start time: its pid was reused.
  // (Never this test's own group: when that group's leader has exited, as under a detached
  // shell job, a bug here would kill the test runner itself.)
  const reused = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
    detached: true,
    stdio: 'ignore',
  });
  const [line] = (await once(app.stdout, 'data')) as [Buffer];
  const worker = Number(String(line).trim());
  t.after(async () => {
    for (const pid of [app.pid, other.pid, worker, reused.pid]) if (pid) killQuietly(-pid);
    await rm(dir, { recursive: true, force: true });
  });
  const appStat = readProcStat(app.pid!)!;
  const otherStat = readProcStat(other.pid!)!;
  const reusedStat = readProcStat(reused.pid!)!;
  // The app's shell died with the killed run (pdeathsig); its worker did not.
  app.kill('SIGKILL');
  await once(app, 'exit');
  assert.ok(readProcStat(worker), 'the orphaned worker still runs');

  const file = path.join(dir, 'up-apps.json');
  await writeFile(
    file,
    JSON.stringify({
      format: 1,
      owner: { pid: 2 ** 22 + 1, startTime: '1' }, // the killed `up`: gone
      children: [
        { name: 'reviews', pid: app.pid, pgid: appStat.pgid, startTime: appStat.startTime },
        { name: 'ratings', pid: other.pid, pgid: otherStat.pgid, startTime: otherStat.startTime },
        // Same pid as a live process, another start time: a reused pid, not ours to kill.
        { name: 'reused', pid: reused.pid, pgid: reusedStat.pgid, startTime: `${reusedStat.startTime}0` },
      ],
    }),
  );
  const killed = await new ChildPidFile(file).removeLeftovers();
  assert.deepEqual(
    killed.map((k) => `${k.name} ${k.pid}`).sort(),
    [`ratings ${other.pid}`, `reviews ${worker}`].sort(),
  );
  await gone(worker, 'the orphaned worker to be killed');
  await gone(other.pid!, 'the app left running to be killed');
  assert.ok(readProcStat(reused.pid!), 'a reused pid is not ours to kill');
  await assert.rejects(readFile(file), { code: 'ENOENT' }, 'the pid file is consumed');
});

test('a pid file whose owner still runs (another up on this state directory) is left alone', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-up-pids-'));
  const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
    detached: true,
    stdio: 'ignore',
  });
  t.after(async () => {
    killQuietly(-other.pid!);
    await rm(dir, { recursive: true, force: true });
  });
  const otherStat = readProcStat(other.pid!)!;
  const self = readProcStat(process.pid)!;
  const file = path.join(dir, 'up-apps.json');
  await writeFile(
    file,
    JSON.stringify({
      format: 1,
      owner: { pid: process.pid, startTime: self.startTime },
      children: [{ name: 'ratings', pid: other.pid, pgid: otherStat.pgid, startTime: otherStat.startTime }],
    }),
  );
  const warnings: string[] = [];
  const killed = await new ChildPidFile(file, { self: 1, warn: (m) => warnings.push(m) }).removeLeftovers();
  assert.deepEqual(killed, []);
  assert.ok(readProcStat(other.pid!), 'not killed');
  assert.match(warnings.join('\n'), /still running on this state directory/);
});

test('the pid file follows the apps and is removed after a clean stop', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-up-pids-'));
  const app = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
    detached: true,
    stdio: 'ignore',
  });
  t.after(async () => {
    killQuietly(-app.pid!);
    await rm(dir, { recursive: true, force: true });
  });
  const file = path.join(dir, 'state', 'up-apps.json');
  const pids = new ChildPidFile(file);
  pids.add('reviews', app.pid!);
  const content = await eventually(
    async () => JSON.parse(await readFile(file, 'utf8')) as { children: { name: string; pid: number }[] },
    'the pid file to be written',
  );
  assert.deepEqual(
    content.children.map((c) => [c.name, c.pid]),
    [['reviews', app.pid]],
  );
  await pids.remove();
  await assert.rejects(readFile(file), { code: 'ENOENT' });
});
