/**
 * Batched OTLP export of finished spans to a cluster of this proxy, over gRPC
 * (`opentelemetry.proto.collector.trace.v1.TraceService/Export`, HTTP/2) or HTTP/protobuf (POST
 * to the configured path, `application/x-protobuf`). Requests are encoded with OpenTelemetry's
 * ProtobufTraceSerializer and sent through the proxy's own upstream path: the host comes from the
 * cluster (EDS or static), with its circuit breakers, TLS (ISTIO_MUTUAL to a collector in the mesh)
 * and connection pools.
 *
 * A collector that is down or slow costs requests nothing: spans wait in a bounded queue (2048);
 * one export is in flight at a time; when the queue is full new spans are dropped and counted.
 * Counters, under Envoy's `tracing.opentelemetry.` prefix: spans_sent (handed to an export),
 * spans_dropped (queue full, or lost with a failed export), timer_flushed, and
 * http_reports_{sent,success,failed} / grpc_reports_{sent,success,failed} per export request.
 */
import { Readable } from 'node:stream';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { OtlpExportTarget } from '../model/tracing-config.js';
import type { ClusterManager } from '../upstream/cluster-manager.js';
import type { OutgoingHeaders, UpstreamResponse } from '../upstream/attempt.js';
import { sendUpstream } from '../upstream/upstream-request.js';
import { upstreamTlsFor } from '../upstream/transport-socket-match.js';
import { ReplayableBody } from '../connection-manager/request-body.js';

export const STAT_PREFIX = 'tracing.opentelemetry.';
export const GRPC_EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

export interface ExportLimits {
  /** Spans waiting for export at most; more are dropped. */
  maxQueue: number;
  /** Spans per export request; a full batch is sent at once. */
  batchSize: number;
  /** A partial batch waits this long at most. */
  flushIntervalMs: number;
}

export const DEFAULT_LIMITS: ExportLimits = { maxQueue: 2048, batchSize: 512, flushIntervalMs: 1000 };

export interface ExporterDeps {
  clusters: ClusterManager;
  clock: Clock;
  /** Adds one to an Envoy counter (IstioStats.countEnvoy). */
  count(name: string): void;
}

export class OtlpExporter {
  private queue: ReadableSpan[] = [];
  private inFlight = false;
  private timer: TimerHandle | undefined;
  private closed = false;

  constructor(
    private readonly target: Exclude<OtlpExportTarget, { kind: 'none' }>,
    private readonly deps: ExporterDeps,
    private readonly limits: ExportLimits = DEFAULT_LIMITS,
  ) {}

  /** Spans waiting (tests, /stats). */
  get queued(): number {
    return this.queue.length;
  }

  add(span: ReadableSpan): void {
    if (this.closed || this.queue.length >= this.limits.maxQueue) {
      this.count('spans_dropped');
      return;
    }
    this.queue.push(span);
    if (this.queue.length >= this.limits.batchSize) this.flush();
    else this.timer ??= this.deps.clock.setTimeout(() => this.onTimer(), this.limits.flushIntervalMs);
  }

  private onTimer(): void {
    this.timer = undefined;
    this.count('timer_flushed');
    this.flush();
  }

  /** Sends the next batch unless one is already on its way (it sends the rest when it ends). */
  flush(): void {
    if (this.inFlight || this.queue.length === 0) return;
    this.timer?.cancel();
    this.timer = undefined;
    const batch = this.queue.splice(0, this.limits.batchSize);
    this.inFlight = true;
    for (let i = 0; i < batch.length; i++) this.count('spans_sent');
    void this.send(batch).then((ok) => {
      this.inFlight = false;
      this.count(`${this.target.kind}_reports_${ok ? 'success' : 'failed'}`);
      if (!ok) for (let i = 0; i < batch.length; i++) this.count('spans_dropped');
      if (this.closed) return;
      if (this.queue.length >= this.limits.batchSize) this.flush();
      else if (this.queue.length > 0)
        this.timer ??= this.deps.clock.setTimeout(() => this.onTimer(), this.limits.flushIntervalMs);
    });
  }

