/**
 * A downstream HTTP/1.1 connection on a raw socket (see parser.ts for why not node:http).
 * Requests are handled one at a time: after a request has been received the parser pauses, so
 * pipelined requests wait in its buffer and their responses go out in order. A response that
 * ends before its request body has arrived lets the rest of the body be read and dropped (or
 * closes the connection, when the client still waits for `100 Continue`).
 *
 * Limits as the node:http server this replaces was configured: a head of at most 60 KiB (431),
 * a malformed request gets 400 and only its own connection closes, 60 s for a request head (408),
 * 300 s for a whole request (408), 60 s idle keep-alive. Timeouts are checked by one sweep per
 * second over all connections rather than a timer per request.
 *
 * `Connection: upgrade` requests (WebSocket) are routed like any request. Reading stops after
 * their head: what the client sends next is held, unparsed. On the upstream's 101 the socket and
 * those bytes leave this codec (`takeOver`, src/proxy/connection-manager/upgrade.ts); on any other response
 * the connection closes after it and the held bytes are dropped.
 */
import { connectionSecurity, type ConnectionSecurity } from '../../connection-manager/downstream.js';
import type net from 'node:net';
import type { Downstream } from '../../connection-manager/downstream.js';
import {
  FRAMING_NONE,
  Http1ParseError,
  Http1Parser,
  type MessageHead,
  type ParserHandler,
} from './parser.js';
import { statusLine } from './serializer.js';
import { Http1Exchange, Http1RequestBody, type ExchangeOwner } from './server-exchange.js';

