/**
 * What ends a running `trellis up`, so that whatever ends it, its apps and proxies stop with it:
 * Ctrl-C (SIGINT), SIGTERM, SIGHUP (the terminal closed), and an internal error (an uncaught
 * exception or unhandled rejection anywhere in the process, which would otherwise end Node
 * without stopping anything). Output that can no longer be written (`up | head -1`, a closed
 * terminal) is not one of them: see guardOutput.
 */
import type { EventEmitter } from 'node:events';

export type StopReason = { kind: 'signal'; signal: NodeJS.Signals } | { kind: 'error'; error: unknown };

const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

type ProcessEvents = Pick<EventEmitter, 'on' | 'off'>;

export interface StopTriggers {
  /** The first reason to stop. */
  readonly first: Promise<StopReason>;
  /** Called for each further signal or error while stopping (a second Ctrl-C). */
  onAgain(fn: (reason: StopReason) => void): void;
  dispose(): void;
}

export function stopTriggers(proc: ProcessEvents = process): StopTriggers {
  let resolveFirst: (r: StopReason) => void = () => undefined;
  const first = new Promise<StopReason>((resolve) => (resolveFirst = resolve));
  let fired = false;
  let again: (reason: StopReason) => void = () => undefined;
  const fire = (reason: StopReason) => {
    if (!fired) {
      fired = true;
      resolveFirst(reason);
    } else again(reason);
  };
  const onSignal = (signal: NodeJS.Signals) => fire({ kind: 'signal', signal });
  const onError = (error: unknown) => fire({ kind: 'error', error });
  for (const s of SIGNALS) proc.on(s, onSignal);
  proc.on('uncaughtException', onError);
  proc.on('unhandledRejection', onError);
  return {
    first,
    onAgain(fn) {
      again = fn;
    },
    dispose() {
      for (const s of SIGNALS) proc.off(s, onSignal);
      proc.off('uncaughtException', onError);
      proc.off('unhandledRejection', onError);
    },
  };
}

/** A stream people read (stdout, stderr) that may go away: `up | head -1`, a closed terminal. */
interface OutputStream {
  write(text: string): unknown;
  on(event: 'error', fn: (err: Error) => void): unknown;
}

/**
 * Writes to `stream` until it fails (EPIPE once the reader is gone), then drops output: losing
 * the reader of its log is no reason for `up` to crash and leave its apps running.
 */
export function guardOutput(stream: OutputStream): {
  write: (text: string) => void;
  readonly closed: boolean;
} {
  let closed = false;
  stream.on('error', () => {
    closed = true;
  });
  return {
    write(text) {
      if (closed) return;
      try {
        stream.write(text);
      } catch {
        closed = true;
      }
    },
    get closed() {
      return closed;
    },
  };
}