  /** Stops exporting; what is still queued is dropped (counted). */
  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
    for (let i = 0; i < this.queue.length; i++) this.count('spans_dropped');
    this.queue = [];
  }

  private count(name: string): void {
    this.deps.count(STAT_PREFIX + name);
  }

  /** One export request; true when the collector accepted it. Never throws. */
  private async send(batch: ReadableSpan[]): Promise<boolean> {
    const cluster = this.deps.clusters.get(this.target.cluster);
    if (!cluster) return false;
    const claim = cluster.claim(undefined);
    if (typeof claim === 'string') return false;
    this.count(`${this.target.kind}_reports_sent`);
    try {
      const message = ProtobufTraceSerializer.serializeRequest(batch);
      if (!message) return false;
      const grpc = this.target.kind === 'grpc';
      const body = grpc
        ? grpcFrame(message)
        : Buffer.from(message.buffer, message.byteOffset, message.byteLength);
      const headers: OutgoingHeaders = grpc
        ? { 'content-type': 'application/grpc', te: 'trailers' }
        : { 'content-type': 'application/x-protobuf' };
      headers['content-length'] = String(body.length);
      if (grpc && this.target.timeoutMs > 0) headers['grpc-timeout'] = `${Math.ceil(this.target.timeoutMs)}m`;
      for (const [k, v] of this.target.kind === 'grpc' ? this.target.metadata : this.target.headers)
        headers[k] = v;
      const config = cluster.configFor(claim.endpoint);
      const attempt = sendUpstream(
        {
          endpoint: claim.endpoint,
          // gRPC needs HTTP/2 whatever the cluster says (Envoy's gRPC client requires it too).
          http2: grpc || config.http2,
          method: 'POST',
          path: this.target.kind === 'grpc' ? GRPC_EXPORT_PATH : this.target.path,
          authority: this.target.authority,
          headers,
          body: new ReplayableBody(Readable.from([body], { objectMode: false }), 0),
          connectTimeoutMs: config.connectTimeoutMs,
          maxConnections: config.circuitBreakers.DEFAULT.connections,
          tls: upstreamTlsFor(config, claim.endpoint),
        },
        this.deps.clusters.pools,
      );
      const timeout = this.target.timeoutMs > 0 ? this.target.timeoutMs : undefined;
      const outcome = await withTimeout(
        attempt.response.then((res) => accepted(res, grpc)),
        timeout,
        this.deps.clock,
      );
      if (outcome === 'timeout') attempt.cancel();
      return outcome === true;
    } catch {
      return false;
    } finally {
      claim.release();
    }
  }
}

function grpcFrame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.byteLength);
  out[0] = 0; // not compressed
  out.writeUInt32BE(message.byteLength, 1);
  out.set(message, 5);
  return out;
}

/** Reads the whole response; gRPC succeeds with grpc-status 0 (in trailers, or trailers-only). */
function accepted(res: UpstreamResponse, grpc: boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const ok = res.status >= 200 && res.status < 300;
    if (res.endStream) {
      resolve(ok && (!grpc || res.headers['grpc-status'] === '0'));
      return;
    }
    res.read({
      data: () => undefined,
      end: (trailers) => {
        const status = trailers?.['grpc-status'] ?? res.headers['grpc-status'];
        resolve(ok && (!grpc || status === '0'));
      },
      error: () => resolve(false),
    });
  });
}

async function withTimeout<T>(p: Promise<T>, ms: number | undefined, clock: Clock): Promise<T | 'timeout'> {
  if (ms === undefined) return p;
  let timer: TimerHandle | undefined;
  const expired = new Promise<'timeout'>((resolve) => {
    timer = clock.setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([p, expired]);
  } finally {
    timer?.cancel();
  }
}
