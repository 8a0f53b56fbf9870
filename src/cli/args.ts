import { parseArgs, type ParseArgsConfig } from 'node:util';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { TrellisError, errorMessage } from '../core/errors.js';
import { didYouMean } from './did-you-mean.js';
import { currentRunContext } from './run-context.js';

type NodeOption = NonNullable<ParseArgsConfig['options']>[string];

/**
 * A flag: node's parseArgs option plus what the CLI checks and accepts around it (the flag
 * vocabulary, `trellis help flags`).
 */
export type FlagSpec = NodeOption & {
  /** A port, 0-65535 (0: any free port): checked here, and a clash on it names this flag. */
  port?: true;
  /** HOST:PORT (PORT alone or :PORT mean 127.0.0.1): checked here, clashes name this flag. */
  address?: true;
  /** On an address flag: where this process connects, never listens (never blamed for a clash). */
  connect?: true;
  /** On a connect address flag: a comma-separated list of HOST:PORT (several control planes). */
  list?: true;
  /** Older spellings, still accepted with a one-line note on stderr. */
  aliases?: readonly string[];
  /** On an address flag: the `--X-port N` spelling, meaning 127.0.0.1:N. */
  portAlias?: string;
  /** On a port flag: the `--X-address 127.0.0.1:N` spelling (loopback only), meaning N. */
  addressAlias?: string;
};

type Options = Record<string, FlagSpec>;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/** A value as typed, quoted only when it would not read as one word. */
export function shown(value: string): string {
  return /^[\w.:/[\]@=,-]+$/.test(value) ? value : JSON.stringify(value);
}

function usage(command: string, message: string): TrellisError {
  return new TrellisError('TRELLIS_INVALID_ARGUMENT', `${message}; run 'trellis ${command} --help'`);
}

/** `--gateway-port 99999` -> a port or a usage error naming the flag. */
export function parsePort(flag: string, value: string): number {
  const n = /^\d{1,5}$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!(n >= 0 && n <= 65535)) {
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `--${flag} ${shown(value)}: expected a port 0-65535 (0: any free port)`,
    );
  }
  return n;
}

/** `HOST:PORT` -> parts; `:PORT` and `PORT` mean 127.0.0.1. No scheme, no path. */
export function parseAddress(flag: string, value: string): { host: string; port: number } {
  const example = 'e.g. 127.0.0.1:15010';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    const bare = value.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\/.*$/, '');
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `--${flag} ${shown(value)}: expected HOST:PORT without a scheme (${bare || example}), not a URL`,
    );
  }
  const m = /^(?:(.*):)?([^:]*)$/.exec(value);
  const rawHost = (m?.[1] ?? '').replace(/^\[(.*)\]$/, '$1');
  const hostOk = rawHost === '' || isIP(rawHost) !== 0 || /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(rawHost);
  if (!m || !hostOk || !/^\d{1,5}$/.test(m[2] ?? '') || Number(m[2]) > 65535) {
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `--${flag} ${shown(value)}: expected HOST:PORT with a port 0-65535, ${example}`,
    );
  }
  return { host: rawHost || '127.0.0.1', port: Number(m[2]) };
}

/**
 * A comma-separated list of HOST:PORT (`--xds-address a:15010,b:15010`), each checked as
 * parseAddress checks one; duplicates are refused (they would only slow a failover down).
 */
export function parseAddressList(flag: string, value: string): { host: string; port: number }[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === ''))
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `--${flag} ${shown(value)}: expected HOST:PORT[,HOST:PORT...] with no empty entry`,
    );
  const out = items.map((item) => parseAddress(flag, item));
  const seen = new Set<string>();
  for (const a of out) {
    const key = `${a.host}:${a.port}`;
    if (seen.has(key))
      throw new TrellisError('TRELLIS_INVALID_ARGUMENT', `--${flag} ${shown(value)}: ${key} is listed twice`);
    seen.add(key);
  }
  return out;
}

/**
 * Fails at once, naming the flag, when a host name does not resolve (instead of a client that
 * retries a DNS error for ever).
 */
export async function checkResolvable(flag: string, address: { host: string; port: number }): Promise<void> {
  if (isIP(address.host) !== 0) return;
  try {
    await lookup(address.host);
  } catch (err) {
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `--${flag} ${address.host}:${address.port}: cannot resolve ${JSON.stringify(address.host)} (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}); check the host name, or give an IP address`,
    );
  }
}

export function parseIntFlag(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) {
    throw new TrellisError('TRELLIS_INVALID_ARGUMENT', `--${flag} ${shown(value)}: expected a whole number`);
  }
  return n;
}

