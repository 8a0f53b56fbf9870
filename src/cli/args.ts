import { parseArgs, type ParseArgsConfig } from 'node:util';
import { TrellisError } from '../core/errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** util.parseArgs with errors that say which flag is wrong and point at --help. */
export function parseFlags<O extends Options>(command: string, argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `${(err as Error).message}; run 'trellis ${command} --help'`,
    );
  }
}

/** `HOST:PORT` -> parts; `:PORT` and `PORT` mean 127.0.0.1. */
export function parseAddress(flag: string, value: string): { host: string; port: number } {
  const m = /^(?:(.*):)?(\d+)$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `--${flag} ${JSON.stringify(value)}: expected HOST:PORT, e.g. 127.0.0.1:15010`,
    );
  }
  const host = (m[1] ?? '').replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  return { host, port };
}

export function parseIntFlag(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `--${flag} ${JSON.stringify(value)}: expected a whole number`,
    );
  }
  return n;
}
