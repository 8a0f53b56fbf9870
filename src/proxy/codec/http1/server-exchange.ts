/**
 * One HTTP/1.1 request on a downstream connection and the response to it: the `Downstream` the
 * router works with. The response head is written together with the first body bytes (one
 * write, one syscall for a small response); if no body follows in the same tick, a microtask
 * flushes the head alone so a slow stream still shows its headers at once. Framing follows the
 * headers given: Content-Length when set, else chunked for HTTP/1.1 and close-delimited for
 * HTTP/1.0; HEAD, 1xx, 204 and 304 responses carry no body.
 */
import type net from 'node:net';
import type { ConnectionSecurity } from '../../connection-manager/downstream.js';
import type { Downstream, HeaderMap, OutHeaders } from '../../connection-manager/downstream.js';
import type { BodySource } from '../../connection-manager/request-body.js';
import type { MessageHead } from './parser.js';
import {
  chunkSizeLine,
  dateLine,
  fieldLines,
  InvalidFieldError,
  lastChunk,
  statusLine,
  writeFramed,
} from './serializer.js';

/** What an exchange needs from its connection. */
export interface ExchangeOwner {
  readonly socket: net.Socket;
  /** The listener is draining: the response says `connection: close`. */
  readonly closing: boolean;
  /** The response is complete (written to the socket, or abandoned with the connection). */
  responseDone(ex: Http1Exchange): void;
  /** Body backpressure: stop / restart reading the socket. */
  pauseBody(): void;
  resumeBody(): void;
}

const MODE_NONE = 0;
const MODE_LENGTH = 1;
const MODE_CHUNKED = 2;
const MODE_CLOSE = 3;

/** Request bodies buffered before anyone reads them, before the socket stops being read. */
const BODY_BUFFER_LIMIT = 64 * 1024;

/** Exchanges whose response head waits for body bytes until the end of this tick. */
let headFlushQueue: Http1Exchange[] = [];
function flushHeads(): void {
  const q = headFlushQueue;
  headFlushQueue = [];
  for (const ex of q) ex.flushHead();
}

export class Http1Exchange implements Downstream {
  readonly method: string;
  path: string;
  readonly authority: string;
  readonly scheme: string;
  readonly protocol: 'HTTP/1.0' | 'HTTP/1.1';
  readonly headers: HeaderMap;
  readonly body: BodySource;
  readonly keepAlive: boolean;
  readonly expectContinue: boolean;
  continueSent = false;
  /** The connection closes after this response. */
  closeAfter: boolean;
  private headSent = false;
  private pendingHead = '';
  private mode = MODE_NONE;
  /** Body bytes Content-Length still allows. */
  private lengthLeft = 0;
  private finished = false;
  private abortedFlag = false;
  private abortFns: (() => void)[] | undefined;

  constructor(
    private readonly owner: ExchangeOwner,
    head: MessageHead,
    path: string,
    authority: string,
    scheme: string,
    readonly remoteAddress: string,
    readonly localPort: number,
    readonly security?: ConnectionSecurity,
    readonly localAddress = '',
  ) {
    this.method = head.method;
    this.path = path;
    this.authority = authority;
    this.scheme = scheme;
    this.protocol = head.minor === 0 ? 'HTTP/1.0' : 'HTTP/1.1';
    this.headers = head.headers;
    this.keepAlive = head.keepAlive;
    this.closeAfter = !head.keepAlive;
    this.expectContinue = head.expectContinue;
    this.body = head.framing === 0 ? EMPTY_BODY : new Http1RequestBody(owner, this);
    // An upgrade that does not switch protocols leaves bytes nobody parsed: never reuse.
    if (head.upgrade) this.closeAfter = true;
  }

  upgrade: Downstream['upgrade'];

  /** The connection switched protocols (101): this exchange no longer writes to it. */
  switched(): void {
    this.finished = true;
  }

  get headersSent(): boolean {
    return this.headSent;
  }

  get aborted(): boolean {
    return this.abortedFlag;
  }

  /** The response has been ended (or the connection went away). */
  get done(): boolean {
    return this.finished;
  }

  respond(status: number, headers: OutHeaders): void {
    this.writeHead(status, headers, false);
  }

