/**
 * Field-level rules of the HTTP/1.1 parser (parser.ts): token characters, how duplicate fields
 * combine, Content-Length and Transfer-Encoding checks, Connection tokens, and the parse error
 * every rule throws.
 */
import type { HeaderMap } from '../../connection-manager/downstream.js';

export class Http1ParseError extends Error {
  constructor(
    /** Stable code, llhttp-style names where llhttp has one (`HPE_INVALID_HEADER_TOKEN`). */
    readonly code: string,
    /** The status a server answers with (400, 431, 501, 505). */
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'Http1ParseError';
  }
}

/** tchar (RFC 9110 5.6.2). */
export const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

/** Headers of which node keeps the first value only (IncomingMessage's matchKnownFields). */
const SINGLE_VALUED: ReadonlySet<string> = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

/** Fields that must not come in a trailer section (RFC 9110 6.5.1): dropped. */
export const NOT_IN_TRAILERS: ReadonlySet<string> = new Set([
  'content-length',
  'transfer-encoding',
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
]);

/** Host: reg-name / IPv4 / IP-literal, optional port (RFC 3986 characters, no userinfo). */
export const VALID_HOST = /^[A-Za-z0-9\-._~!$&'()*+,;=%:[\]]*$/;
const DIGITS = /^\d{1,15}$/;

export function fail(code: string, message: string, status = 400): never {
  throw new Http1ParseError(code, status, message);
}

/** Framing-relevant fields seen while parsing one head. */
export interface FieldFacts {
  contentLength: string | undefined;
  contentLengthCount: number;
  transferEncoding: string | undefined;
  connection: string | undefined;
  hostCount: number;
  expect: string | undefined;
}

/** Adds one field line's value the way node's IncomingMessage.headers does. */
export function addField(headers: HeaderMap, name: string, value: string): void {
  if (name === '__proto__') return;
  const existing = headers[name];
  if (existing === undefined || typeof existing === 'function') {
    headers[name] = name === 'set-cookie' ? [value] : value;
  } else if (name === 'set-cookie') {
    (existing as string[]).push(value);
  } else if (!SINGLE_VALUED.has(name)) {
    headers[name] = `${existing as string}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
}

export function parseContentLength(f: FieldFacts): number {
  if (f.contentLengthCount > 1) fail('HPE_UNEXPECTED_CONTENT_LENGTH', 'more than one Content-Length');
  if (!DIGITS.test(f.contentLength!)) fail('HPE_INVALID_CONTENT_LENGTH', 'invalid Content-Length');
  return Number(f.contentLength);
}

/**
 * True when the transfer codings are exactly `chunked`. A request must end in chunked (else 400)
 * and may not use other codings (501: the proxy does not decode them); a response not ending in
 * chunked is close-delimited, and one with other codings before chunked is refused.
 */
export function transferCodingIsChunked(te: string, request: boolean): boolean {
  if (te.length === 7 && te.toLowerCase() === 'chunked') return true;
  const codings = te.toLowerCase().split(',');
  const last = codings[codings.length - 1]!.trim();
  for (const c of codings) {
    const t = c.trim();
    if (t === '' || !isToken(t)) fail('HPE_INVALID_TRANSFER_ENCODING', 'invalid Transfer-Encoding');
  }
  if (last !== 'chunked') {
    if (request) fail('HPE_INVALID_TRANSFER_ENCODING', 'request Transfer-Encoding does not end in chunked');
    return false;
  }
  fail('HPE_INVALID_TRANSFER_ENCODING', `unsupported transfer coding: ${te}`, request ? 501 : 502);
}

function isToken(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (TCHAR[s.charCodeAt(i)] !== 1) return false;
  return true;
}

export function isH2cUpgrade(value: string | string[]): boolean {
  return typeof value === 'string' && value.length === 3 && value.toLowerCase() === 'h2c';
}

/**
 * `Upgrade: h2c` (what `curl --http2` sends in cleartext) is not an upgrade this proxy performs:
 * as Envoy's HTTP/1 codec, drop Upgrade, HTTP2-Settings and their Connection tokens and carry
 * on with an ordinary HTTP/1.1 request.
 */
export function stripH2cUpgrade(headers: HeaderMap): void {
  delete headers.upgrade;
  delete headers['http2-settings'];
  const connection = headers.connection;
  if (typeof connection !== 'string') return;
  const kept = connection
    .split(',')
    .map((t) => t.trim())
    .filter((t) => {
      const l = t.toLowerCase();
      return t !== '' && l !== 'upgrade' && l !== 'http2-settings';
    });
  if (kept.length === 0) delete headers.connection;
  else headers.connection = kept.join(', ');
}

const KEEP_ALIVE = Object.freeze({ keepAlive: true, upgrade: false });
const CLOSE = Object.freeze({ keepAlive: false, upgrade: false });

export function connectionTokens(value: string, minor: number): { keepAlive: boolean; upgrade: boolean } {
  if (value === 'keep-alive' || value === 'Keep-Alive') return KEEP_ALIVE;
  if (value === 'close' || value === 'Close') return CLOSE;
  let keepAlive = minor === 1;
  let close = false;
  let upgrade = false;
  for (const raw of value.toLowerCase().split(',')) {
    const t = raw.trim();
    if (t === 'close') close = true;
    else if (t === 'keep-alive') keepAlive = true;
    else if (t === 'upgrade') upgrade = true;
  }
  return { keepAlive: keepAlive && !close, upgrade };
}
