/**
 * One workload process, kept running: started in its own process group (so a shell command's
 * children stop with it, and a terminal's Ctrl-C reaches only `up`, which then stops everything
 * in order), its output prefixed line by line, restarted with backoff when it exits unasked.
 * The backoff resets once a run has lasted `stableMs`, so a crash loop slows down while a
 * process that crashes once a day restarts at once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Backoff, type BackoffPolicy } from '../../core/backoff.js';
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { Random } from '../../core/random.js';
import { deathSignalPrefix } from './child-processes.js';
import { LinePrefixer } from './output.js';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why it could not start (ENOENT ...), when it never ran. */
  error?: string;
  /** Milliseconds until the restart; undefined when stopping. */
  restartInMs?: number;
  /** The pid that exited, when it ever ran. */
  pid?: number;
}

export interface SupervisorOptions {
  name: string;
  command: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  prefix: string;
  write: (text: string) => void;
  clock: Clock;
  random: Random;
  backoff?: BackoffPolicy;
  stableMs?: number;
  /**
   * Start the command under `setpriv --pdeathsig KILL` where available (child-processes.ts), so
   * the kernel kills it if this process dies without stopping it, `kill -9` included.
   */
  dieWithParent?: boolean;
  onSpawn?: (pid: number, run: number) => void;
  onExit?: (info: ExitInfo) => void;
}

export class ProcessSupervisor {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private restartTimer: TimerHandle | undefined;
  private stopping = false;
  private readonly backoff: Backoff;
  private startedAt = 0;
  /** How many times it has been started (1 on the first run). */
  runs = 0;

  constructor(private readonly opts: SupervisorOptions) {
    this.backoff = new Backoff(opts.backoff ?? { baseMs: 500, maxMs: 30_000 }, opts.random);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    if (this.stopping) return;
    const command = this.opts.dieWithParent
      ? [...deathSignalPrefix(this.opts.env), ...this.opts.command]
      : this.opts.command;
    const [program, ...args] = command;
    this.runs++;
    this.startedAt = this.opts.clock.now();
    const child = spawn(program ?? '', args, {
      cwd: this.opts.cwd,
      env: this.opts.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.child = child;
    const out = new LinePrefixer(this.opts.prefix, this.opts.write);
    const err = new LinePrefixer(this.opts.prefix, this.opts.write);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => out.push(d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => err.push(d));
    let spawnError: string | undefined;
    this.exited = new Promise((resolve) => {
      child.once('error', (e) => {
        spawnError = e.message;
        // A process that never started emits no 'close'.
        if (child.pid === undefined) finish(null, null);
      });
      child.once('close', (code, signal) => finish(code, signal));
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        out.flush();
        err.flush();
        if (this.child === child) this.child = undefined;
        resolve();
        this.exitedUnasked({
          code,
          signal,
          ...(spawnError ? { error: spawnError } : {}),
          ...(child.pid !== undefined ? { pid: child.pid } : {}),
        });
      };
    });
    if (child.pid !== undefined) this.opts.onSpawn?.(child.pid, this.runs);
  }

  private exitedUnasked(info: ExitInfo): void {
    if (this.stopping) {
      this.opts.onExit?.(info);
      return;
    }
    if (this.opts.clock.now() - this.startedAt >= (this.opts.stableMs ?? 10_000)) this.backoff.reset();
    const delay = this.backoff.next();
    this.opts.onExit?.({ ...info, restartInMs: delay });
    this.restartTimer = this.opts.clock.setTimeout(() => {
      this.restartTimer = undefined;
      this.start();
    }, delay);
  }

  /** SIGTERM to the process group, SIGKILL after `graceMs`; resolves once it has exited. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    this.restartTimer?.cancel();
    const child = this.child;
    if (child?.pid === undefined) return;
    signalGroup(child.pid, 'SIGTERM');
    const kill = this.opts.clock.setTimeout(() => signalGroup(child.pid as number, 'SIGKILL'), graceMs);
    await this.exited;
    kill.cancel();
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}