export interface Http1ServerOptions {
  maxHeaderBytes: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

export const DEFAULT_SERVER_OPTIONS: Http1ServerOptions = Object.freeze({
  maxHeaderBytes: 60 * 1024,
  headersTimeoutMs: 60_000,
  requestTimeoutMs: 300_000,
  keepAliveTimeoutMs: 60_000,
});

export interface Http1ServerHooks {
  /** A request to route. */
  request(ds: Downstream): void;
  /** A malformed request (already answered): for a debug log. */
  clientError(err: Http1ParseError, socket: net.Socket): void;
  /** The listener is draining: no more keep-alive. */
  draining(): boolean;
}

const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)([^#]*)/i;

export class Http1ServerConnection implements ParserHandler, ExchangeOwner {
  private readonly parser: Http1Parser;
  private readonly remoteAddress: string;
  private readonly localPort: number;
  private readonly localAddress: string;
  /** What the TLS handshake proved (set by a TLS listener before the socket was handed over). */
  private readonly security: ConnectionSecurity | undefined;
  private readonly scheme: string;
  private current: Http1Exchange | undefined;
  /** The current request has been received completely. */
  private requestComplete = false;
  /** An upgrade request is in progress: reading stays paused until it switches or fails. */
  private upgradeHold = false;
  private upgradeRequest: Http1Exchange | undefined;
  private peerEnded = false;
  private closed = false;
  /** Reading paused for a request body's backpressure / for too many pipelined bytes. */
  private bodyHold = false;
  private pipelineHold = false;
  /** Times (Date.now) for the timeout sweep. */
  private idleSince: number;
  private headStart = 0;
  private requestStart = 0;
  private drainingFlag = false;
  /** Inside parser.execute(): the parser's own loop goes on to pipelined requests. */
  private parsing = false;

  constructor(
    readonly socket: net.Socket,
    private readonly hooks: Http1ServerHooks,
    private readonly options: Http1ServerOptions = DEFAULT_SERVER_OPTIONS,
  ) {
    this.parser = new Http1Parser(this, { mode: 'request', maxHeaderBytes: options.maxHeaderBytes });
    this.remoteAddress = socket.remoteAddress ?? '';
    this.localPort = socket.localPort ?? 0;
    this.localAddress = socket.localAddress ?? '';
    this.scheme = (socket as Partial<{ encrypted: boolean }>).encrypted === true ? 'https' : 'http';
    this.security = connectionSecurity(socket);
    this.idleSince = Date.now();
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('error', ignore);
    track(this);
  }

  get closing(): boolean {
    return this.drainingFlag || this.peerEnded || this.hooks.draining();
  }

  /** Feeds bytes already read from the socket (the listener's protocol sniffing). */
  feed(chunk: Buffer): void {
    this.onData(chunk);
  }

  /** Closes the connection if idle, else after the response in progress. */
  drain(): void {
    this.drainingFlag = true;
    if (this.current === undefined && !this.closed) this.closeIdle();
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.current === undefined && this.parser.idle) this.headStart = Date.now();
    if (!this.runParser(chunk)) return;
    if (this.current === undefined && this.drainingFlag) {
      this.closeIdle();
      return;
    }
    // Pipelined requests wait in the parser's buffer: bound it, as for a request head.
    if (
      this.parser.isPaused &&
      !this.pipelineHold &&
      this.parser.bufferedBytes > this.options.maxHeaderBytes
    ) {
      this.pipelineHold = true;
      this.updateReading();
    }
  };

  onHead(head: MessageHead): void {
    const target = head.target;
    let path = target;
    let authority = (head.headers.host as string | undefined) ?? '';
    if (target.charCodeAt(0) !== 0x2f /* / */) {
      if (target === '*') {
        if (head.method !== 'OPTIONS')
          throw new Http1ParseError('HPE_INVALID_URL', 400, '* target outside OPTIONS');
      } else {
        // Absolute form (HTTP_PROXY clients): the target's authority wins over Host (RFC 9112 3.2.2).
        const m = ABSOLUTE_FORM.exec(target);
        if (!m || head.method === 'CONNECT')
          throw new Http1ParseError('HPE_INVALID_URL', 400, 'unsupported request target');
        authority = m[1]!;
        path = m[2] === '' ? '/' : m[2]!.charCodeAt(0) === 0x3f /* ? */ ? `/${m[2]}` : m[2]!;
      }
    } else if (head.method === 'CONNECT') {
      throw new Http1ParseError('HPE_INVALID_METHOD', 400, 'CONNECT is not supported');
    }
    const ex = new Http1Exchange(
      this,
      head,
      path,
      authority,
      this.scheme,
      this.remoteAddress,
      this.localPort,
      this.security,
      this.localAddress,
    );
    this.current = ex;
    this.requestComplete = false;
    this.requestStart = this.headStart;
    if (head.upgrade) {
      // No body: after an upgrade head comes another protocol, and nothing would tell where a
      // body ended and that began.
      if (head.framing !== FRAMING_NONE)
        throw new Http1ParseError('HPE_INVALID_UPGRADE', 400, 'upgrade request with a body');
      this.upgradeHold = true;
      this.updateReading();
      ex.upgrade = {
        protocol: firstToken(head.headers.upgrade),
        takeOver: () => this.takeOver(ex),
      };
      // Routed once the parser has returned, so the bytes after the head are in its buffer. The
      // request itself is complete: what follows belongs to the next protocol (and the 300 s
      // request timeout must not cut a declined upgrade's long response).
      this.requestComplete = true;
      this.upgradeRequest = ex;
      return;
    }
    this.hooks.request(ex);
  }

  onBody(chunk: Buffer): void {
    const body = this.current?.body;
    if (body instanceof Http1RequestBody) body.push(chunk);
  }

  onMessageEnd(): void {
    const ex = this.current;
    if (!ex) return;
    this.requestComplete = true;
    if (ex.body instanceof Http1RequestBody) ex.body.finish();
    if (ex.done) this.next();
    else this.parser.pause();
  }

  responseDone(ex: Http1Exchange): void {
    if (ex !== this.current || this.closed) return;
    if (ex.closeAfter || this.closing) {
      this.endSocket();
      return;
    }
    if (!this.requestComplete) {
      // The client still waits for 100 Continue: its next bytes may be a body or a request.
      if (ex.expectContinue && !ex.continueSent) {
        this.endSocket();
        return;
      }
      if (ex.body instanceof Http1RequestBody) ex.body.discard();
      return; // onMessageEnd moves on
    }
    this.next();
  }

  /** The exchange is over on both sides: on to the next request, if any. */
  private next(): void {
    this.current = undefined;
    this.idleSince = Date.now();
    if (this.pipelineHold) {
      this.pipelineHold = false;
      this.updateReading();
    }
    if (this.parsing) {
      this.parser.resume();
      return;
    }
    if (!this.runParser(undefined)) return;
    if (this.current === undefined && (this.peerEnded || this.drainingFlag)) this.closeIdle();
  }

  /**
   * Feeds `chunk` to the parser (or resumes it with what it holds). False when the connection
   * was handed over (an upgrade) or failed: nothing more to do with it here.
   */
  private runParser(chunk: Buffer | undefined): boolean {
    this.parsing = true;
    try {
      if (chunk === undefined) this.parser.resume();
      else this.parser.execute(chunk);
    } catch (err) {
      this.onParseError(err);
      return false;
    } finally {
      this.parsing = false;
    }
    const upgrade = this.upgradeRequest;
    if (upgrade) {
      this.upgradeRequest = undefined;
      this.hooks.request(upgrade);
    }
    return !this.closed;
  }

  pauseBody(): void {
    this.bodyHold = true;
    this.updateReading();
  }

  resumeBody(): void {
    this.bodyHold = false;
    this.updateReading();
  }

  private updateReading(): void {
    if (this.closed) return;
    if (this.bodyHold || this.pipelineHold || this.upgradeHold) this.socket.pause();
    else this.socket.resume();
  }

  /** The upstream switched protocols: the socket and the held bytes leave this codec. */
  private takeOver(ex: Http1Exchange): { socket: net.Socket; head: Buffer } {
    if (ex !== this.current || this.closed) throw new Error("the connection is no longer this request's");
    const rest = this.parser.detach();
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onClose);
    untrack(this);
    this.current = undefined;
    // The socket is the tunnel's now: drain() and the timeout sweep leave it alone (a listener
    // drain must not cut WebSockets at once; the grace period applies to them).
    this.closed = true;
    ex.switched();
    return { socket: this.socket, head: rest };
  }

  private onParseError(err: unknown): void {
    const e =
      err instanceof Http1ParseError ? err : new Http1ParseError('HPE_INTERNAL', 400, (err as Error).message);
    this.hooks.clientError(e, this.socket);
    const ex = this.current;
    if (ex && (ex.headersSent || ex.done)) {
      // A response is (being) written: too late for an error response.
      this.socket.destroy();
      return;
    }
    this.reply(e.status, `bad request: ${e.code}\n`);
    ex?.abort();
  }

  /** A final response from the codec itself (400, 408, ...), then close. */
  private reply(status: number, body: string): void {
    if (this.closed || !this.socket.writable) {
      this.socket.destroy();
      return;
    }
    this.socket.end(
      `${statusLine(status)}content-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `connection: close\r\n\r\n${body}`,
      'latin1',
    );
    this.parser.destroy();
    this.closed = true;
    this.lingerThenDestroy();
  }

  private readonly onEnd = (): void => {
    // As Envoy and node's server do: the client closing its side closes the connection, and a
    // request still in progress is abandoned (DC), its upstream request cancelled.
    this.peerEnded = true;
    if (this.current === undefined && this.parser.idle) this.endSocket();
    else this.socket.destroy();
  };

  private readonly onClose = (): void => {
    this.closed = true;
    untrack(this);
    this.parser.destroy();
    const ex = this.current;
    this.current = undefined;
    ex?.abort();
  };

  private closeIdle(): void {
    if (this.parser.idle) this.endSocket();
    else this.socket.destroy();
  }

  private endSocket(): void {
    if (this.closed) return;
    this.closed = true;
    this.parser.destroy();
    this.socket.end();
    this.lingerThenDestroy();
  }

  /**
   * After our FIN, the peer gets LINGER_MS from the last byte written to close its side, then the
   * socket is destroyed (as node's destroySoon and Envoy's delayed_close_timeout): a client that
   * never closes must not hold the socket forever. Reading goes on, bytes dropped, so unread
   * input does not turn the close into a reset that could discard the response.
   */
  private lingerThenDestroy(): void {
    const socket = this.socket;
    socket.resume();
    const start = (): void => {
      const timer = setTimeout(() => socket.destroy(), LINGER_MS);
      timer.unref();
      socket.once('close', () => clearTimeout(timer));
    };
    if (socket.writableFinished) start();
    else socket.once('finish', start);
  }

  /** One sweep tick: `now` from Date.now(). */
  checkTimeouts(now: number): void {
    if (this.closed) return;
    const o = this.options;
    if (this.current === undefined) {
      if (this.parser.idle) {
        if (now - this.idleSince > o.keepAliveTimeoutMs) this.socket.destroy();
      } else if (now - this.headStart > o.headersTimeoutMs) {
        this.reply(408, 'request timeout\n');
      }
    } else if (!this.requestComplete && now - this.requestStart > o.requestTimeoutMs) {
      const ex = this.current;
      if (ex.headersSent) this.socket.destroy();
      else {
        this.reply(408, 'request timeout\n');
        ex.abort();
      }
    }
  }
}

function ignore(): void {}

function firstToken(value: string | string[] | undefined): string {
  const v = Array.isArray(value) ? value.join(',') : (value ?? '');
  return (v.split(',')[0] ?? '').trim();
}

/** How long a closed connection waits for the peer's FIN once everything was written. */
const LINGER_MS = 1000;

// ---- the timeout sweep: one interval for every connection of the process ----

const SWEEP_MS = 1000;
const live = new Set<Http1ServerConnection>();
let sweeper: NodeJS.Timeout | undefined;

function track(c: Http1ServerConnection): void {
  live.add(c);
  if (!sweeper) {
    sweeper = setInterval(() => {
      const now = Date.now();
      for (const conn of live) conn.checkTimeouts(now);
    }, SWEEP_MS);
    sweeper.unref();
  }
}

function untrack(c: Http1ServerConnection): void {
  live.delete(c);
  if (live.size === 0 && sweeper) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}
