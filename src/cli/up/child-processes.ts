/**
 * Keeping `trellis up`'s applications from outliving it.
 *
 * 1. While it runs: on Linux each app is started under util-linux `setpriv --pdeathsig KILL`,
 *    so the kernel kills it when `up` dies, `kill -9` included (PR_SET_PDEATHSIG fires when the
 *    parent thread exits; node spawns from its main thread). setpriv execs the command, so the
 *    pid is the app's. Only that process gets the signal, not processes it forked itself.
 * 2. At the next start: every app's process group is recorded in a pid file in the state
 *    directory (pid, process group, start time from /proc/PID/stat). A run that was killed
 *    leaves the file behind; the next `up` kills what is left of those groups, but only
 *    processes that are provably the same ones (same start time, or members of a group whose
 *    leader is gone: Linux does not reuse a pid while it still names a process group). This
 *    is what the netns mode does for its namespaces (netns.ts, removeLeftovers).
 */
import { accessSync, constants, readFileSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../../core/errors.js';

/** What /proc/PID/stat says about a process, or undefined when it is gone (or a zombie). */
export interface ProcStat {
  pgid: number;
  /** Start time in clock ticks after boot: with the pid, identifies one process for good. */
  startTime: string;
}

export function readProcStat(pid: number, proc = '/proc'): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(path.join(proc, String(pid), 'stat'), 'utf8');
  } catch {
    return undefined;
  }
  // `pid (comm) state ppid pgrp ...`: comm may hold spaces and parentheses, so split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
  const pgid = Number(rest[2]);
  const startTime = rest[19];
  if (!Number.isInteger(pgid) || startTime === undefined) return undefined;
  return { pgid, startTime };
}

let setprivPath: string | null | undefined;

/** `setpriv --pdeathsig KILL --` when this is Linux and util-linux's setpriv is on PATH. */
export function deathSignalPrefix(env: NodeJS.ProcessEnv = process.env): readonly string[] {
  if (process.platform !== 'linux') return [];
  if (setprivPath === undefined) {
    setprivPath = null;
    for (const dir of (env.PATH ?? '/usr/bin:/bin').split(path.delimiter)) {
      const candidate = path.join(dir, 'setpriv');
      try {
        accessSync(candidate, constants.X_OK);
        setprivPath = candidate;
        break;
      } catch {
        // Not here.
      }
    }
  }
  return setprivPath === null ? [] : [setprivPath, '--pdeathsig', 'KILL', '--'];
}

export interface ChildRecord {
  name: string;
  pid: number;
  pgid: number;
  startTime: string;
}

interface PidFileContent {
  format: 1;
  owner: { pid: number; startTime: string };
  children: ChildRecord[];
}

export interface ChildPidFileOptions {
  /** Kills a process group; process.kill(-pgid, 'SIGKILL'). */
  killGroup?: (pgid: number) => void;
  proc?: string;
  /** This process (the owner of the file). */
  self?: number;
  warn?: (message: string) => void;
}

/** The pid file of one `up` run: what it started, so the next run can clean up after a crash. */
export class ChildPidFile {
  private readonly children = new Map<number, ChildRecord>();
  private readonly proc: string;
  private readonly self: number;
  private writing: Promise<void> = Promise.resolve();
  private seq = 0;

  constructor(
    readonly file: string,
    private readonly opts: ChildPidFileOptions = {},
  ) {
    this.proc = opts.proc ?? '/proc';
    this.self = opts.self ?? process.pid;
  }

  /**
   * Kills what a previous run left: the recorded groups whose processes are still the same.
   * Returns the leftover processes' names and pids. A file whose owner is still running (another
   * `up` on the same state directory) is left alone.
   */
  async removeLeftovers(): Promise<{ name: string; pid: number }[]> {
    let content: PidFileContent;
    try {
      content = JSON.parse(await readFile(this.file, 'utf8')) as PidFileContent;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        this.opts.warn?.(`ignoring unreadable pid file ${this.file}: ${errorMessage(err)}`);
      return [];
    }
    const owner = content.owner ? readProcStat(content.owner.pid, this.proc) : undefined;
    if (owner && owner.startTime === content.owner.startTime && content.owner.pid !== this.self) {
      this.opts.warn?.(
        `${this.file}: trellis up (pid ${content.owner.pid}) is still running on this state directory`,
      );
      return [];
    }
    const killed: { name: string; pid: number }[] = [];
    for (const c of Array.isArray(content.children) ? content.children : []) {
      if (!Number.isInteger(c.pgid) || c.pgid <= 1) continue;
      const leader = readProcStat(c.pgid, this.proc);
      // The leader alive with another start time: the pid was reused, the group is not ours.
      if (leader && leader.startTime !== c.startTime) continue;
      const members = leader ? [c.pgid] : this.groupMembers(c.pgid);
      if (members.length === 0) continue;
      try {
        (this.opts.killGroup ?? ((g: number) => process.kill(-g, 'SIGKILL')))(c.pgid);
        killed.push(...members.map((pid) => ({ name: c.name, pid })));
      } catch {
        // Gone meanwhile.
      }
    }
    await unlink(this.file).catch(() => undefined);
    return killed;
  }

  /** Records a started app (its own process group: the supervisor spawns it detached). */
  add(name: string, pid: number): void {
    const stat = readProcStat(pid, this.proc);
    if (!stat) return;
    this.children.set(pid, { name, pid, pgid: stat.pgid, startTime: stat.startTime });
    this.save();
  }

  /** Forgets an app that exited. */
  delete(pid: number): void {
    if (this.children.delete(pid)) this.save();
  }

  /** After a clean stop: nothing is left to clean. */
  async remove(): Promise<void> {
    this.children.clear();
    await this.writing;
    await unlink(this.file).catch(() => undefined);
  }

  private groupMembers(pgid: number): number[] {
    let entries: string[];
    try {
      entries = readdirSync(this.proc);
    } catch {
      return [];
    }
    return entries
      .filter((e) => /^\d+$/.test(e))
      .map(Number)
      .filter((pid) => readProcStat(pid, this.proc)?.pgid === pgid);
  }

  /** Writes the file (temp + rename), one write at a time, the latest state last. */
  private save(): void {
    const self = readProcStat(this.self, this.proc);
    const content: PidFileContent = {
      format: 1,
      owner: { pid: this.self, startTime: self?.startTime ?? '' },
      children: [...this.children.values()],
    };
    const tmp = `${this.file}.${this.self}.${++this.seq}.tmp`;
    this.writing = this.writing
      .then(async () => {
        await mkdir(path.dirname(this.file), { recursive: true });
        await writeFile(tmp, JSON.stringify(content, null, 2) + '\n');
        await rename(tmp, this.file);
      })
      .catch((err: unknown) => {
        this.opts.warn?.(`cannot write pid file ${this.file}: ${errorMessage(err)}`);
      });
  }
}