  respondHeadersOnly(status: number, headers: OutHeaders): void {
    this.writeHead(status, headers, true);
    this.end();
  }

  private writeHead(status: number, headers: OutHeaders, empty: boolean): void {
    if (this.headSent || this.finished) return;
    let head = statusLine(status);
    let hasDate = false;
    let length: string | string[] | undefined;
    for (const name in headers) {
      const value = headers[name]!;
      switch (name) {
        case 'content-length':
          length = value;
          break;
        case 'date':
          hasDate = true;
          break;
        case 'connection':
          if (String(value).toLowerCase().includes('close')) this.closeAfter = true;
          continue;
        // Hop-by-hop: this connection's own framing and options are decided here, never
        // copied from whoever produced the headers (an upstream, a filter).
        case 'transfer-encoding':
        case 'keep-alive':
        case 'proxy-connection':
        case 'upgrade':
          continue;
      }
      head += fieldLines(name, value);
    }
    if (!hasDate) head += dateLine();
    if (this.method === 'HEAD' || status === 204 || status === 304 || status < 200) {
      this.mode = MODE_NONE;
    } else if (length !== undefined) {
      this.mode = MODE_LENGTH;
      this.lengthLeft = Number(Array.isArray(length) ? length[0] : length);
      if (!Number.isSafeInteger(this.lengthLeft) || this.lengthLeft < 0)
        throw new InvalidFieldError('content-length');
    } else if (empty) {
      this.mode = MODE_LENGTH;
      head += 'content-length: 0\r\n';
    } else if (this.protocol === 'HTTP/1.1') {
      this.mode = MODE_CHUNKED;
      head += 'transfer-encoding: chunked\r\n';
    } else {
      this.mode = MODE_CLOSE;
      this.closeAfter = true;
    }
    if (this.owner.closing) this.closeAfter = true;
    if (this.closeAfter) head += 'connection: close\r\n\r\n';
    else if (this.protocol === 'HTTP/1.0') head += 'connection: keep-alive\r\n\r\n';
    else head += '\r\n';
    this.pendingHead = head;
    this.headSent = true;
    if (!empty) {
      headFlushQueue.push(this);
      if (headFlushQueue.length === 1) queueMicrotask(flushHeads);
    }
  }

  /** Writes a head that no body bytes followed in the same tick. */
  flushHead(): void {
    if (this.pendingHead === '' || this.abortedFlag) return;
    const head = this.pendingHead;
    this.pendingHead = '';
    this.owner.socket.write(head, 'latin1');
  }

  write(chunk: Buffer): boolean {
    if (this.finished || this.abortedFlag || chunk.length === 0) return true;
    const head = this.pendingHead;
    this.pendingHead = '';
    switch (this.mode) {
      case MODE_NONE:
        if (head !== '') this.owner.socket.write(head, 'latin1');
        return true;
      case MODE_CHUNKED:
        return writeFramed(this.owner.socket, head + chunkSizeLine(chunk.length), chunk, '\r\n');
      case MODE_LENGTH:
        if (chunk.length > this.lengthLeft) {
          // More than Content-Length said (an HTTP/2 upstream may do that): the client would
          // take the rest for the next response. Send what was announced, then close.
          chunk = chunk.subarray(0, this.lengthLeft);
          this.closeAfter = true;
        }
        this.lengthLeft -= chunk.length;
        return writeFramed(this.owner.socket, head, chunk, '');
      default:
        return writeFramed(this.owner.socket, head, chunk, '');
    }
  }

  onceDrain(fn: () => void): void {
    this.owner.socket.once('drain', fn);
  }

  end(trailers?: OutHeaders): void {
    if (this.finished) return;
    if (!this.headSent) this.writeHead(200, {}, true);
    this.finished = true;
    if (!this.abortedFlag) {
      let out = this.pendingHead;
      this.pendingHead = '';
      if (this.mode === MODE_CHUNKED) {
        let hasTrailers = false;
        for (const _ in trailers) {
          hasTrailers = true;
          break;
        }
        out += lastChunk(hasTrailers ? trailers : undefined);
      }
      if (out !== '') this.owner.socket.write(out, 'latin1');
      if (this.mode === MODE_LENGTH && this.lengthLeft > 0) {
        // Shorter than Content-Length said: the client would wait for the rest.
        this.owner.socket.destroy();
      }
    }
    this.owner.responseDone(this);
  }

