/**
 * A downstream request body that can be sent more than once, for retries, and to several
 * upstreams at a time, for mirroring. Chunks stream to every attached sink as they arrive and
 * are also kept, up to a limit, so a later attempt can replay them; past the limit the body is
 * no longer replayable and retries stop (as Envoy's buffer limit). Backpressure from the main
 * upstream pauses the downstream; a mirror never slows the real request down.
 *
 * Sources and sinks are the few stream methods used here, so node streams (HTTP/2) and the
 * HTTP/1.1 codec's lighter objects (src/proxy/codec/http1) both fit without adapters.
 */
import type { GrpcMessageCounter } from '../policy/grpc-messages.js';

/** Where a body comes from: a node Readable fits. */
export interface BodySource {
  on(event: 'data', fn: (chunk: Buffer) => void): unknown;
  on(event: 'end', fn: () => void): unknown;
  pause(): unknown;
  resume(): unknown;
  /** True once the body has ended and every chunk was delivered (always, for an empty body). */
  readonly readableEnded: boolean;
  /** An HTTP/2 request (Http2ServerRequest): whether its HEADERS frame ended the stream. */
  readonly stream?: { readonly endAfterHeaders?: boolean };
}

/** Where a body goes: a node Writable fits. */
export interface BodySink {
  write(chunk: Buffer): boolean;
  end(): unknown;
  once(event: 'drain', fn: () => void): unknown;
  readonly destroyed: boolean;
}

const NOOP = (): void => undefined;

interface Sink {
  stream: BodySink;
  /** Mirrors ignore backpressure: a slow shadow must not slow the real request. */
  ignoreBackpressure: boolean;
  /** The source is paused until this sink drains (or is detached: a dead one never drains). */
  waiting: boolean;
}

export class ReplayableBody {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private started = false;
  private readonly sinks = new Set<Sink>();
  private replayableFlag: boolean;
  private waitingDrains = 0;
  private completeFns: (() => void)[] | undefined;
  bytesReceived = 0;
  /** Counts gRPC request messages (istio_request_messages_total), set for gRPC requests only. */
  grpcMessages: GrpcMessageCounter | undefined;
  /** Told of every chunk received (the stream idle timer). */
  activity: { touch(): void } | undefined;
  /** The request has no body at all (known before reading: no Content-Length, no chunks). */
  readonly empty: boolean;

  constructor(
    private readonly source: BodySource,
    private readonly limit: number,
  ) {
    this.replayableFlag = limit > 0;
    // An HTTP/2 request's Readable has not ended yet when it is handed over, even without a body.
    this.empty = source.readableEnded || source.stream?.endAfterHeaders === true;
  }

  /** The whole request body has been received from the client. */
  get complete(): boolean {
    return this.ended || this.empty || this.source.readableEnded;
  }

  /**
   * Runs `fn` once the whole body has been received (at once if it has): Envoy starts the route
   * and per-try timeouts only then, so a slow upload is not an upstream timeout.
   */
  whenComplete(fn: () => void): void {
    if (this.complete) fn();
    else (this.completeFns ??= []).push(fn);
  }

  /** True while every chunk received so far is still held. */
  get replayable(): boolean {
    return this.replayableFlag;
  }

  /**
   * Sends what has arrived so far to `stream`, then the rest as it arrives. Returns the detach
   * function, for an attempt that failed or was abandoned.
   */
  attach(stream: BodySink, ignoreBackpressure = false): () => void {
    // An empty (or already consumed) body: nothing to listen for.
    if (!this.started && !this.ended && this.complete) {
      this.ended = true;
      this.source.resume();
    }
    for (const c of this.chunks) stream.write(c);
    if (this.ended) {
      stream.end();
      return NOOP;
    }
    const sink: Sink = { stream, ignoreBackpressure, waiting: false };
    this.sinks.add(sink);
    if (!this.started) {
      this.started = true;
      this.source.on('data', (chunk: Buffer) => this.onData(chunk));
      this.source.on('end', () => {
        this.ended = true;
        for (const s of this.sinks) s.stream.end();
        this.sinks.clear();
        const fns = this.completeFns;
        this.completeFns = undefined;
        if (fns) for (const f of fns) f();
      });
    }
    if (this.waitingDrains === 0) this.source.resume();
    return () => {
      this.sinks.delete(sink);
      this.drained(sink);
    };
  }

  private drained(sink: Sink): void {
    if (!sink.waiting) return;
    sink.waiting = false;
    if (--this.waitingDrains === 0) this.source.resume();
  }

  private onData(chunk: Buffer): void {
    this.bytesReceived += chunk.length;
    this.grpcMessages?.feed(chunk);
    this.activity?.touch();
    if (this.replayableFlag) {
      this.buffered += chunk.length;
      if (this.buffered > this.limit) {
        this.replayableFlag = false;
        this.chunks = [];
      } else {
        this.chunks.push(chunk);
      }
    }
    for (const sink of this.sinks) {
      const s = sink.stream;
      if (s.destroyed) continue;
      if (!s.write(chunk) && !sink.ignoreBackpressure && !sink.waiting) {
        sink.waiting = true;
        this.waitingDrains++;
        this.source.pause();
        s.once('drain', () => this.drained(sink));
      }
    }
  }
}
