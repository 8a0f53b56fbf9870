/**
 * Spans for requests through the proxy, as Envoy's HTTP connection manager makes them with its
 * OpenTelemetry tracer. One span per request for this hop: SERVER on ingress listeners (sidecar
 * inbound, gateways), CLIENT on egress (sidecar outbound); with spawn_upstream_span the hop's span
 * is SERVER and a CLIENT child (`router <cluster> egress`) covers the upstream request. Named by
 * the route's decorator, else `ingress` / `egress <host>`; an ingress span takes the operation a
 * caller's proxy propagated in `x-envoy-decorator-operation`. Tags are Envoy's (node_id, zone,
 * http.*, upstream_cluster, response_flags, peer.address, request/response size, guid:x-request-id,
 * component: proxy, error for 5xx) plus the configured custom tags.
 *
 * Unsampled requests build no span: only their context (sampled=0) is propagated.
 */
import { randomFillSync } from 'node:crypto';
import { SpanKind, SpanStatusCode, TraceFlags, type Attributes, type HrTime } from '@opentelemetry/api';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { Clock } from '../../core/clock.js';
import type { Random } from '../../core/random.js';
import type { RouteDecorator } from '../model/config.js';
import type { TracingConfig } from '../model/tracing-config.js';
import { decideSampling } from '../policy/trace-sampling.js';
import type { ClusterManager } from '../upstream/cluster-manager.js';
import type { OutgoingHeaders } from '../upstream/attempt.js';
import { flagsText } from '../connection-manager/response-flags.js';
import type { StreamInfo } from '../connection-manager/stream-info.js';
import { OtlpExporter, DEFAULT_LIMITS, type ExportLimits } from './otlp-exporter.js';
import { extractTraceContext, injectTraceContext, type IncomingTraceContext } from './propagation.js';
import { spanAttributes } from './span-attributes.js';

export const DECORATOR_HEADER = 'x-envoy-decorator-operation';
const SCOPE = Object.freeze({ name: 'trellis-proxy' });

export interface TracerDeps {
  clusters: ClusterManager;
  clock: Clock;
  random: Random;
  count(name: string): void;
  nodeId: string;
  zone: string;
  limits?: ExportLimits;
}

/** What the request handler knows when the request starts. */
export interface TraceStart {
  headers: Readonly<Record<string, string | string[] | undefined>>;
  scheme: string;
  authority: string;
}

export class ProxyTracer {
  private readonly exporters = new Map<string, { exporter: OtlpExporter; resource: Resource }>();

  constructor(private readonly deps: TracerDeps) {}

  /** The span of a request on a connection manager with `tracing`. */
  start(config: TracingConfig, req: TraceStart, info: StreamInfo): RequestSpan {
    const incoming = extractTraceContext(req.headers);
    const decision = decideSampling(
      {
        incoming: incoming?.sampled,
        clientTraceId: req.headers['x-client-trace-id'] !== undefined,
        forceTrace: req.headers['x-envoy-force-trace'] !== undefined,
      },
      { random: config.randomSampling, client: config.clientSampling, overall: config.overallSampling },
      this.deps.random,
    );
    return new RequestSpan(this, config, req, info, incoming, decision.sampled);
  }

  /** Hands a finished, sampled span to the exporter of its config. */
  report(config: TracingConfig, build: (resource: Resource) => ReadableSpan): void {
    const target = config.export;
    if (target.kind === 'none') return;
    const key = `${config.serviceName}\u0000${JSON.stringify(target)}`;
    let entry = this.exporters.get(key);
    if (!entry) {
      entry = {
        exporter: new OtlpExporter(target, this.deps, this.deps.limits ?? DEFAULT_LIMITS),
        resource: resourceFromAttributes({ 'service.name': config.serviceName }),
      };
      this.exporters.set(key, entry);
    }
    entry.exporter.add(build(entry.resource));
  }

  get node(): { id: string; zone: string } {
    return { id: this.deps.nodeId, zone: this.deps.zone };
  }

  wallNow(): number {
    return this.deps.clock.wallNow();
  }

  /** Spans waiting for export, over every collector (tests). */
  get queued(): number {
    let n = 0;
    for (const e of this.exporters.values()) n += e.exporter.queued;
    return n;
  }

  close(): void {
    for (const e of this.exporters.values()) e.exporter.close();
    this.exporters.clear();
  }
}