  reset(): void {
    this.closeAfter = true;
    this.owner.socket.destroy();
  }

  onAbort(fn: () => void): void {
    // Registered after the connection closed: the caller still has to let go of what it holds.
    if (this.abortedFlag) queueMicrotask(fn);
    else (this.abortFns ??= []).push(fn);
  }

  /** The connection closed before the response was complete. */
  abort(): void {
    if (this.finished || this.abortedFlag) return;
    this.abortedFlag = true;
    this.finished = true;
    if (this.abortFns) for (const f of this.abortFns) f();
  }

  /** `Expect: 100-continue`: sent once the body is first read, unless a response went first. */
  sendContinue(): void {
    if (!this.expectContinue || this.continueSent || this.headSent || this.finished) return;
    this.continueSent = true;
    this.owner.socket.write('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
  }
}

/** The body of a request without one. */
const EMPTY_BODY: BodySource = {
  on: () => EMPTY_BODY,
  pause: () => EMPTY_BODY,
  resume: () => EMPTY_BODY,
  readableEnded: true,
};

/**
 * A request body as the parser delivers it: one reader, chunks handed on as they are parsed
 * while flowing, held (up to a limit, then the socket pauses) while not.
 */
export class Http1RequestBody implements BodySource {
  private onData: ((chunk: Buffer) => void) | undefined;
  private onEnd: (() => void) | undefined;
  private queue: Buffer[] | undefined;
  private queued = 0;
  private flowing = false;
  private complete = false;
  private ended = false;
  /** Reading stopped because of this body (backpressure or the buffer limit). */
  private holding = false;
  /** The response is over: the rest of the body is read and dropped. */
  private discarding = false;

  constructor(
    private readonly owner: ExchangeOwner,
    private readonly exchange: Http1Exchange,
  ) {}

  get readableEnded(): boolean {
    return this.ended;
  }

  on(event: 'data' | 'end', fn: ((chunk: Buffer) => void) | (() => void)): this {
    if (event === 'data') this.onData = fn;
    else this.onEnd = fn as () => void;
    return this;
  }

  pause(): this {
    this.flowing = false;
    if (!this.holding && !this.complete) {
      this.holding = true;
      this.owner.pauseBody();
    }
    return this;
  }

  resume(): this {
    this.exchange.sendContinue();
    if (this.flowing) return this;
    this.flowing = true;
    // What is already here is delivered on a microtask, as a Readable resumes on a later tick:
    // a mirror and the main request may attach one after the other and both see every chunk.
    if ((this.queue !== undefined && this.queue.length > 0) || this.complete) queueMicrotask(this.flush);
    else this.release();
    return this;
  }

  private readonly flush = (): void => {
    while (this.queue && this.queue.length > 0 && this.flowing) {
      const c = this.queue.shift()!;
      this.queued -= c.length;
      this.onData?.(c);
    }
    if (!this.flowing) return;
    if (this.complete) this.emitEnd();
    else this.release();
  };

  /** A chunk from the parser. */
  push(chunk: Buffer): void {
    if (this.discarding) return;
    if (this.flowing && (this.queue === undefined || this.queue.length === 0)) {
      this.onData?.(chunk);
      return;
    }
    (this.queue ??= []).push(chunk);
    this.queued += chunk.length;
    if (this.queued > BODY_BUFFER_LIMIT && !this.holding) {
      this.holding = true;
      this.owner.pauseBody();
    }
  }

  /** The parser saw the end of the body. */
  finish(): void {
    this.complete = true;
    this.release();
    if (this.discarding || (this.flowing && (this.queue === undefined || this.queue.length === 0)))
      this.emitEnd();
  }

  /** The response is complete: drop what is left of the body as it arrives. */
  discard(): void {
    this.discarding = true;
    this.queue = undefined;
    this.queued = 0;
    this.onData = undefined;
    this.onEnd = undefined;
    this.release();
  }

  private release(): void {
    if (this.holding) {
      this.holding = false;
      this.owner.resumeBody();
    }
  }

  private emitEnd(): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd?.();
  }
}
