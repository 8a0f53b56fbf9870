/**
 * An incremental HTTP/1.1 message parser (RFC 9112), for requests (downstream) and responses
 * (upstream). Written by hand rather than using node:http because this is the proxy's hot path:
 * node's HTTP machinery (IncomingMessage/ServerResponse/ClientRequest streams, the agent) cost
 * ~60 us per proxied request on its own, more than issue 3's whole budget (bench/RESULTS.md).
 * This parser allocates one head object and one header map per message and hands body bytes on
 * as zero-copy slices of the socket's buffers.
 *
 * It is strict where leniency lets two parsers disagree about where a message ends (request
 * smuggling): a bare LF or CR anywhere in a head or chunk line, obs-fold, whitespace before a
 * field's colon, both Content-Length and Transfer-Encoding, duplicate or non-numeric
 * Content-Length, a transfer coding other than `chunked`, Transfer-Encoding in HTTP/1.0, a
 * request without exactly one valid Host, and anything but CRLF after chunk data are errors.
 *
 * Flow control: the owner can `pause()` the parser (the server does after each request, so
 * pipelined requests wait for the response of the one before: responses go out in order), and
 * bytes received meanwhile are kept until `resume()`.
 */
import type { HeaderMap } from '../../connection-manager/downstream.js';
import {
  addField,
  connectionTokens,
  fail,
  Http1ParseError,
  isH2cUpgrade,
  NOT_IN_TRAILERS,
  parseContentLength,
  stripH2cUpgrade,
  TCHAR,
  transferCodingIsChunked,
  VALID_HOST,
  type FieldFacts,
} from './fields.js';

export { Http1ParseError };

/** How the body of a message is delimited. */
export const FRAMING_NONE = 0;
export const FRAMING_LENGTH = 1;
export const FRAMING_CHUNKED = 2;
/** Response only: the body runs until the connection closes. */
export const FRAMING_CLOSE = 3;
export type Framing = 0 | 1 | 2 | 3;

export interface MessageHead {
  /** Requests only ('' for responses). */
  method: string;
  /** The request-target as sent ('' for responses). */
  target: string;
  /** Responses only (0 for requests). */
  status: number;
  reason: string;
  /** HTTP/1.<minor>: 0 or 1. */
  minor: number;
  /** Lower-case names; duplicates combined as node's IncomingMessage does. */
  headers: HeaderMap;
  /** Whether the connection may carry another message after this one. */
  keepAlive: boolean;
  /** A request asking to switch protocols (`Connection: upgrade` + `Upgrade`). */
  upgrade: boolean;
  /** A request with `Expect: 100-continue`. */
  expectContinue: boolean;
  framing: Framing;
  /** For FRAMING_LENGTH. */
  contentLength: number;
}

export interface ParserHandler {
  onHead(head: MessageHead): void;
  /** A slice of the received bytes: valid until the handler returns unless kept by reference. */
  onBody(chunk: Buffer): void;
  /** The message is complete; trailers for a chunked body that had any. */
  onMessageEnd(trailers: HeaderMap | undefined): void;
}

export interface ParserOptions {
  mode: 'request' | 'response';
  /** Limit for a message head, and separately for a trailer section. */
  maxHeaderBytes: number;
}

const S_HEAD = 0;
const S_BODY_LENGTH = 1;
const S_CHUNK_SIZE = 2;
/** After the size digits: only BWS, `;` (extensions) or CR. */
const S_CHUNK_SIZE_WS = 3;
const S_CHUNK_EXT = 4;
const S_CHUNK_SIZE_LF = 5;
const S_CHUNK_DATA = 6;
const S_CHUNK_DATA_CR = 7;
const S_CHUNK_DATA_LF = 8;
const S_TRAILERS = 9;
const S_BODY_CLOSE = 10;
/** After an error or detach(): everything is ignored. */
const S_DEAD = 11;
/** After an upgrade request's head: the rest is another protocol, kept for detach(). */
const S_UPGRADED = 12;

const CR = 13;
const LF = 10;
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

