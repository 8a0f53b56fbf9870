/**
 * One upstream HTTP/1.1 connection carrying one request at a time, and the request itself (an
 * attempt, in forward.ts's terms). Hand-written on net.Socket for the same reason as the server
 * side (parser.ts): node's ClientRequest/IncomingMessage/Agent machinery was most of the
 * proxy's cost per request.
 *
 * A request writes its head together with the start of its body when that is already there (a
 * GET is one write). Its response is handed to forward.ts as soon as the head is parsed; body
 * bytes that arrive before forward.ts reads them are held. A connection goes back to its pool
 * only when both the request body was sent completely and the response said keep-alive; anything
 * else (an error, a cancel, `connection: close`, a close-delimited body) closes it.
 */
import net from 'node:net';
import type { BodySink, ReplayableBody } from '../../connection-manager/request-body.js';
import type {
  OutgoingHeaders,
  ResponseBodyReader,
  UpstreamAttempt,
  UpstreamResponse,
} from '../../upstream/attempt.js';
import { UpstreamError } from '../../upstream/attempt.js';
import { tlsFailureReason, type UpstreamSocket } from '../../upstream/transport.js';
import { Http1ParseError, Http1Parser, type MessageHead, type ParserHandler } from './parser.js';
import { chunkSizeLine, fieldLines, writeFramed } from './serializer.js';

/** What a connection needs from its pool. */
export interface ConnectionOwner {
  readonly host: string;
  readonly port: number;
  /** Opens the connection (TLS for clusters with a TLS transport socket); plain TCP when absent. */
  readonly open?: (() => UpstreamSocket) | undefined;
  /** The connection finished a request and may carry another. */
  release(conn: Http1ClientConnection): void;
  /** The connection is gone. */
  removed(conn: Http1ClientConnection): void;
}

/** The largest response head accepted from an upstream (Envoy's default is 60 KiB too). */
const MAX_RESPONSE_HEADER_BYTES = 60 * 1024;

/** Methods that carry no body unless the request says so (as node's ClientRequest). */
const NO_BODY_BY_DEFAULT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE']);

export interface ClientRequestSpec {
  method: string;
  path: string;
  authority: string;
  headers: OutgoingHeaders;
  body: ReplayableBody;
  connectTimeoutMs: number;
  /** A mirror: the body is copied without backpressure. */
  shadow: boolean;
}

/** Request body bytes held before a connection is ready, before asking the source to wait. */
const QUEUE_LIMIT = 64 * 1024;

const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** As node's INVALID_PATH_REGEX. */
const INVALID_PATH = /[^\u0021-\u00ff]/;

const BODY_NONE = 0;
const BODY_LENGTH = 1;
const BODY_CHUNKED = 2;

export class Http1ClientConnection implements ParserHandler {
  readonly socket: net.Socket;
  private readonly parser: Http1Parser;
  private current: Http1ClientRequest | undefined;
  private connected = false;
  /** TLS: ready at `secureConnect`, and failures before it are transport failures. */
  private readonly secure: boolean;
  private transportFailure: string | undefined;
  private closed = false;
  private connectTimer: NodeJS.Timeout | undefined;
  private lastError: string | undefined;
  private keepAlive = false;
  /** Inside parser.execute(). */
  private parsing = false;
  /** A response completed inside parser.execute(): release once the rest of the bytes are seen. */
  private releasePending = false;
  /** Date.now() when it last became idle, for the pool's idle timeout. */
  idleSince = 0;

  constructor(
    private readonly owner: ConnectionOwner,
    connectTimeoutMs: number,
  ) {
    this.parser = new Http1Parser(this, { mode: 'response', maxHeaderBytes: MAX_RESPONSE_HEADER_BYTES });
    const opened = owner.open?.() ?? {
      socket: net.connect({ host: owner.host, port: owner.port }),
      readyEvent: 'connect',
    };
    const socket = opened.socket;
    this.socket = socket;
    this.secure = opened.readyEvent === 'secureConnect';
    socket.setNoDelay(true);
    this.connectTimer = setTimeout(() => {
      this.lastError = `connect timeout after ${connectTimeoutMs}ms`;
      socket.destroy();
    }, connectTimeoutMs);
    socket.once(opened.readyEvent, this.onConnect);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('error', this.onError);
  }

