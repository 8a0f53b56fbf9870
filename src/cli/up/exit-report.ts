/**
 * How `trellis up` words a workload's exit: a clean exit is not a crash. A process that ends
 * with code 0 "exited"; one that ends with another code or a signal "crashed"; one that could
 * not be started at all says why. Pure, so the wording is tested as a table.
 */
export interface ExitFacts {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why it could not start (a spawn error), when it never ran. */
  error?: string;
}

export type ExitKind = 'exited' | 'crashed' | 'failed to start';

export function exitKind(e: ExitFacts): ExitKind {
  if (e.error !== undefined) return 'failed to start';
  if (e.signal === null && e.code === 0) return 'exited';
  return 'crashed';
}

/** `exited (code 0)`, `crashed (code 1)`, `crashed (signal SIGSEGV)`, `failed to start (spawn EACCES)`. */
export function describeExit(e: ExitFacts): string {
  const kind = exitKind(e);
  if (e.error !== undefined) return `${kind} (${e.error})`;
  if (e.signal !== null) return `${kind} (signal ${e.signal})`;
  return `${kind} (code ${e.code ?? '?'})`;
}

/** Seconds as printed next to a restart: one decimal, the same number the timer waits. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}