/** One step of matching CRLFCRLF: `m` bytes matched so far, then byte `b`. */
function stepMatch(m: number, b: number): number {
  if (b === CRLFCRLF[m]) return m + 1;
  return b === CR ? 1 : 0;
}

/** How much of a chunk is turned into text to look for the end of a head. */
const HEAD_WINDOW = 4096;
/** What no field line may contain: controls other than HTAB, and CR outside a CRLF. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const FORBIDDEN_IN_FIELDS = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)/g;
/** Chunk extensions are accepted (and dropped) up to this many bytes per chunk line. */
const MAX_CHUNK_EXT = 4096;

const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[0x30 + c] = c;
for (let c = 0; c < 6; c++) HEX[0x41 + c] = HEX[0x61 + c] = 10 + c;

export class Http1Parser {
  private state = S_HEAD;
  /** Pieces of an incomplete head or trailer section, their total length, and how much of the
   * blank line (CRLFCRLF) they end with. */
  private partials: Buffer[] = [];
  private partialLen = 0;
  private match = 0;
  private lastByte = 0;
  /** Bytes received while paused (or left over when the parser paused mid-chunk). */
  private pending: Buffer | undefined;
  private paused = false;
  private executing = false;
  private remaining = 0;
  private chunkDigits = 0;
  private chunkExtBytes = 0;
  private readonly isRequest: boolean;
  private readonly maxHeaderBytes: number;
  /** Response mode: the request was HEAD, so the next response has no body whatever it says. */
  noBodyExpected = false;
  private readonly facts: FieldFacts = {
    contentLength: undefined,
    contentLengthCount: 0,
    transferEncoding: undefined,
    connection: undefined,
    hostCount: 0,
    expect: undefined,
  };

  constructor(
    private readonly handler: ParserHandler,
    options: ParserOptions,
  ) {
    this.isRequest = options.mode === 'request';
    this.maxHeaderBytes = options.maxHeaderBytes;
  }

  /** True between messages with nothing of the next one received yet. */
  get idle(): boolean {
    return this.state === S_HEAD && this.partialLen === 0 && this.pending === undefined;
  }

