/**
 * One workload process, kept running: started in its own process group (so a shell command's
 * children stop with it, and a terminal's Ctrl-C reaches only `up`, which then stops everything
 * in order), its output prefixed line by line, restarted with backoff when it exits unasked
 * (restart-policy.ts: the delay reported is the delay waited, and a crash loop is given up).
 * A program that does not exist is reported once and never restarted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { BackoffPolicy } from '../../core/backoff.js';
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { Random } from '../../core/random.js';
import { deathSignalPrefix } from './child-processes.js';
import { findProgram } from './command-lookup.js';
import { LinePrefixer } from './output.js';
import { DEFAULT_RESTART_LIMITS, RestartPolicy, type RestartLimits } from './restart-policy.js';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why it could not start (command not found, EACCES ...), when it never ran. */
  error?: string;
  /** Milliseconds until the restart; undefined when it is not restarted. */
  restartInMs?: number;
  /**
   * Why it is not restarted, when it is not and nobody asked it to stop: the program does not
   * exist, or it exited too often (the message says how often).
   */
  gaveUp?: string;
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
  /** Backoff between restarts (default 0.5 s doubling up to 30 s). */
  backoff?: BackoffPolicy;
  /** A run this long resets the backoff (default 10 s). */
  stableMs?: number;
  /** Restarts allowed within `restartWindowMs` before giving up (default 5 within 60 s). */
  maxRestarts?: number;
  restartWindowMs?: number;
  /** Lines of output kept for messages about it (default 10). */
  tailLines?: number;
  /**
   * Start the command under `setpriv --pdeathsig KILL` where available (child-processes.ts), so
   * the kernel kills it if this process dies without stopping it, `kill -9` included.
   */
  dieWithParent?: boolean;
  onSpawn?: (pid: number, run: number) => void;
  onExit?: (info: ExitInfo) => void;
}

/** setpriv's exit codes when it cannot exec the command (as a shell's 127 and 126). */
const EXEC_FAILED = new Set([126, 127]);

export class ProcessSupervisor {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private restartTimer: TimerHandle | undefined;
  private stopping = false;
  /** The current run is being ended on purpose (restart()); its exit is not a failure. */
  private replacing = false;
  private readonly policy: RestartPolicy;
  private startedAt = 0;
  private readonly tail: string[] = [];
  /** How many times it has been started (1 on the first run). */
  runs = 0;
  /** Set once it is given up (command not found, or a crash loop). */
  gaveUp: string | undefined;

  constructor(private readonly opts: SupervisorOptions) {
    const limits: RestartLimits = {
      backoff: opts.backoff ?? DEFAULT_RESTART_LIMITS.backoff,
      stableMs: opts.stableMs ?? DEFAULT_RESTART_LIMITS.stableMs,
      maxRestarts: opts.maxRestarts ?? DEFAULT_RESTART_LIMITS.maxRestarts,
      windowMs: opts.restartWindowMs ?? DEFAULT_RESTART_LIMITS.windowMs,
    };
    this.policy = new RestartPolicy(limits, opts.random);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The last lines it printed (stdout and stderr, in order), for messages about it. */
  recentOutput(): readonly string[] {
    return [...this.tail];
  }

  start(): void {
    if (this.stopping) return;
    this.gaveUp = undefined;
    const [program = '', ...rest] = this.opts.command;
    this.runs++;
    this.startedAt = this.opts.clock.now();
    this.tail.length = 0;
    const lookup = findProgram(program, this.opts.cwd, this.opts.env.PATH);
    if (!lookup.found) {
      // Reported after start() returns, as a failed spawn is.
      const reason = lookup.reason;
      queueMicrotask(() => this.giveUp(reason, { code: null, signal: null, error: reason }));
      return;
    }
    const command = this.opts.dieWithParent
      ? [...deathSignalPrefix(this.opts.env), program, ...rest]
      : [program, ...rest];
    const [file, ...args] = command;
    const child = spawn(file ?? '', args, {
      cwd: this.opts.cwd,
      env: this.opts.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.child = child;
    const keep = (line: string) => {
      this.tail.push(line);
      if (this.tail.length > (this.opts.tailLines ?? 10)) this.tail.shift();
    };
    const write = (text: string) => {
      for (const line of text.split('\n').slice(0, -1)) keep(line.slice(this.opts.prefix.length));
      this.opts.write(text);
    };
    const out = new LinePrefixer(this.opts.prefix, write);
    const err = new LinePrefixer(this.opts.prefix, write);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => out.push(d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => err.push(d));
    let spawnError: string | undefined;
    let finished = false;
    this.exited = new Promise((resolve) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        // A failed spawn can report both 'error' and 'close': one exit, one restart.
        if (finished) return;
        finished = true;
        out.flush();
        err.flush();
        if (this.child === child) this.child = undefined;
        resolve();
        this.afterExit({
          code,
          signal,
          ...(spawnError ? { error: spawnError } : {}),
          ...(child.pid !== undefined ? { pid: child.pid } : {}),
        });
      };
      child.once('error', (e) => {
        spawnError = e.message;
        // A process that never started emits no 'close'.
        if (child.pid === undefined) finish(null, null);
      });
      child.once('close', (code, signal) => finish(code, signal));
    });
    if (child.pid !== undefined) this.opts.onSpawn?.(child.pid, this.runs);
  }

  private afterExit(info: ExitInfo): void {
    if (this.stopping || this.replacing) {
      this.opts.onExit?.(info);
      return;
    }
    // setpriv could not exec the program (it vanished or lost its x bit since the lookup).
    const last = this.tail[this.tail.length - 1] ?? '';
    if (info.code !== null && EXEC_FAILED.has(info.code) && /^setpriv: failed to execute /.test(last)) {
      const reason = `command not found: ${last.replace(/^setpriv: failed to execute /, '')}`;
      this.giveUp(reason, { ...info, error: reason });
      return;
    }
    const decision = this.policy.afterExit(this.startedAt, this.opts.clock.now());
    if (!decision.restart) {
      const reason = `exited ${decision.exits} times within ${Math.round(decision.windowMs / 1000)}s; not restarting it`;
      this.giveUp(reason, info);
      return;
    }
    this.opts.onExit?.({ ...info, restartInMs: decision.delayMs });
    this.restartTimer = this.opts.clock.setTimeout(() => {
      this.restartTimer = undefined;
      this.start();
    }, decision.delayMs);
  }

  private giveUp(reason: string, info: ExitInfo): void {
    this.gaveUp = reason;
    this.opts.onExit?.({ ...info, gaveUp: reason });
  }

  /**
   * Ends the current run (as stop() does) and starts a fresh one at once, forgetting past
   * failures: a person changed its files (`up --watch`). Starts it again even if it was given up.
   */
  async restart(graceMs = 5000): Promise<void> {
    if (this.stopping) return;
    this.restartTimer?.cancel();
    this.restartTimer = undefined;
    this.replacing = true;
    try {
      await this.end(graceMs);
    } finally {
      this.replacing = false;
    }
    if (this.stopping) return;
    this.policy.reset();
    this.start();
  }

  /** SIGTERM to the process group, SIGKILL after `graceMs`; resolves once it has exited. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    this.restartTimer?.cancel();
    await this.end(graceMs);
  }

  private async end(graceMs: number): Promise<void> {
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