  /** Idle, open and connected: can take a request now. */
  get reusable(): boolean {
    return this.connected && !this.closed && !this.socket.destroyed && this.current === undefined;
  }

  assign(req: Http1ClientRequest): void {
    this.current = req;
    // Paused at the end of the previous response (see onMessageEnd); nothing is buffered.
    this.parser.resume();
    req.conn = this;
    if (this.connected) req.send();
  }

  /** Closes the connection (any request on it fails as reset). */
  destroy(): void {
    this.socket.destroy();
  }

  private readonly onConnect = (): void => {
    this.connected = true;
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.socket.setKeepAlive(true, 1000);
    const req = this.current;
    if (req) req.send();
    // Connected for a request that was cancelled meanwhile: offer it to the next one.
    else this.owner.release(this);
  };

  /** Before a request's head is written: what its response may look like. */
  expectResponse(method: string): void {
    this.parser.noBodyExpected = method === 'HEAD';
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.current === undefined) {
      // Bytes on an idle connection answer nothing that was asked: parsed later, they would be
      // taken for the response to the next request. Envoy closes such a connection too.
      this.lastError = 'protocol error: data on an idle connection';
      this.socket.destroy();
      return;
    }
    this.parsing = true;
    try {
      this.parser.execute(chunk);
    } catch (err) {
      this.releasePending = false;
      this.lastError =
        err instanceof Http1ParseError ? `protocol error: ${err.code}` : (err as Error).message;
      this.socket.destroy();
      return;
    } finally {
      this.parsing = false;
    }
    if (this.releasePending) {
      this.releasePending = false;
      if (this.parser.bufferedBytes > 0) {
        // More bytes behind a complete response: the upstream is out of step with us.
        this.lastError = 'protocol error: data after a response';
        this.socket.destroy();
      } else {
        this.owner.release(this);
      }
    }
  };

  onHead(head: MessageHead): void {
    const req = this.current;
    if (!req) throw new Http1ParseError('HPE_UNSOLICITED_RESPONSE', 502, 'response without a request');
    this.keepAlive = head.keepAlive;
    req.onHead(head);
  }

  onBody(chunk: Buffer): void {
    this.current?.onBody(chunk);
  }

  onMessageEnd(trailers: OutgoingHeaders | undefined): void {
    const req = this.current;
    if (!req) return;
    this.current = undefined;
    req.conn = undefined;
    const reuse = this.keepAlive && req.bodySent && !this.closed;
    req.onEnd(trailers);
    if (reuse) {
      this.idleSince = Date.now();
      // Response backpressure may have paused reading: the next request needs it.
      if (this.socket.isPaused()) this.socket.resume();
      // Not released from inside the parser's loop: bytes after this response in the same read
      // would be parsed as the response to whichever request the pool hands over next. The
      // parser stops here and onData looks at what is left.
      this.parser.pause();
      if (this.parsing) this.releasePending = true;
      else this.owner.release(this);
    } else {
      this.socket.destroy();
    }
  }

  private readonly onEnd = (): void => {
    try {
      // Ends a close-delimited body; throws if a response was cut short.
      this.parser.finish();
    } catch {
      this.lastError ??= 'ECONNRESET';
    }
    this.socket.destroy();
  };

  private readonly onError = (err: NodeJS.ErrnoException): void => {
    // Before a TLS connection is secure, an error is the handshake failing (Envoy's UF with a
    // transport failure reason).
    if (this.secure && !this.connected && this.lastError === undefined) {
      this.transportFailure = tlsFailureReason(err);
      this.lastError = `transport failure reason: ${this.transportFailure}`;
    }
    this.lastError ??= err.code ?? err.message;
  };

  private readonly onClose = (): void => {
    this.closed = true;
    clearTimeout(this.connectTimer);
    this.parser.destroy();
    const req = this.current;
    this.current = undefined;
    if (req) {
      req.conn = undefined;
      const error = new UpstreamError(
        this.connected ? 'reset' : 'connect',
        this.lastError ?? 'ECONNRESET',
        req.live,
      );
      if (this.transportFailure !== undefined) error.transportFailureReason = this.transportFailure;
      req.fail(error);
    }
    this.owner.removed(this);
  };
}

