/**
 * Writing HTTP/1.1 heads and body framing by hand (see parser.ts for why node:http is not used
 * on this path). Field names and values are checked as node's OutgoingMessage checks them: a
 * CR or LF in a value would split the message, so it throws instead of being written.
 */
import { STATUS_CODES } from 'node:http';
import type net from 'node:net';

export type FieldValue = string | string[];

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

export class InvalidFieldError extends Error {
  readonly code = 'ERR_INVALID_HTTP_FIELD';
  constructor(name: string) {
    super(`invalid HTTP header field: ${JSON.stringify(name).slice(0, 80)}`);
    this.name = 'InvalidFieldError';
  }
}

/** `name: value\r\n` for one field (one line per value of a list). */
export function fieldLines(name: string, value: FieldValue): string {
  if (!TOKEN.test(name)) throw new InvalidFieldError(name);
  if (typeof value === 'string') {
    if (INVALID_VALUE.test(value)) throw new InvalidFieldError(name);
    return `${name}: ${value}\r\n`;
  }
  let out = '';
  for (const v of value) {
    if (INVALID_VALUE.test(v)) throw new InvalidFieldError(name);
    out += `${name}: ${v}\r\n`;
  }
  return out;
}

const statusLines: string[] = [];

/** `HTTP/1.1 200 OK\r\n`, cached per status. */
export function statusLine(status: number): string {
  let line = statusLines[status];
  if (line === undefined) {
    if (!Number.isInteger(status) || status < 100 || status > 999)
      throw new RangeError(`invalid status ${status}`);
    line = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
    statusLines[status] = line;
  }
  return line;
}

let dateSecond = -1;
let dateField = '';

/** `date: ...\r\n` for now, formatted once per second. */
export function dateLine(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateField = `date: ${new Date(now).toUTCString()}\r\n`;
  }
  return dateField;
}

/** Bodies up to this size are copied behind their head into one buffer: one write, one syscall. */
const COALESCE_LIMIT = 16 * 1024;

/**
 * Writes `prefix` (latin1 text), `chunk` and `suffix` as one write when small, else as a corked
 * sequence (one writev). Returns false when the socket asks the caller to wait for 'drain'.
 */
export function writeFramed(socket: net.Socket, prefix: string, chunk: Buffer, suffix: string): boolean {
  const total = prefix.length + chunk.length + suffix.length;
  if (chunk.length <= COALESCE_LIMIT) {
    const buf = Buffer.allocUnsafe(total);
    let at = prefix.length > 0 ? buf.write(prefix, 0, 'latin1') : 0;
    at += chunk.copy(buf, at);
    if (suffix.length > 0) buf.write(suffix, at, 'latin1');
    return socket.write(buf);
  }
  socket.cork();
  if (prefix.length > 0) socket.write(prefix, 'latin1');
  let ok = socket.write(chunk);
  if (suffix.length > 0) ok = socket.write(suffix, 'latin1');
  socket.uncork();
  return ok;
}

/** The chunk-size line for a chunk of `n` bytes. */
export function chunkSizeLine(n: number): string {
  return `${n.toString(16)}\r\n`;
}

/** The last chunk and trailer section of a chunked body. */
export function lastChunk(trailers: Record<string, FieldValue> | undefined): string {
  if (!trailers) return '0\r\n\r\n';
  let out = '0\r\n';
  for (const name in trailers) out += fieldLines(name, trailers[name]!);
  return `${out}\r\n`;
}
