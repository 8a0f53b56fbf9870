import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const REPO = path.resolve(import.meta.dirname, '../../..');
export const TRELLIS_BIN = path.join(REPO, 'bin/trellis.mjs');
/** The installed command (`npx trellis`): a shell script that execs node with bin/trellis.mjs. */
export const TRELLIS_COMMAND = path.join(REPO, 'bin/trellis');

export interface RunningCommand {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the first match of `re` in stdout+stderr. */
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends a signal and resolves with the exit code (SIGKILL after `killAfterMs`, default 10 s). */
  stop(signal?: NodeJS.Signals, killAfterMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

/** Starts `trellis ARGS...` as a child process, collecting its output. */
export function startTrellis(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; viaCommand?: boolean } = {},
): RunningCommand {
  const [cmd, cmdArgs] = options.viaCommand
    ? [TRELLIS_COMMAND, args]
    : [process.execPath, [TRELLIS_BIN, ...args]];
  const child = spawn(cmd, cmdArgs, {
    cwd: options.cwd ?? REPO,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
    for (const l of listeners) l();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForOutput(re, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = (out + err).match(re);
          if (m) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve(m);
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(
            new Error(`no output matching ${String(re)} within ${timeoutMs} ms; output:\n${out}\n${err}`),
          );
        }, timeoutMs);
        listeners.add(check);
        void exited.then(() => {
          if (listeners.has(check)) {
            listeners.delete(check);
            clearTimeout(timer);
            reject(new Error(`process exited before printing ${String(re)}; output:\n${out}\n${err}`));
          }
        });
        check();
      });
    },
    async stop(signal = 'SIGTERM', killAfterMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Runs `trellis ARGS...` to completion. */
export async function runTrellis(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const cmd = startTrellis(args, options);
  const code = await cmd.exited;
  return { code, stdout: cmd.stdout(), stderr: cmd.stderr() };
}