  /** True while a message's body is being received. */
  get inBody(): boolean {
    return this.state !== S_HEAD && this.state !== S_DEAD;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Bytes held (received while paused, or of an incomplete head). */
  get bufferedBytes(): number {
    return (this.pending?.length ?? 0) + this.partialLen;
  }

  /**
   * Parses `chunk`, calling the handler as messages complete. Throws Http1ParseError on a
   * malformed message; the parser is then dead and the connection must be closed.
   */
  execute(chunk: Buffer): void {
    if (this.state === S_DEAD) return;
    if (this.paused || this.executing || this.state === S_UPGRADED) {
      this.pending = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
      return;
    }
    this.run(chunk);
  }

  /** Stops calling the handler (after the current callback returns) until resume(). */
  pause(): void {
    this.paused = true;
  }

  /** Continues with bytes received while paused. May throw like execute(). */
  resume(): void {
    this.paused = false;
    // Called from inside a handler callback: the running loop carries on by itself.
    if (this.executing) return;
    while (!this.paused && this.pending && this.state !== S_DEAD && this.state !== S_UPGRADED) {
      const p = this.pending;
      this.pending = undefined;
      this.run(p);
    }
  }

  /**
   * Stops parsing for good and returns the bytes after the last head: for an upgrade request
   * (onHead saw `upgrade`), after which the connection carries another protocol.
   */
  detach(): Buffer {
    this.state = S_DEAD;
    const rest = this.pending ?? Buffer.alloc(0);
    this.pending = undefined;
    return rest;
  }

  /**
   * The peer closed its side. Completes a close-delimited body; throws if a message was cut
   * short (never for a clean end between messages).
   */
  finish(): void {
    if (this.state === S_BODY_CLOSE) {
      this.state = S_HEAD;
      this.handler.onMessageEnd(undefined);
      return;
    }
    if (this.state === S_DEAD || this.idle) return;
    this.state = S_DEAD;
    fail('HPE_INCOMPLETE', 'connection closed in the middle of a message');
  }

  /** Forgets everything, for a connection that is gone. */
  destroy(): void {
    this.state = S_DEAD;
    this.pending = undefined;
    this.partials = [];
    this.partialLen = 0;
  }

  private run(data: Buffer): void {
    this.executing = true;
    let off = 0;
    try {
      while (off < data.length && !this.paused && this.state !== S_UPGRADED) {
        switch (this.state) {
          case S_HEAD:
          case S_TRAILERS:
            off = this.fieldSection(data, off);
            break;
          case S_BODY_LENGTH:
          case S_CHUNK_DATA:
            off = this.counted(data, off);
            break;
          case S_BODY_CLOSE:
            this.handler.onBody(off === 0 ? data : data.subarray(off));
            off = data.length;
            break;
          case S_DEAD:
            return;
          default:
            off = this.chunkLine(data, off);
        }
      }
      if (off < data.length && this.state !== S_DEAD) {
        const rest = off === 0 ? data : data.subarray(off);
        this.pending = this.pending ? Buffer.concat([rest, this.pending]) : rest;
      }
    } catch (err) {
      this.destroy();
      throw err;
    } finally {
      this.executing = false;
    }
  }

  /** A head (S_HEAD) or a trailer section (S_TRAILERS): waits for the blank line. */
  private fieldSection(data: Buffer, off: number): number {
    if (this.partialLen === 0) {
      let start = off;
      if (this.state === S_HEAD) {
        // A server ignores empty lines before a request line (RFC 9112 2.2).
        if (this.isRequest) while (data[start] === CR && data[start + 1] === LF) start += 2;
        if (start >= data.length) return data.length;
      } else if (data[start] === CR && data[start + 1] === LF) {
        return this.sectionDone(undefined, start + 2);
      }
      // Heads are searched as text (one conversion, reused for parsing): cheaper than a native
      // Buffer.indexOf call and a second conversion. Past the window, the buffer is searched.
      const window = Math.min(data.length, start + HEAD_WINDOW);
      const text = data.toString('latin1', start, window);
      const end = text.indexOf('\r\n\r\n');
      if (end === -1 && window < data.length) {
        const at = data.indexOf(CRLFCRLF, window - 3);
        if (at !== -1) {
          if (at - start > this.maxHeaderBytes) fail('HPE_HEADER_OVERFLOW', 'header section too large', 431);
          return this.section(data.toString('latin1', start, at), at - start, at + 4);
        }
      }
      if (end === -1) {
        this.keepPartial(data, start);
        return data.length;
      }
      if (end > this.maxHeaderBytes) fail('HPE_HEADER_OVERFLOW', 'header section too large', 431);
      return this.section(text, end, start + end + 4);
    }
    // Continuing a section that arrived in pieces. An empty trailer section split after its CR:
    if (this.state === S_TRAILERS && this.partialLen === 1 && this.match === 1) {
      if (data[off] !== LF) fail('HPE_STRICT', 'expected LF after CR');
      this.dropPartial();
      return this.sectionDone(undefined, off + 1);
    }
    // The blank line may straddle the previous piece and this one...
    let m = this.match;
    let i = off;
    while (m > 0 && m < 4 && i < data.length) m = stepMatch(m, data[i++]!);
    let end = m === 4 ? i : -1;
    // ...or lie within this one.
    if (end === -1) {
      const at = data.indexOf(CRLFCRLF, off);
      if (at !== -1) end = at + 4;
    }
    if (end === -1) {
      this.keepPartial(data, off);
      return data.length;
    }
    if (this.partialLen + (end - off) - 4 > this.maxHeaderBytes)
      fail('HPE_HEADER_OVERFLOW', 'header section too large', 431);
    this.partials.push(off === 0 && end === data.length ? data : data.subarray(off, end));
    const whole = Buffer.concat(this.partials);
    this.dropPartial();
    return this.section(whole.toString('latin1', 0, whole.length - 4), whole.length - 4, end);
  }

  /** Holds an incomplete head, without copying it (pieces are joined once, when complete). */
  private keepPartial(data: Buffer, start: number): void {
    const n = data.length - start;
    if (this.partialLen + n > this.maxHeaderBytes)
      fail('HPE_HEADER_OVERFLOW', 'header section too large', 431);
    // A peer that ends lines with a bare LF would otherwise wait for the headers timeout. (A
    // complete head is checked line by line instead: LF is not allowed inside a field.)
    for (let lf = data.indexOf(LF, start); lf !== -1; lf = data.indexOf(LF, lf + 1)) {
      const before = lf > start ? data[lf - 1] : this.lastByte;
      if (before !== CR) fail('HPE_LF_EXPECTED', 'bare LF in header section');
    }
    const piece = start === 0 ? data : data.subarray(start);
    this.partials.push(piece);
    this.partialLen += n;
    this.lastByte = data[data.length - 1]!;
    // How much of CRLFCRLF the held bytes end with: only the last 3 bytes matter.
    let m = n >= 3 ? 0 : this.match;
    for (let i = Math.max(start, data.length - 3); i < data.length; i++) m = stepMatch(m, data[i]!);
    this.match = m;
  }

  private dropPartial(): void {
    this.partials = [];
    this.partialLen = 0;
    this.match = 0;
    this.lastByte = 0;
  }

  /**
   * A complete head or trailer section: `text` up to `end` (the blank line; `text` may go on);
   * `next` is the offset in the received chunk after the blank line.
   */
  private section(whole: string, end: number, next: number): number {
    // Much more than the head (body bytes): cut it off, so scans below stop at the head. (A
    // sliced string is slower to read: not worth it for the few bytes of a small body.)
    const text = whole.length - end > 512 ? whole.slice(0, end) : whole;
    if (this.state === S_TRAILERS) {
      const trailers: HeaderMap = {};
      this.parseFields(text, 0, end, trailers, true);
      return this.sectionDone(trailers, next);
    }
    const head = this.isRequest ? this.requestHead(text, end) : this.responseHead(text, end);
    if (head === undefined) return next; // an interim (1xx) response
    if (head.upgrade) {
      this.state = S_UPGRADED;
      this.handler.onHead(head);
      return next;
    }
    this.handler.onHead(head);
    if (this.state === S_DEAD) return next;
    switch (head.framing) {
      case FRAMING_LENGTH:
        this.state = S_BODY_LENGTH;
        this.remaining = head.contentLength;
        break;
      case FRAMING_CHUNKED:
        this.state = S_CHUNK_SIZE;
        this.remaining = 0;
        this.chunkDigits = 0;
        break;
      case FRAMING_CLOSE:
        this.state = S_BODY_CLOSE;
        break;
      default:
        this.handler.onMessageEnd(undefined);
    }
    return next;
  }

  private sectionDone(trailers: HeaderMap | undefined, next: number): number {
    this.state = S_HEAD;
    this.handler.onMessageEnd(trailers);
    return next;
  }

  /** Content-Length body or chunk data. */
  private counted(data: Buffer, off: number): number {
    const n = Math.min(this.remaining, data.length - off);
    this.remaining -= n;
    const done = this.remaining === 0;
    const chunkData = this.state === S_CHUNK_DATA;
    if (done) this.state = chunkData ? S_CHUNK_DATA_CR : S_HEAD;
    this.handler.onBody(off === 0 && n === data.length ? data : data.subarray(off, off + n));
    if (done && !chunkData && this.state === S_HEAD) this.handler.onMessageEnd(undefined);
    return off + n;
  }

  /** Chunk size lines and the CRLF after chunk data, byte by byte (they are short). */
  private chunkLine(data: Buffer, off: number): number {
    const len = data.length;
    while (off < len) {
      const c = data[off]!;
      switch (this.state) {
        case S_CHUNK_SIZE: {
          const v = HEX[c]!;
          if (v >= 0) {
            if (++this.chunkDigits > 13) fail('HPE_INVALID_CHUNK_SIZE', 'chunk size too large');
            this.remaining = this.remaining * 16 + v;
          } else if (c === LF) {
            fail('HPE_STRICT', 'bare LF in chunk size line');
          } else if (this.chunkDigits === 0) {
            fail('HPE_INVALID_CHUNK_SIZE', 'invalid chunk size');
          } else if (c === CR) {
            this.state = S_CHUNK_SIZE_LF;
          } else if (c === 0x3b /* ; */) {
            this.state = S_CHUNK_EXT;
            this.chunkExtBytes = 0;
          } else if (c === 0x20 || c === 0x09) {
            this.state = S_CHUNK_SIZE_WS;
          } else {
            fail('HPE_INVALID_CHUNK_SIZE', 'invalid character in chunk size');
          }
          break;
        }
        case S_CHUNK_SIZE_WS:
          if (c === 0x3b) {
            this.state = S_CHUNK_EXT;
            this.chunkExtBytes = 0;
          } else if (c === CR) {
            this.state = S_CHUNK_SIZE_LF;
          } else if (c === LF) {
            fail('HPE_STRICT', 'bare LF in chunk size line');
          } else if (c !== 0x20 && c !== 0x09) {
            fail('HPE_INVALID_CHUNK_SIZE', 'invalid character after chunk size');
          }
          break;
        case S_CHUNK_EXT:
          if (c === CR) {
            this.state = S_CHUNK_SIZE_LF;
          } else if ((c < 0x20 && c !== 0x09) || c === 0x7f) {
            fail('HPE_INVALID_CHUNK_EXTENSION', 'invalid character in chunk extension');
          } else if (++this.chunkExtBytes > MAX_CHUNK_EXT) {
            fail('HPE_CHUNK_EXTENSIONS_OVERFLOW', 'chunk extensions too long');
          }
          break;
        case S_CHUNK_SIZE_LF:
          if (c !== LF) fail('HPE_STRICT', 'expected LF after CR in chunk size line');
          if (this.remaining === 0) {
            this.state = S_TRAILERS;
          } else {
            this.state = S_CHUNK_DATA;
          }
          return off + 1;
        case S_CHUNK_DATA_CR:
          if (c !== CR) fail('HPE_STRICT', 'expected CRLF after chunk data');
          this.state = S_CHUNK_DATA_LF;
          break;
        case S_CHUNK_DATA_LF:
          if (c !== LF) fail('HPE_STRICT', 'expected CRLF after chunk data');
          this.state = S_CHUNK_SIZE;
          this.remaining = 0;
          this.chunkDigits = 0;
          return off + 1;
        default:
          return off;
      }
      off++;
    }
    return off;
  }

  private resetFacts(): FieldFacts {
    const f = this.facts;
    f.contentLength = undefined;
    f.contentLengthCount = 0;
    f.transferEncoding = undefined;
    f.connection = undefined;
    f.hostCount = 0;
    f.expect = undefined;
    return f;
  }

  private requestHead(text: string, end: number): MessageHead {
    let eol = text.indexOf('\r\n');
    if (eol === -1 || eol > end) eol = end;
    const sp1 = text.indexOf(' ');
    if (sp1 <= 0 || sp1 > eol) fail('HPE_INVALID_METHOD', 'malformed request line');
    for (let i = 0; i < sp1; i++) {
      if (TCHAR[text.charCodeAt(i)] !== 1) fail('HPE_INVALID_METHOD', 'invalid character in method');
    }
    const sp2 = text.indexOf(' ', sp1 + 1);
    if (sp2 === -1 || sp2 > eol || sp2 === sp1 + 1) fail('HPE_INVALID_URL', 'malformed request line');
    for (let i = sp1 + 1; i < sp2; i++) {
      const c = text.charCodeAt(i);
      // Visible ASCII, and raw non-ASCII bytes as node's parser accepts them (kept as latin1).
      if (c <= 0x20 || c === 0x7f) fail('HPE_INVALID_URL', 'invalid character in request target');
    }
    const minor = this.version(text, sp2 + 1, eol);
    const method = text.slice(0, sp1);
    const target = text.slice(sp1 + 1, sp2);
    const headers: HeaderMap = {};
    const f = this.resetFacts();
    this.parseFields(text, eol + 2, end, headers, false);
    if (f.hostCount > 1) fail('HPE_DUPLICATE_HOST', 'more than one Host header');
    if (minor === 1 && f.hostCount === 0) fail('HPE_MISSING_HOST', 'HTTP/1.1 request without Host');
    if (f.hostCount === 1 && !VALID_HOST.test(headers.host as string))
      fail('HPE_INVALID_HOST', 'invalid Host');
    let framing: Framing = FRAMING_NONE;
    let contentLength = 0;
    if (f.transferEncoding !== undefined) {
      if (minor === 0) fail('HPE_INVALID_TRANSFER_ENCODING', 'Transfer-Encoding in an HTTP/1.0 request');
      if (f.contentLengthCount > 0)
        fail('HPE_UNEXPECTED_CONTENT_LENGTH', 'both Content-Length and Transfer-Encoding');
      transferCodingIsChunked(f.transferEncoding, true);
      framing = FRAMING_CHUNKED;
    } else if (f.contentLengthCount > 0) {
      contentLength = parseContentLength(f);
      if (contentLength > 0) framing = FRAMING_LENGTH;
    }
    let keepAlive = minor === 1;
    let upgrade = false;
    if (f.connection !== undefined) {
      const c = connectionTokens(f.connection, minor);
      keepAlive = c.keepAlive;
      upgrade = c.upgrade && headers.upgrade !== undefined;
    }
    if (headers.upgrade !== undefined && isH2cUpgrade(headers.upgrade)) {
      stripH2cUpgrade(headers);
      upgrade = false;
    }
    let expectContinue = false;
    if (f.expect !== undefined) {
      if (f.expect.toLowerCase() !== '100-continue')
        fail('HPE_EXPECTATION_FAILED', 'unsupported Expect', 417);
      expectContinue = minor === 1;
    }
    return {
      method,
      target,
      status: 0,
      reason: '',
      minor,
      headers,
      keepAlive,
      upgrade,
      expectContinue,
      framing,
      contentLength,
    };
  }

  /** Undefined for an interim (1xx) response, which is skipped. */
  private responseHead(text: string, end: number): MessageHead | undefined {
    let eol = text.indexOf('\r\n');
    if (eol === -1 || eol > end) eol = end;
    if (text.charCodeAt(8) !== 0x20) fail('HPE_INVALID_VERSION', 'malformed status line');
    const minor = this.version(text, 0, 8);
    const d0 = text.charCodeAt(9) - 0x30;
    const d1 = text.charCodeAt(10) - 0x30;
    const d2 = text.charCodeAt(11) - 0x30;
    if (!(d0 >= 1 && d0 <= 9 && d1 >= 0 && d1 <= 9 && d2 >= 0 && d2 <= 9))
      fail('HPE_INVALID_STATUS', 'invalid status code');
    const status = d0 * 100 + d1 * 10 + d2;
    let reason = '';
    if (eol > 12) {
      if (text.charCodeAt(12) !== 0x20) fail('HPE_INVALID_STATUS', 'malformed status line');
      for (let i = 13; i < eol; i++) {
        const c = text.charCodeAt(i);
        if ((c < 0x20 && c !== 0x09) || c === 0x7f) fail('HPE_INVALID_STATUS', 'invalid character in reason');
      }
      reason = text.slice(13, eol);
    }
    const headers: HeaderMap = {};
    const f = this.resetFacts();
    this.parseFields(text, eol + 2, end, headers, false);
    if (status < 200) {
      if (status === 101) fail('HPE_UNEXPECTED_UPGRADE', 'unexpected 101 Switching Protocols');
      return undefined;
    }
    let framing: Framing = FRAMING_CLOSE;
    let contentLength = 0;
    let keepAlive = minor === 1;
    if (f.connection !== undefined) keepAlive = connectionTokens(f.connection, minor).keepAlive;
    if (this.noBodyExpected || status === 204 || status === 304) {
      framing = FRAMING_NONE;
    } else if (f.transferEncoding !== undefined) {
      if (minor === 0) fail('HPE_INVALID_TRANSFER_ENCODING', 'Transfer-Encoding in an HTTP/1.0 response');
      if (f.contentLengthCount > 0)
        fail('HPE_UNEXPECTED_CONTENT_LENGTH', 'both Content-Length and Transfer-Encoding');
      framing = transferCodingIsChunked(f.transferEncoding, false) ? FRAMING_CHUNKED : FRAMING_CLOSE;
    } else if (f.contentLengthCount > 0) {
      contentLength = parseContentLength(f);
      framing = contentLength > 0 ? FRAMING_LENGTH : FRAMING_NONE;
    }
    if (framing === FRAMING_CLOSE) keepAlive = false;
    return {
      method: '',
      target: '',
      status,
      reason,
      minor,
      headers,
      keepAlive,
      upgrade: false,
      expectContinue: false,
      framing,
      contentLength,
    };
  }

  /** `HTTP/1.0` or `HTTP/1.1` at [from, to): the minor version. */
  private version(text: string, from: number, to: number): number {
    if (to - from === 8 && text.startsWith('HTTP/1.', from)) {
      const minor = text.charCodeAt(from + 7) - 0x30;
      if (minor === 0 || minor === 1) return minor;
    }
    const v = text.slice(from, to);
    if (/^HTTP\/\d\.\d$/.test(v)) fail('HPE_INVALID_VERSION', `unsupported version ${v}`, 505);
    fail('HPE_INVALID_VERSION', 'malformed HTTP version');
  }

  /** Field lines in `text` from `pos` to `end` (lines separated by CRLF). */
  private parseFields(text: string, pos: number, end: number, headers: HeaderMap, trailers: boolean): void {
    if (pos >= end) return;
    // One scan for what no field may contain (controls, CR outside CRLF; a bare LF fails the
    // line check below): lines then split on LF alone, and values need no check of their own.
    FORBIDDEN_IN_FIELDS.lastIndex = pos;
    const bad = FORBIDDEN_IN_FIELDS.exec(text);
    if (bad !== null && bad.index < end)
      fail('HPE_INVALID_HEADER_TOKEN', 'invalid character in header section');
    const f = this.facts;
    while (pos < end) {
      const lf = text.indexOf('\n', pos);
      const eol = lf === -1 || lf > end ? end : lf - 1;
      if (eol !== end && text.charCodeAt(eol) !== CR)
        fail('HPE_INVALID_HEADER_TOKEN', 'bare LF in header section');
      const colon = text.indexOf(':', pos);
      // An empty name covers obs-fold (a line starting with SP/HTAB); the name check covers
      // whitespace before the colon.
      if (colon <= pos || colon >= eol) fail('HPE_INVALID_HEADER_TOKEN', 'invalid header line');
      let upper = false;
      for (let i = pos; i < colon; i++) {
        const c = text.charCodeAt(i);
        if (TCHAR[c] !== 1) fail('HPE_INVALID_HEADER_TOKEN', 'invalid character in header name');
        if (c <= 0x5a && c >= 0x41) upper = true;
      }
      const raw = text.slice(pos, colon);
      const name = upper ? raw.toLowerCase() : raw;
      let vs = colon + 1;
      let ve = eol;
      while (vs < ve && (text.charCodeAt(vs) === 0x20 || text.charCodeAt(vs) === 0x09)) vs++;
      while (ve > vs && (text.charCodeAt(ve - 1) === 0x20 || text.charCodeAt(ve - 1) === 0x09)) ve--;
      const value = text.slice(vs, ve);
      pos = eol + 2;
      if (trailers) {
        if (!NOT_IN_TRAILERS.has(name)) addField(headers, name, value);
        continue;
      }
      switch (name) {
        case 'content-length':
          f.contentLength = value;
          f.contentLengthCount++;
          break;
        case 'transfer-encoding':
          f.transferEncoding = f.transferEncoding === undefined ? value : `${f.transferEncoding}, ${value}`;
          break;
        case 'connection':
          f.connection = f.connection === undefined ? value : `${f.connection}, ${value}`;
          break;
        case 'host':
          f.hostCount++;
          break;
        case 'expect':
          f.expect = value;
          break;
      }
      addField(headers, name, value);
    }
  }
}