/**
 * One attempt: the request, its response (it is the UpstreamResponse forward.ts reads) and the
 * sink its body is written to. The body is attached at once, as node's ClientRequest did: what
 * arrives before a connection is ready is held (backpressure past a limit) and written behind
 * the head, so a mirror and the main request attached one after the other both see every chunk.
 */
export class Http1ClientRequest implements UpstreamAttempt, UpstreamResponse, BodySink {
  readonly response: Promise<UpstreamResponse>;
  conn: Http1ClientConnection | undefined;
  /** The pool queue this request waits in for a connection. */
  queuedIn: { unqueue(req: Http1ClientRequest): void } | undefined;
  cancelled = false;
  /** The whole request body was written. */
  bodySent = false;
  status = 0;
  headers: OutgoingHeaders = {};
  readonly endStream = false;
  private resolve!: (r: UpstreamResponse) => void;
  private reject!: (e: UpstreamError) => void;
  private responded = false;
  private settled = false;
  private reader: ResponseBodyReader | undefined;
  private held: Buffer[] | undefined;
  private trailers: OutgoingHeaders | undefined;
  private complete = false;
  private failed = false;
  private doneFns: (() => void)[] | undefined;
  private detach: (() => void) | undefined;
  private readonly bodyMode: number;
  private bodyRemaining = 0;
  /** Written with the first body bytes, or alone once the body is known to be empty/late. */
  private pendingHead: string;
  /** On a connection, writing (else holding what the body source writes): the request started. */
  live = false;
  private queue: Buffer[] | undefined;
  private queued = 0;
  private bodyEnded = false;
  private drainWaiters: (() => void)[] | undefined;

  constructor(readonly spec: ClientRequestSpec) {
    this.response = new Promise<UpstreamResponse>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // What node's ClientRequest refused too: a space or control in the request line would split
    // it (a rewritten path, an HTTP/2 :path), and `host` is checked as any field value.
    if (!METHOD.test(spec.method) || INVALID_PATH.test(spec.path) || spec.path === '')
      throw new UpstreamError('reset', 'invalid request line');
    let head = `${spec.method} ${spec.path} HTTP/1.1\r\n${fieldLines('host', spec.authority)}`;
    let length: string | string[] | undefined;
    for (const name in spec.headers) {
      const value = spec.headers[name]!;
      if (name === 'host' || name === 'transfer-encoding' || name === 'connection') continue;
      if (name === 'content-length') length = value;
      head += fieldLines(name, value);
    }
    if (length !== undefined) {
      this.bodyMode = BODY_LENGTH;
      this.bodyRemaining = Number(Array.isArray(length) ? length[0] : length);
      if (!Number.isSafeInteger(this.bodyRemaining) || this.bodyRemaining < 0)
        throw new UpstreamError('reset', 'invalid content-length');
    } else if (spec.body.empty) {
      this.bodyMode = BODY_NONE;
      if (!NO_BODY_BY_DEFAULT.has(spec.method)) head += 'content-length: 0\r\n';
    } else {
      this.bodyMode = BODY_CHUNKED;
      head += 'transfer-encoding: chunked\r\n';
    }
    this.pendingHead = `${head}\r\n`;
  }

  // ---- the request ----

  /** Attaches the request body (before the pool is asked for a connection). */
  start(): void {
    this.detach = this.spec.body.attach(this, this.spec.shadow);
  }

  /** The connection is ready: write the head and what the body has written so far. */
  send(): void {
    const conn = this.conn!;
    conn.expectResponse(this.spec.method);
    this.live = true;
    const queue = this.queue;
    this.queue = undefined;
    this.queued = 0;
    if (queue) for (const c of queue) this.writeLive(conn, c);
    if (this.bodyEnded) this.endLive(conn);
    else if (this.pendingHead !== '') {
      // No body bytes yet: the head goes alone, so the upstream can start.
      const h = this.pendingHead;
      this.pendingHead = '';
      conn.socket.write(h, 'latin1');
    }
    const waiters = this.drainWaiters;
    if (waiters) {
      this.drainWaiters = undefined;
      const run = () => {
        for (const f of waiters) f();
      };
      if (conn.socket.writableNeedDrain) conn.socket.once('drain', run);
      else run();
    }
  }

