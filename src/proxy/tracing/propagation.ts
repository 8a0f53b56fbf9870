/**
 * Trace context in and out of the proxy. In: W3C `traceparent`/`tracestate` first, then B3
 * single (`b3`), then B3 multi (`x-b3-*`), parsed and validated by OpenTelemetry's own
 * propagators. Out: always both W3C and B3 multi (`x-b3-traceid`, `x-b3-spanid`,
 * `x-b3-parentspanid`, `x-b3-sampled` or `x-b3-flags: 1` when debug), so a hop that speaks only
 * one of them continues the trace; `b3` is rewritten too when the request carried it, so no stale
 * single header contradicts the others.
 */
import {
  ROOT_CONTEXT,
  TraceFlags,
  trace,
  type SpanContext,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { B3InjectEncoding, B3Propagator } from '@opentelemetry/propagator-b3';

type InHeaders = Readonly<Record<string, string | string[] | undefined>>;
type OutHeaders = Record<string, string | string[]>;

/** What a request arrived with. */
export interface IncomingTraceContext {
  /** 32 hex; undefined when only a decision arrived (`b3: 0`). */
  traceId: string | undefined;
  /** The caller's span: the parent of this hop's span. */
  spanId: string | undefined;
  /** The decision it carried; undefined: none (B3 with the decision deferred to this hop). */
  sampled: boolean | undefined;
  /** B3 debug (`x-b3-flags: 1`, `b3: ...-d`): sampled, and kept as debug downstream. */
  debug: boolean;
  /** tracestate, as received (W3C only). */
  traceState: SpanContext['traceState'];
  format: 'w3c' | 'b3-single' | 'b3-multi';
}

/** The span whose context goes upstream. */
export interface OutgoingTraceContext {
  traceId: string;
  spanId: string;
  /** Its parent (x-b3-parentspanid); absent for a root span. */
  parentSpanId: string | undefined;
  sampled: boolean;
  debug: boolean;
  traceState: SpanContext['traceState'];
}

const getter: TextMapGetter<InHeaders> = {
  get: (carrier, key) => carrier[key],
  keys: (carrier) => Object.keys(carrier),
};
const setter: TextMapSetter<OutHeaders> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

const w3c = new W3CTraceContextPropagator();
const b3Multi = new B3Propagator({ injectEncoding: B3InjectEncoding.MULTI_HEADER });
const b3Extract = new B3Propagator();

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export function extractTraceContext(headers: InHeaders): IncomingTraceContext | undefined {
  if (headers.traceparent !== undefined) {
    const sc = trace.getSpanContext(w3c.extract(ROOT_CONTEXT, headers, getter));
    // A malformed traceparent is ignored (W3C: restart the trace), B3 may still carry one.
    if (sc)
      return {
        traceId: sc.traceId,
        spanId: sc.spanId,
        sampled: (sc.traceFlags & 1) === 1, // TraceFlags.SAMPLED
        debug: false,
        traceState: sc.traceState,
        format: 'w3c',
      };
  }
  const single = first(headers.b3);
  const hasMulti = headers['x-b3-traceid'] !== undefined;
  if (single === undefined && !hasMulti) {
    const sampledOnly = first(headers['x-b3-sampled']);
    return sampledOnly === '0' || sampledOnly === 'false' ? decisionOnly(false, 'b3-multi') : undefined;
  }
  // The B3 propagator tries the single header, then the multi headers.
  const sc = trace.getSpanContext(b3Extract.extract(ROOT_CONTEXT, headers, getter));
  if (!sc) {
    if (single === '0') return decisionOnly(false, 'b3-single');
    if (single === '1' || single === 'd') return decisionOnly(true, 'b3-single', single === 'd');
    return undefined;
  }
  const parts = single?.split('-');
  if (parts !== undefined && parts[1] === sc.spanId) {
    // `b3: trace-span` alone defers the decision to this hop.
    const state = parts[2];
    return {
      traceId: sc.traceId,
      spanId: sc.spanId,
      sampled: state === undefined ? undefined : state === '1' || state === 'd',
      debug: state === 'd',
      traceState: undefined,
      format: 'b3-single',
    };
  }
  const flags = first(headers['x-b3-flags']);
  const sampled = first(headers['x-b3-sampled']);
  const debug = flags === '1';
  return {
    traceId: sc.traceId,
    spanId: sc.spanId,
    sampled: debug ? true : sampled === undefined ? undefined : sampled === '1' || sampled === 'true',
    debug,
    traceState: undefined,
    format: 'b3-multi',
  };
}

function decisionOnly(
  sampled: boolean,
  format: IncomingTraceContext['format'],
  debug = false,
): IncomingTraceContext {
  return { traceId: undefined, spanId: undefined, sampled, debug, traceState: undefined, format };
}

/** Writes the context of `span` onto an upstream request's headers (see the file comment). */
export function injectTraceContext(headers: OutHeaders, span: OutgoingTraceContext): void {
  const sc: SpanContext = {
    traceId: span.traceId,
    spanId: span.spanId,
    traceFlags: span.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: false,
  };
  if (span.traceState) sc.traceState = span.traceState;
  const ctx = trace.setSpanContext(ROOT_CONTEXT, sc);
  // A tracestate the caller sent stays only if it goes with this trace.
  delete headers.tracestate;
  w3c.inject(ctx, headers, setter);
  b3Multi.inject(ctx, headers, setter);
  if (span.parentSpanId !== undefined) headers['x-b3-parentspanid'] = span.parentSpanId;
  else delete headers['x-b3-parentspanid'];
  if (span.debug) {
    // B3: debug implies accept; the sampled header is not sent with it.
    headers['x-b3-flags'] = '1';
    delete headers['x-b3-sampled'];
  } else delete headers['x-b3-flags'];
  if (headers.b3 !== undefined) {
    const state = span.debug ? 'd' : span.sampled ? '1' : '0';
    headers.b3 =
      `${span.traceId}-${span.spanId}-${state}` +
      (span.parentSpanId !== undefined ? `-${span.parentSpanId}` : '');
  }
}
