/**
 * A hand-written gRPC server for exactly one method, RateLimitService/ShouldRateLimit, on
 * node:http2. Written by hand because it is the rate limit hot path: with @grpc/grpc-js the
 * service spends ~70 µs of CPU per unary call, with this ~35 µs, most of it inside node:http2
 * itself (bench/RESULTS.md, "Rate limit service"). Everything else stays on libraries.
 *
 * What it speaks (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md):
 * - POST with `content-type: application/grpc[+proto]`; anything else gets HTTP 415/405;
 * - one length-prefixed message per request (flag byte, 4-byte big-endian length), identity,
 *   gzip or deflate (`grpc-encoding`); responses are never compressed;
 * - `grpc-timeout` deadlines: DEADLINE_EXCEEDED when the decision is not ready in time;
 * - `grpc-status` / percent-encoded `grpc-message` trailers, or trailers-only for errors;
 * - any other path: UNIMPLEMENTED. A malformed frame or message: INTERNAL (as grpc-go answers
 *   for messages it cannot parse); an invalid request (empty domain): INVALID_ARGUMENT. Errors
 *   end that one stream; the connection and other calls carry on.
 */
import http2 from 'node:http2';
import zlib from 'node:zlib';
import type { AddressInfo, Socket } from 'node:net';
import { errorMessage, isTrellisError } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import type { RateLimitRequest, RateLimitResponse } from '../service.js';
import { decodeRateLimitRequest, encodeRateLimitResponse } from './rls-codec.js';

export const SHOULD_RATE_LIMIT_PATH = '/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit';

/** The gRPC status codes this server answers with. */
export const GrpcStatus = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

const ACCEPT_ENCODING = 'identity,deflate,gzip';
const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };
const RESPONSE_HEADERS = {
  ':status': 200,
  'content-type': 'application/grpc',
  'grpc-accept-encoding': ACCEPT_ENCODING,
};
const OK_TRAILERS = { 'grpc-status': '0' };
// No `date` header: gRPC does not use it, and formatting it costs ~3 µs per call.
const REPLY_OPTIONS = { waitForTrailers: true, sendDate: false };
const TRAILERS_ONLY_OPTIONS = { endStream: true, sendDate: false };

function sendOkTrailers(this: http2.ServerHttp2Stream): void {
  this.sendTrailers(OK_TRAILERS);
}

export interface FastRateLimitGrpcServerOptions {
  handler: (request: RateLimitRequest) => Promise<RateLimitResponse>;
  logger?: Logger;
  /** Largest request message accepted (gRPC's default: 4 MiB). */
  maxMessageBytes?: number;
}

/** `grpc-message` is percent-encoded: printable ASCII except '%' passes as is. */
export function encodeGrpcMessage(message: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(message)) return message;
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Milliseconds from a `grpc-timeout` value (`100m`, `2S`), undefined when absent, NaN when malformed. */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  return m ? Number(m[1]) * TIMEOUT_UNIT_MS[m[2]!]! : NaN;
}

class CallError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export class FastRateLimitGrpcServer {
  private readonly handler: FastRateLimitGrpcServerOptions['handler'];
  private readonly logger: Logger;
  readonly maxMessageBytes: number;
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private server: http2.Http2Server | undefined;

  constructor(options: FastRateLimitGrpcServerOptions) {
    this.handler = options.handler;
    this.logger = options.logger ?? silentLogger;
    this.maxMessageBytes = options.maxMessageBytes ?? 4 * 1024 * 1024;
  }