export class RequestSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly sampled: boolean;
  private decorator: RouteDecorator | undefined;
  /** The operation a caller's proxy sent (ingress only). */
  private readonly inheritedOperation: string | undefined;
  private upstream: { spanId: string; startWallMs: number } | undefined;
  private metadata: Readonly<Record<string, unknown>> | undefined;

  constructor(
    private readonly tracer: ProxyTracer,
    private readonly config: TracingConfig,
    private readonly req: TraceStart,
    private readonly info: StreamInfo,
    private readonly incoming: IncomingTraceContext | undefined,
    sampled: boolean,
  ) {
    this.sampled = sampled;
    this.traceId = incoming?.traceId ?? randomHex(16);
    this.spanId = randomHex(8);
    this.parentSpanId = incoming?.spanId;
    const op = config.operation === 'ingress' ? req.headers[DECORATOR_HEADER] : undefined;
    this.inheritedOperation = typeof op === 'string' && op !== '' ? op : undefined;
  }

  /**
   * Writes this hop's context onto the upstream request (W3C and B3), and the decorator header:
   * egress sends the route's operation on, ingress takes it away from the app.
   */
  inject(headers: OutgoingHeaders, decorator: RouteDecorator | undefined): void {
    this.decorator = decorator;
    let spanId = this.spanId;
    let parent = this.parentSpanId;
    if (this.config.spawnUpstreamSpan) {
      this.upstream = { spanId: randomHex(8), startWallMs: this.tracer.wallNow() };
      spanId = this.upstream.spanId;
      parent = this.spanId;
    }
    injectTraceContext(headers, {
      traceId: this.traceId,
      spanId,
      parentSpanId: parent,
      sampled: this.sampled,
      debug: this.incoming?.debug === true,
      traceState: this.incoming?.traceState,
    });
    if (this.config.operation === 'egress') {
      if (decorator?.propagate) headers[DECORATOR_HEADER] = decorator.operation;
    } else delete headers[DECORATOR_HEADER];
  }

  /** Dynamic metadata the HTTP filters wrote (for metadata custom tags). */
  setMetadata(metadata: Readonly<Record<string, unknown>>): void {
    this.metadata = metadata;
  }

  /** The request is over (info complete): the span (and its upstream child) goes to export. */
  finish(): void {
    if (!this.sampled) return;
    const info = this.info;
    const endWallMs = info.startWallMs + info.durationMs;
    const attrs = spanAttributes(this.config, this.tracer.node, this.req, info, this.metadata);
    const error = info.status === 0 || info.status >= 500;
    const server = this.config.operation === 'ingress' || this.config.spawnUpstreamSpan;
    const name = this.inheritedOperation ?? this.decorator?.operation ?? this.defaultName();
    const parent = this.parentSpanId;
    this.tracer.report(this.config, (resource) =>
      readable({
        name,
        kind: server ? SpanKind.SERVER : SpanKind.CLIENT,
        traceId: this.traceId,
        spanId: this.spanId,
        parentSpanId: parent,
        traceState: this.incoming?.traceState,
        startWallMs: info.startWallMs,
        endWallMs,
        attributes: attrs,
        error,
        resource,
      }),
    );
    const up = this.upstream;
    if (up === undefined) return;
    const upAttrs: Attributes = {
      component: 'proxy',
      'http.protocol': info.protocol,
      'http.status_code': String(info.status),
      response_flags: flagsText(info.flags),
      ...(info.upstreamCluster
        ? { upstream_cluster: info.upstreamCluster, 'upstream_cluster.name': info.upstreamCluster }
        : {}),
      ...(info.upstreamHost
        ? { upstream_address: info.upstreamHost, 'peer.address': info.upstreamHost }
        : {}),
      ...(info.attempts > 1 ? { 'retry.count': String(info.attempts - 1) } : {}),
      ...(error ? { error: 'true' } : {}),
    };
    this.tracer.report(this.config, (resource) =>
      readable({
        name: `router ${info.upstreamCluster ?? ''} egress`,
        kind: SpanKind.CLIENT,
        traceId: this.traceId,
        spanId: up.spanId,
        parentSpanId: this.spanId,
        traceState: this.incoming?.traceState,
        startWallMs: up.startWallMs,
        endWallMs,
        attributes: upAttrs,
        error,
        resource,
      }),
    );
  }

  private defaultName(): string {
    return this.config.operation === 'egress' ? `egress ${this.req.authority}` : 'ingress';
  }
}

interface SpanFields {
  name: string;
  kind: SpanKind;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  traceState: IncomingTraceContext['traceState'];
  startWallMs: number;
  endWallMs: number;
  attributes: Attributes;
  error: boolean;
  resource: Resource;
}

/** A finished span in the shape OpenTelemetry's OTLP serializer reads. */
function readable(f: SpanFields): ReadableSpan {
  const ctx = {
    traceId: f.traceId,
    spanId: f.spanId,
    traceFlags: TraceFlags.SAMPLED,
    ...(f.traceState ? { traceState: f.traceState } : {}),
  };
  const start = hrTime(f.startWallMs);
  const end = hrTime(Math.max(f.startWallMs, f.endWallMs));
  return {
    name: f.name,
    kind: f.kind,
    spanContext: () => ctx,
    ...(f.parentSpanId !== undefined
      ? {
          parentSpanContext: {
            traceId: f.traceId,
            spanId: f.parentSpanId,
            traceFlags: TraceFlags.SAMPLED,
            isRemote: true,
          },
        }
      : {}),
    startTime: start,
    endTime: end,
    duration: hrTime(Math.max(0, f.endWallMs - f.startWallMs)),
    status: f.error ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.UNSET },
    attributes: f.attributes,
    links: [],
    events: [],
    ended: true,
    resource: f.resource,
    instrumentationScope: SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

function hrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

// Trace and span ids from a pool refilled 4 KiB at a time (one system call per ~170 requests).
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

function randomHex(bytes: number): string {
  if (poolOffset + bytes > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  poolOffset += bytes;
  return pool.toString('hex', poolOffset - bytes, poolOffset);
}