  get destroyed(): boolean {
    return this.cancelled || this.failed || (this.live && this.conn === undefined);
  }

  write(chunk: Buffer): boolean {
    if (this.destroyed || chunk.length === 0) return true;
    if (this.bodyMode === BODY_LENGTH) {
      if (chunk.length > this.bodyRemaining) {
        // More than the request said: sending it would start a second request upstream.
        this.cancel();
        return true;
      }
      this.bodyRemaining -= chunk.length;
    }
    if (!this.live) {
      (this.queue ??= []).push(chunk);
      this.queued += chunk.length;
      return this.queued < QUEUE_LIMIT;
    }
    return this.writeLive(this.conn!, chunk);
  }

  private writeLive(conn: Http1ClientConnection, chunk: Buffer): boolean {
    const head = this.pendingHead;
    this.pendingHead = '';
    if (this.bodyMode === BODY_CHUNKED)
      return writeFramed(conn.socket, head + chunkSizeLine(chunk.length), chunk, '\r\n');
    return writeFramed(conn.socket, head, chunk, '');
  }

  end(): void {
    if (this.destroyed) return;
    if (this.bodyMode === BODY_LENGTH && this.bodyRemaining > 0) {
      // Less than the request said: the upstream would wait for the rest.
      this.cancel();
      return;
    }
    if (this.live) this.endLive(this.conn!);
    else this.bodyEnded = true;
  }

  private endLive(conn: Http1ClientConnection): void {
    let out = this.pendingHead;
    this.pendingHead = '';
    if (this.bodyMode === BODY_CHUNKED) out += '0\r\n\r\n';
    if (out !== '') conn.socket.write(out, 'latin1');
    this.bodySent = true;
  }

  once(_event: 'drain', fn: () => void): this {
    if (this.live && this.conn) this.conn.socket.once('drain', fn);
    else if (!this.live) (this.drainWaiters ??= []).push(fn);
    return this;
  }

  detachBody(): void {
    this.detach?.();
    this.detach = undefined;
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    // Left in the queue, a cancelled request (and its body's replay copy) would be held until a
    // connection came free: forever, behind a hung upstream.
    this.queuedIn?.unqueue(this);
    this.queuedIn = undefined;
    this.detachBody();
    const conn = this.conn;
    // Not sent yet (waiting for a connection): the pool skips it. Sent: the connection cannot
    // be reused mid-exchange. A complete response leaves the connection to its pool.
    if (conn && !this.complete) conn.destroy();
    this.fail(new UpstreamError('reset', 'cancelled'));
  }

  // ---- the response ----

  onHead(head: MessageHead): void {
    this.status = head.status;
    this.headers = head.headers as OutgoingHeaders;
    this.responded = true;
    if (!this.settled) {
      this.settled = true;
      this.resolve(this);
    }
  }

  onBody(chunk: Buffer): void {
    if (this.reader) this.reader.data(chunk);
    else (this.held ??= []).push(chunk);
  }

  onEnd(trailers: OutgoingHeaders | undefined): void {
    this.complete = true;
    this.trailers = trailers;
    this.detachBody();
    this.reader?.end(trailers);
    this.runDone();
  }

  /** The connection failed or the attempt was cancelled. */
  fail(err: UpstreamError): void {
    if (this.complete || this.failed) return;
    this.failed = true;
    this.detachBody();
    if (!this.settled) {
      this.settled = true;
      this.reject(err);
    } else if (this.responded) {
      this.reader?.error();
    }
    this.runDone();
  }

  read(reader: ResponseBodyReader): void {
    this.reader = reader;
    const held = this.held;
    if (held) {
      this.held = undefined;
      for (const c of held) reader.data(c);
    }
    if (this.complete) reader.end(this.trailers);
    else if (this.failed) reader.error();
  }

  pause(): void {
    this.conn?.socket.pause();
  }

  resume(): void {
    this.conn?.socket.resume();
  }

  abort(): void {
    if (this.complete || this.failed) return;
    this.cancel();
  }

  onDone(fn: () => void): void {
    if (this.complete || this.failed) fn();
    else (this.doneFns ??= []).push(fn);
  }

  private runDone(): void {
    const fns = this.doneFns;
    this.doneFns = undefined;
    if (fns) for (const f of fns) f();
  }
}