  async listen(host: string, port: number): Promise<number> {
    const server = http2.createServer({
      // Envoy multiplexes every rate limit call of a worker onto one connection.
      settings: { maxConcurrentStreams: 10_000 },
      maxSessionMemory: 64,
    });
    // Without TCP_NODELAY, the trailers (a second small write) wait for the client's delayed
    // ACK under Nagle's algorithm: tens of ms at low request rates.
    server.on('connection', (socket: Socket) => socket.setNoDelay(true));
    server.on('stream', (stream, headers) => this.onStream(stream, headers));
    server.on('session', (session) => {
      this.sessions.add(session);
      session.on('close', () => this.sessions.delete(session));
      session.on('error', (err) => this.logger.debug('gRPC connection failed', { error: errorMessage(err) }));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.logger.error('gRPC server failed', { error: errorMessage(err) }));
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  /** Stops accepting, sends GOAWAY, lets open calls finish for up to `graceMs`, then cuts the rest. */
  async close(graceMs = 2000): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sessions) s.close();
    const timer = setTimeout(() => {
      for (const s of this.sessions) s.destroy();
    }, graceMs);
    await closed;
    clearTimeout(timer);
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on('error', (err) => this.logger.debug('gRPC stream failed', { error: errorMessage(err) }));
    if (headers[':method'] !== 'POST') {
      stream.respond({ ':status': 405, allow: 'POST' }, { endStream: true });
      stream.resume();
      return;
    }
    if (!/^application\/grpc(?:$|[+;])/.test(headerValue(headers['content-type']) ?? '')) {
      stream.respond({ ':status': 415, 'content-type': 'text/plain' }, { endStream: true });
      stream.resume();
      return;
    }
    if (headers[':path'] !== SHOULD_RATE_LIMIT_PATH) {
      this.trailersOnly(stream, GrpcStatus.UNIMPLEMENTED, `unknown method ${String(headers[':path'])}`);
      stream.resume();
      return;
    }
    const encoding = headerValue(headers['grpc-encoding']) ?? 'identity';
    if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'deflate') {
      this.trailersOnly(stream, GrpcStatus.UNIMPLEMENTED, `message encoding ${encoding} is not supported`);
      stream.resume();
      return;
    }
    const timeoutMs = parseGrpcTimeout(headerValue(headers['grpc-timeout']));
    if (Number.isNaN(timeoutMs)) {
      this.trailersOnly(
        stream,
        GrpcStatus.INTERNAL,
        `malformed grpc-timeout ${String(headers['grpc-timeout'])}`,
      );
      stream.resume();
      return;
    }

    const call = new UnaryCall(this, stream, encoding);
    if (timeoutMs !== undefined) call.setDeadline(timeoutMs);
    stream.on('data', (chunk: Buffer) => call.onData(chunk));
    stream.on('end', () => call.onEnd());
  }

  /** Decodes a complete frame and runs the handler; every outcome ends in call.finish(). */
  dispatch(call: UnaryCall, body: Buffer): void {
    let message: RateLimitRequest;
    try {
      message = this.decodeFrame(body, call.encoding);
    } catch (err) {
      call.finish(err instanceof CallError ? err.status : GrpcStatus.INTERNAL, errorMessage(err));
      return;
    }
    let decision: Promise<RateLimitResponse>;
    try {
      decision = this.handler(message);
    } catch (err) {
      // A handler that throws instead of rejecting must not escape the stream's 'data' listener.
      decision = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    decision.then(
      (response) => call.finish(GrpcStatus.OK, '', encodeRateLimitResponse(response, true)),
      (err: unknown) => {
        const invalid = isTrellisError(err, 'TRELLIS_INVALID_ARGUMENT');
        if (!invalid) this.logger.error('ShouldRateLimit failed', { error: errorMessage(err) });
        call.finish(invalid ? GrpcStatus.INVALID_ARGUMENT : GrpcStatus.INTERNAL, errorMessage(err));
      },
    );
  }

  /** The request message out of exactly one gRPC frame. */
  decodeFrame(body: Buffer, encoding: string): RateLimitRequest {
    if (body.length < 5)
      throw new CallError(GrpcStatus.INTERNAL, 'request has no complete gRPC message frame');
    const flag = body[0];
    const length = body.readUInt32BE(1);
    if (flag !== 0 && flag !== 1) throw new CallError(GrpcStatus.INTERNAL, `bad gRPC frame flag ${flag}`);
    if (5 + length !== body.length) {
      throw new CallError(
        GrpcStatus.INTERNAL,
        5 + length < body.length
          ? 'a unary call must carry exactly one message'
          : 'gRPC message frame is shorter than its length prefix',
      );
    }
    if (length > this.maxMessageBytes) {
      throw new CallError(GrpcStatus.RESOURCE_EXHAUSTED, `request larger than ${this.maxMessageBytes} bytes`);
    }
    try {
      if (flag === 0) return decodeRateLimitRequest(body, 5, body.length);
      if (encoding === 'identity') throw new Error('compressed message without grpc-encoding');
      const raw = body.subarray(5);
      const options = { maxOutputLength: this.maxMessageBytes };
      const plain = encoding === 'gzip' ? zlib.gunzipSync(raw, options) : zlib.inflateSync(raw, options);
      return decodeRateLimitRequest(plain);
    } catch (err) {
      throw new CallError(GrpcStatus.INTERNAL, `cannot parse RateLimitRequest: ${errorMessage(err)}`);
    }
  }

  reply(stream: http2.ServerHttp2Stream, body: Buffer): void {
    stream.respond(RESPONSE_HEADERS, REPLY_OPTIONS);
    stream.once('wantTrailers', sendOkTrailers);
    stream.end(body);
  }

  trailersOnly(stream: http2.ServerHttp2Stream, status: number, message: string): void {
    if (stream.headersSent) {
      stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      return;
    }
    stream.respond(
      {
        ':status': 200,
        'content-type': 'application/grpc',
        'grpc-accept-encoding': ACCEPT_ENCODING,
        'grpc-status': String(status),
        'grpc-message': encodeGrpcMessage(message),
      },
      TRAILERS_ONLY_OPTIONS,
    );
  }
}

