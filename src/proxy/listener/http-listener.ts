/**
 * A downstream HTTP listener: one TCP socket serving HTTP/1.1 and h2c with prior knowledge on
 * the same port (the first bytes decide: the HTTP/2 preface goes to node's HTTP/2 server,
 * anything else to the hand-written HTTP/1.1 codec in src/proxy/codec/http1). Each connection is
 * independent: a malformed or slow client gets its own 400 or timeout and nothing else notices.
 * `drain()` stops accepting and lets open requests finish, closing idle keep-alive connections
 * and sending HTTP/2 GOAWAY.
 */
import http2 from 'node:http2';
import net from 'node:net';
import type { Logger } from '../../core/logger.js';
import {
  connectionSecurity,
  fromHttp2,
  type ConnectionSecurity,
  type Downstream,
} from '../connection-manager/downstream.js';
import type { Http1ParseError } from '../codec/http1/parser.js';
import { Http1ServerConnection, type Http1ServerHooks } from '../codec/http1/server-connection.js';
import { handleRequest, type RequestTarget, type RouterDeps } from '../connection-manager/request-handler.js';
import type { Reporter } from '../connection-manager/stream-info.js';
import { PrefixedSocket } from './prefixed-socket.js';
import { PrematureResetTracker } from './premature-reset.js';
import { listenOn } from '../../core/net.js';

export type TargetResolver = (ds: Downstream) => RequestTarget;

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n');
/**
 * Streams one HTTP/2 connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS; node's
 * default is unlimited). Clients queue beyond it; the circuit breakers bound what goes upstream.
 */
export const H2_MAX_CONCURRENT_STREAMS = 1024;

export class HttpListener {
  private readonly server: net.Server;
  private readonly h1: Http1ServerHooks;
  private readonly h1Connections = new Set<Http1ServerConnection>();
  private readonly h2: http2.Http2Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private draining = false;
  /** What each HTTP/2 connection's TLS handshake proved (absent: plain text). */
  private readonly sessionSecurity = new WeakMap<http2.Http2Session, ConnectionSecurity>();
  /** The security of the connection being handed to the HTTP/2 server right now. */
  private handing: ConnectionSecurity | undefined;

  constructor(
    private resolver: TargetResolver,
    private readonly reporter: Reporter,
    private readonly deps: RouterDeps,
    private readonly logger: Logger,
  ) {
    this.h1 = {
      request: (ds) => this.dispatch(ds),
      clientError: (err: Http1ParseError, socket: net.Socket) => {
        // Only this connection is affected: the codec answered 400 (or 431, 408) and closes it.
        this.logger.debug('malformed request', { code: err.code, remote: socket.remoteAddress });
      },
      draining: () => this.draining,
    };
    this.h2 = http2.createServer({
      maxSessionMemory: 32,
      settings: { maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS },
    });
    this.h2.on('request', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
      // A client that opens and resets streams in a loop (rapid reset) sends the RST_STREAM in
      // the same read as the HEADERS: let nghttp2 process the rest of that read first, and skip
      // a stream that is already gone instead of routing it and opening an upstream request.
      setImmediate(() => {
        if (res.stream.destroyed || res.stream.closed) return;
        const ds = fromHttp2(req, res);
        const session = res.stream.session;
        if (session !== undefined) ds.security = this.sessionSecurity.get(session);
        this.dispatch(ds);
      });
    });
    this.h2.on('session', (session: http2.ServerHttp2Session) => {
      this.sessions.add(session);
      if (this.handing !== undefined) this.sessionSecurity.set(session, this.handing);
      this.trackPrematureResets(session);
      session.on('close', () => this.sessions.delete(session));
      session.on('error', () => undefined);
      if (this.draining) session.close();
    });
    this.server = net.createServer((socket) => this.onConnection(socket));
  }

  /** Closes a session whose streams are mostly reset before a response (premature-reset.ts). */
  private trackPrematureResets(session: http2.ServerHttp2Session): void {
    const tracker = new PrematureResetTracker();
    // The session's own 'stream' event: a stream reset in the same read is already destroyed
    // when node announces it (a tick after its HEADERS), and no longer knows its session.
    session.on('stream', (stream: http2.ServerHttp2Stream) => {
      const start = performance.now();
      const closed = () => {
        if (session.destroyed || !tracker.streamClosed(performance.now() - start, stream.headersSent)) return;
        this.deps.stats.countDownstream('downstream_rq_too_many_premature_resets');
        this.logger.debug('closing a connection with too many premature stream resets', {
          remote: session.socket?.remoteAddress,
        });
        session.destroy();
      };
      if (stream.destroyed || stream.closed) closed();
      else stream.once('close', closed);
    });
  }

  setResolver(resolver: TargetResolver): void {
    this.resolver = resolver;
  }

  async listen(host: string, port: number): Promise<number> {
    return listenOn(this.server, host, port);
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo | null)?.port ?? 0;
  }

  /**
   * Serves a connection accepted elsewhere: the outbound capture hands over connections whose
   * original destination selects this listener, and TLS listeners hand over decrypted sockets.
   */
  accept(socket: net.Socket): void {
    this.onConnection(socket);
  }

  private onConnection(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.setNoDelay(true);
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      const n = Math.min(chunk.length, H2_PREFACE.length);
      if (chunk.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) {
        // node creates the session (and emits 'session') inside this emit: it takes the
        // connection's security from here (node wraps the socket, so a mark on it is not seen).
        this.handing = connectionSecurity(socket);
        try {
          this.h2.emit('connection', new PrefixedSocket(socket, chunk));
        } finally {
          this.handing = undefined;
        }
        return;
      }
      const conn = new Http1ServerConnection(socket, this.h1);
      this.h1Connections.add(conn);
      socket.once('close', () => this.h1Connections.delete(conn));
      socket.resume();
      conn.feed(chunk);
    });
  }

  private dispatch(ds: Downstream): void {
    let target: RequestTarget;
    try {
      target = this.resolver(ds);
    } catch (err) {
      target = { kind: 'reply', reason: { kind: 'bad-request', detail: (err as Error).message } };
    }
    handleRequest(ds, target, this.reporter, this.deps).catch((err: unknown) => {
      this.logger.error('request handler failed', { error: (err as Error).message });
    });
  }

  /** Stops accepting; resolves once every connection has closed or `graceMs` passed. */
  async drain(graceMs = 30_000): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.h1Connections) c.drain();
    for (const s of this.sessions) s.close();
    const deadline = Date.now() + graceMs;
    while (this.sockets.size > 0 && Date.now() < deadline) {
      for (const c of this.h1Connections) c.drain();
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}
