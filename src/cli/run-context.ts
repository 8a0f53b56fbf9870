/**
 * What `main` learns while a command runs, without threading it through every command: the
 * ports its flags asked for (so a bind failure can name the flag to change, port-clash.ts) and
 * where notes about old flag spellings go. parseFlags fills it in; main reads it when a command
 * fails.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface PortFlag {
  /** The canonical flag, without dashes: `xds-address`, `gateway-port`. */
  flag: string;
  /** The spelling to suggest for "any free port": `--xds-port 0`. */
  zero: string;
  port: number;
  /** The host of an address flag (HOST:PORT). */
  host?: string;
}

export interface RunContext {
  readonly command: string;
  /** One line (with its newline) for the user, on stderr. */
  readonly note: (line: string) => void;
  readonly ports: PortFlag[];
}

const storage = new AsyncLocalStorage<RunContext>();

export function withRunContext<T>(ctx: RunContext, fn: () => Promise<T>): Promise<T> {
  return storage.run(ctx, fn);
}

export function currentRunContext(): RunContext | undefined {
  return storage.getStore();
}