/**
 * One ShouldRateLimit call. It is dispatched as soon as its one message is complete, without
 * waiting for the client's END_STREAM (that saves a tick and ~5 µs per call); a byte arriving
 * after the message, before the answer went out, turns the answer into INTERNAL.
 */
class UnaryCall {
  private first: Buffer | undefined;
  private chunks: Buffer[] | undefined;
  private size = 0;
  private dispatched = false;
  private finished = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly server: FastRateLimitGrpcServer,
    private readonly stream: http2.ServerHttp2Stream,
    readonly encoding: string,
  ) {}

  setDeadline(ms: number): void {
    this.timer = setTimeout(() => this.finish(GrpcStatus.DEADLINE_EXCEEDED, 'deadline exceeded'), ms);
    this.stream.once('close', () => {
      // Cancelled by the client or the connection went away: nothing left to answer.
      this.finished = true;
      clearTimeout(this.timer);
    });
  }

  onData(chunk: Buffer): void {
    if (this.finished) return;
    if (this.dispatched) {
      this.finish(GrpcStatus.INTERNAL, 'a unary call must carry exactly one message');
      return;
    }
    this.size += chunk.length;
    if (this.size > this.server.maxMessageBytes + 5) {
      this.finish(GrpcStatus.RESOURCE_EXHAUSTED, `request larger than ${this.server.maxMessageBytes} bytes`);
      return;
    }
    if (this.first === undefined) this.first = chunk;
    else (this.chunks ??= [this.first]).push(chunk);
    const body = this.chunks ? Buffer.concat(this.chunks, this.size) : chunk;
    if (body.length >= 5 && body.readUInt32BE(1) + 5 <= body.length) {
      this.dispatched = true;
      this.server.dispatch(this, body);
    } else if (this.chunks) {
      this.chunks = [body];
      this.first = body;
    }
  }

  onEnd(): void {
    if (this.finished || this.dispatched) return;
    // END_STREAM before a complete message: decodeFrame names what is missing.
    this.dispatched = true;
    this.server.dispatch(this, this.first ?? Buffer.alloc(0));
  }

  finish(status: number, message: string, body?: Buffer): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    if (body) this.server.reply(stream, body);
    else this.server.trailersOnly(stream, status, message);
  }
}
