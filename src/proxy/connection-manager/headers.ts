/**
 * Header work on the request path: dropping hop-by-hop headers, applying Envoy header
 * mutations, and request id / trace context propagation (x-request-id, W3C traceparent, B3).
 */
import { randomFillSync, randomUUID } from 'node:crypto';
import type { HeaderMutation } from '../model/config.js';
import { HOP_BY_HOP, type HeaderMap, type OutHeaders } from './downstream.js';

/** A request's headers as they may go upstream (`te: trailers` kept for gRPC). */
export function forwardableHeaders(headers: HeaderMap): OutHeaders {
  const out = endToEnd(headers, true);
  // gRPC needs `te: trailers` end to end.
  if (headers.te === 'trailers') out.te = 'trailers';
  return out;
}

/** An upstream response's headers as they may go downstream. */
export function forwardableResponseHeaders(headers: HeaderMap): OutHeaders {
  return endToEnd(headers, false);
}

/**
 * The end-to-end headers: without the hop-by-hop ones (connection, keep-alive, transfer-encoding,
 * upgrade, ...) and those the sender named in its own Connection header (rare: usually
 * keep-alive/close), as Envoy's codecs drop them. A request also loses its pseudo-headers and
 * `Expect: 100-continue`, which is answered here (the codec sends 100 Continue once the body is
 * read): Envoy with proxy_100_continue false, its default.
 */
function endToEnd(headers: HeaderMap, request: boolean): OutHeaders {
  const out: OutHeaders = {};
  const connection = headers.connection;
  const listed = connection === undefined ? undefined : connectionListed(connection);
  for (const k in headers) {
    const v = headers[k];
    if (v === undefined || HOP_BY_HOP.has(k)) continue;
    if (listed !== undefined && listed.includes(k)) continue;
    if (request && (k.charCodeAt(0) === 0x3a /* : */ || (k === 'expect' && isContinue(v)))) continue;
    out[k] = v;
  }
  return out;
}

function isContinue(v: string | string[]): boolean {
  const s = Array.isArray(v) ? v.join(',') : v;
  return s.length === 12 && s.toLowerCase() === '100-continue';
}

function connectionListed(value: string | string[]): string[] {
  const out: string[] = [];
  for (const part of String(value).split(',')) {
    const t = part.trim().toLowerCase();
    if (t !== '') out.push(t);
  }
  return out;
}

/**
 * The request headers with the pseudo-headers route and header matchers see (`:path` with its
 * query, `:method`, `:authority`, `:scheme`), as in Envoy. Built as a literal and then copied
 * into: spreading a header map with computed keys costs ~40x more in V8 (measured, ~2.8 us).
 */
export function withPseudoHeaders(
  headers: HeaderMap,
  path: string,
  method: string,
  authority: string,
  scheme: string,
): HeaderMap {
  const out: HeaderMap = { ':path': path, ':method': method, ':authority': authority, ':scheme': scheme };
  for (const k in headers) out[k] = headers[k];
  return out;
}

/** Applies mutations in order; later ones see (and may overwrite) what earlier ones added. */
export function applyMutations(headers: OutHeaders, mutations: readonly HeaderMutation[]): void {
  for (const m of mutations) {
    for (const name of m.remove) delete headers[name];
    for (const h of m.add) {
      const existing = headers[h.key];
      if (h.onlyIfAbsent) {
        if (existing === undefined) headers[h.key] = h.value;
      } else if (h.append && existing !== undefined) {
        headers[h.key] = Array.isArray(existing) ? [...existing, h.value] : [existing, h.value];
      } else {
        headers[h.key] = h.value;
      }
    }
  }
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * Keeps or creates x-request-id, and continues the trace: a new span id for the hop to the
 * upstream, the caller's span as parent. A request with no trace context starts one in both
 * W3C and B3 form, so either kind of tracer downstream can join it.
 */
export function propagateRequestContext(headers: OutHeaders, generateRequestId: boolean): string {
  let requestId = first(headers['x-request-id']);
  if (!requestId && generateRequestId) {
    requestId = randomUUID();
    headers['x-request-id'] = requestId;
  }
  const spanId = randomHex(16);
  const tp = TRACEPARENT.exec(first(headers.traceparent) ?? '');
  const b3Trace = first(headers['x-b3-traceid']);
  if (tp) headers.traceparent = `${tp[1]}-${tp[2]}-${spanId}-${tp[4]}`;
  if (b3Trace) {
    const parent = first(headers['x-b3-spanid']);
    if (parent) headers['x-b3-parentspanid'] = parent;
    headers['x-b3-spanid'] = spanId;
  }
  if (!tp && !b3Trace) {
    const traceId = randomHex(32);
    headers.traceparent = `00-${traceId}-${spanId}-01`;
    headers['x-b3-traceid'] = traceId;
    headers['x-b3-spanid'] = spanId;
    headers['x-b3-sampled'] = '1';
  }
  return requestId ?? '';
}

// Trace and span ids come from a pool refilled 4 KiB at a time: one system call per ~170
// requests instead of a UUID (and its reformatting) per id.
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

function randomHex(chars: number): string {
  const bytes = chars / 2;
  if (poolOffset + bytes > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  poolOffset += bytes;
  return pool.toString('hex', poolOffset - bytes, poolOffset);
}

export function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
