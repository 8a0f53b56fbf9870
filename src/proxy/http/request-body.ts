/**
 * A downstream request body that can be sent more than once, for retries, and to several
 * upstreams at a time, for mirroring. Chunks stream to every attached sink as they arrive and
 * are also kept, up to a limit, so a later attempt can replay them; past the limit the body is
 * no longer replayable and retries stop (as Envoy's buffer limit). Backpressure from the main
 * upstream pauses the downstream; a mirror never slows the real request down.
 */
import type { Readable, Writable } from 'node:stream';

interface Sink {
  stream: Writable;
  /** Mirrors ignore backpressure: a slow shadow must not slow the real request. */
  ignoreBackpressure: boolean;
}

export class ReplayableBody {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private started = false;
  private readonly sinks = new Set<Sink>();
  private replayableFlag: boolean;
  private waitingDrains = 0;
  bytesReceived = 0;

  constructor(
    private readonly source: Readable,
    private readonly limit: number,
  ) {
    this.replayableFlag = limit > 0;
  }

  /** True while every chunk received so far is still held. */
  get replayable(): boolean {
    return this.replayableFlag;
  }

  /**
   * Sends what has arrived so far to `stream`, then the rest as it arrives. Returns the detach
   * function, for an attempt that failed or was abandoned.
   */
  attach(stream: Writable, ignoreBackpressure = false): () => void {
    const sink: Sink = { stream, ignoreBackpressure };
    for (const c of this.chunks) stream.write(c);
    if (this.ended) {
      stream.end();
      return () => undefined;
    }
    this.sinks.add(sink);
    if (!this.started) {
      this.started = true;
      this.source.on('data', (chunk: Buffer) => this.onData(chunk));
      this.source.on('end', () => {
        this.ended = true;
        for (const s of this.sinks) s.stream.end();
        this.sinks.clear();
      });
    }
    if (this.waitingDrains === 0) this.source.resume();
    return () => void this.sinks.delete(sink);
  }

  private onData(chunk: Buffer): void {
    this.bytesReceived += chunk.length;
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
      if (!s.write(chunk) && !sink.ignoreBackpressure) {
        this.waitingDrains++;
        this.source.pause();
        s.once('drain', () => {
          if (--this.waitingDrains === 0) this.source.resume();
        });
      }
    }
  }
}