interface Spelling {
  /** The canonical flag it stands for. */
  target: string;
  kind: 'old' | 'port' | 'address';
}

function spellings(options: Options): Map<string, Spelling> {
  const out = new Map<string, Spelling>();
  for (const [name, spec] of Object.entries(options)) {
    for (const a of spec.aliases ?? []) out.set(a, { target: name, kind: 'old' });
    if (spec.portAlias !== undefined) out.set(spec.portAlias, { target: name, kind: 'port' });
    if (spec.addressAlias !== undefined) out.set(spec.addressAlias, { target: name, kind: 'address' });
  }
  return out;
}

/**
 * Rewrites other spellings to the canonical flags (noting old ones once) and rejects unknown
 * flags with the nearest known ones. Stops at `--`.
 */
function canonical(command: string, argv: readonly string[], options: Options): string[] {
  const alt = spellings(options);
  const known = [...Object.keys(options), ...alt.keys()];
  const shorts = new Map(
    Object.entries(options).flatMap(([n, s]) => (s.short !== undefined ? [[s.short, n] as const] : [])),
  );
  const out: string[] = [];
  const noted = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i] as string;
    if (tok === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (/^-[^-]$/.test(tok)) {
      const name = shorts.get(tok.slice(1));
      out.push(tok);
      if (name !== undefined && options[name]?.type === 'string' && i + 1 < argv.length)
        out.push(argv[++i] as string);
      continue;
    }
    if (!tok.startsWith('--')) {
      out.push(tok);
      continue;
    }
    const eq = tok.indexOf('=');
    const name = tok.slice(2, eq < 0 ? undefined : eq);
    const inline = eq < 0 ? undefined : tok.slice(eq + 1);
    const spec = options[name];
    if (spec !== undefined) {
      out.push(tok);
      if (spec.type === 'string' && inline === undefined && i + 1 < argv.length)
        out.push(argv[++i] as string);
      continue;
    }
    const s = alt.get(name);
    if (s === undefined) {
      if (name === 'help') {
        out.push(tok);
        continue;
      }
      throw usage(command, `unknown flag --${name}${didYouMean(name, known, '--')}`);
    }
    const targetSpec = options[s.target] as FlagSpec;
    let value = inline;
    if (targetSpec.type === 'string' && value === undefined) {
      if (i + 1 >= argv.length) throw usage(command, `--${name} needs a value`);
      value = argv[++i];
    }
    if (s.kind === 'old') {
      if (!noted.has(name))
        currentRunContext()?.note(
          `trellis ${command}: --${name} is now --${s.target} (the old spelling still works)\n`,
        );
      noted.add(name);
      out.push(value === undefined ? `--${s.target}` : `--${s.target}=${value}`);
    } else if (s.kind === 'port') {
      out.push(`--${s.target}=127.0.0.1:${parsePort(name, value ?? '')}`);
    } else {
      const a = parseAddress(name, value ?? '');
      if (!LOOPBACK.has(a.host))
        throw usage(
          command,
          `--${name} ${value ?? ''}: trellis ${command} listens on 127.0.0.1 only; pass --${s.target} ${a.port}`,
        );
      out.push(`--${s.target}=${a.port}`);
    }
  }
  return out;
}

/** The flag to suggest for "any free port". */
function zeroSpelling(name: string, spec: FlagSpec): string {
  if (spec.port) return `--${name} 0`;
  return spec.portAlias !== undefined ? `--${spec.portAlias} 0` : `--${name} 127.0.0.1:0`;
}

/**
 * util.parseArgs with the CLI's vocabulary: other spellings accepted, unknown flags answered
 * with the nearest known ones, ports and addresses checked with the flag's name, and the ports
 * recorded so a clash can name its flag.
 */
export function parseFlags<O extends Options>(command: string, argv: string[], options: O) {
  const args = canonical(command, argv, options);
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    const message = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw usage(command, message);
  }
  const ctx = currentRunContext();
  for (const [name, spec] of Object.entries(options)) {
    const raw = (parsed.values as Record<string, unknown>)[name];
    if (typeof raw !== 'string' || !(spec.port || spec.address)) continue;
    if (spec.connect) {
      if (spec.list) parseAddressList(name, raw);
      else parseAddress(name, raw);
      continue;
    }
    if (spec.port)
      ctx?.ports.push({ flag: name, zero: zeroSpelling(name, spec), port: parsePort(name, raw) });
    else {
      const { host, port } = parseAddress(name, raw);
      ctx?.ports.push({ flag: name, zero: zeroSpelling(name, spec), port, host });
    }
  }
  return parsed;
}
