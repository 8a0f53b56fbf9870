/**
 * The one place that turns a failed bind into what to do about it. gRPC's bindAsync says
 * `No address added out of total 1 resolved for 127.0.0.1:15010 ... errors: [listen EADDRINUSE:
 * address already in use 127.0.0.1:15010]`, node's listen `listen EADDRINUSE: address already in
 * use 127.0.0.1:15014`; either becomes "port 15010 is in use (another trellis up?); pass
 * --xds-port 0 for any free port", with the flag that asked for that port (run-context.ts).
 */
import type { PortFlag } from './run-context.js';

const CODES = ['EADDRINUSE', 'EADDRNOTAVAIL', 'EACCES'] as const;
type BindCode = (typeof CODES)[number] | 'ENOTFOUND';

export interface BindFailure {
  code: BindCode;
  host: string;
  /** Absent when the message names none (node leaves out `:0`). */
  port?: number;
}

/** The bind failure a message (of an error or its causes) describes, if any. */
export function bindFailure(text: string): BindFailure | undefined {
  for (const code of CODES) {
    // `listen EADDRINUSE: address already in use 127.0.0.1:15010`: a description, then the address.
    const m = new RegExp(`(?:listen|bind) ${code}: [a-z ]+ (\\[[^\\]]*\\](?::\\d+)?|[^\\s\\],]+)`).exec(text);
    if (m === null) continue;
    const parts = /^(.*?)(?::(\d+))?$/.exec(m[1] ?? '') as RegExpExecArray;
    const host = (parts[1] ?? '').replace(/^\[(.*)\]$/, '$1');
    return parts[2] === undefined ? { code, host } : { code, host, port: Number(parts[2]) };
  }
  // gRPC's bindAsync on a name that does not resolve; node's getaddrinfo.
  const dns =
    /Name resolution failed for target dns:(\S+?):(\d+)/.exec(text) ??
    /getaddrinfo ENOTFOUND (\S+)/.exec(text);
  if (dns)
    return dns[2] === undefined
      ? { code: 'ENOTFOUND', host: dns[1] ?? '' }
      : { code: 'ENOTFOUND', host: dns[1] ?? '', port: Number(dns[2]) };
  return undefined;
}

/** Every message in an error and its causes (AggregateError included), one per line. */
export function errorText(err: unknown, depth = 0): string {
  if (depth > 5 || err === undefined || err === null) return '';
  if (!(err instanceof Error)) return typeof err === 'string' ? err : '';
  const own = [err.message];
  const nested = err instanceof AggregateError ? err.errors.map((e) => errorText(e, depth + 1)) : [];
  return [...own, ...nested, errorText(err.cause, depth + 1)].filter((s) => s !== '').join('\n');
}

/**
 * What to tell the user about a failed bind, naming the flag for the port; undefined when the
 * error is not a bind failure.
 */
export function portClashMessage(
  err: unknown,
  command: string,
  flags: readonly PortFlag[],
): string | undefined {
  const f = bindFailure(errorText(err));
  if (f === undefined) return undefined;
  const flag =
    (f.port !== undefined && f.port !== 0 ? flags.find((p) => p.port === f.port) : undefined) ??
    flags.find(
      (p) => p.host !== undefined && p.host === f.host && (f.port === undefined || p.port === f.port),
    );
  const fix = flag
    ? `pass ${flag.zero} for any free port, or another port`
    : flags.length > 0
      ? `choose other ports with ${[...new Set(flags.map((p) => `--${p.flag}`))].join(', ')} (0: any free port)`
      : 'stop the process using it, or choose another port';
  // A name that does not resolve is about listening only when a listen flag named it.
  if (f.code === 'ENOTFOUND' && flag === undefined) return undefined;
  const where = f.port === undefined ? f.host : `${f.host}:${f.port}`;
  const check = flag ? `check --${flag.flag}` : fix;
  switch (f.code) {
    case 'EADDRINUSE':
      return `port ${f.port ?? '?'} is in use (another trellis ${command}?); ${fix}`;
    case 'EACCES':
      return `not allowed to listen on port ${f.port ?? '?'} (ports below 1024 need root); ${fix}`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${where}: ${f.host} is not an address of this machine; ${check}`;
    case 'ENOTFOUND':
      return `cannot listen on ${where}: ${JSON.stringify(f.host)} does not resolve; ${check} (an IP address such as 127.0.0.1)`;
  }
}
