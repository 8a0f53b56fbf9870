/**
 * Envoy's CEL access log filter (`envoy.access_loggers.extension_filters.cel`, what Istio writes
 * for a Telemetry `accessLogging[].filter.expression`): the expression is parsed once per config
 * (at conversion: a bad one NACKs) and evaluated per finished stream over Envoy's attributes
 * (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/advanced/attributes):
 *
 *   request.{path, url_path, host, scheme, method, headers, useragent, referer, id, protocol,
 *            duration, time, size, query}
 *   response.{code, code_details, flags, grpc_status, size, duration (Trellis: = request.duration)}
 *   connection.{mtls, requested_server_name, tls_version, uri_san_peer_certificate,
 *               uri_san_local_certificate}
 *   source.{address, port}, upstream.{address, port, transport_failure_reason},
 *   xds.{cluster_name, route_name}
 *
 * An expression that fails to evaluate (an unknown attribute, a type mismatch) or yields
 * anything but `true` logs nothing; failures are counted, never thrown into the request.
 */
import { Duration } from '@marcbachmann/cel-js/evaluator';
import { compileConfigCel } from '../../core/cel-guard.js';
import type { ResponseFlag } from '../connection-manager/response-flags.js';
import type { StreamInfo } from '../connection-manager/stream-info.js';

/** Envoy's ResponseFlag bits (envoy/stream_info/stream_info.h), for `response.flags`. */
const FLAG_BITS: Readonly<Record<ResponseFlag, number>> = {
  UH: 0x2,
  UT: 0x4,
  UR: 0x10,
  UF: 0x20,
  UC: 0x40,
  UO: 0x80,
  NR: 0x100,
  DI: 0x200,
  FI: 0x400,
  RL: 0x800,
  UAEX: 0x1000,
  RLSE: 0x2000,
  DC: 0x4000,
  URX: 0x8000,
  SI: 0x10000,
  DPE: 0x40000,
  NC: 0x1000000,
  DF: 0x4000000,
};

export interface AccessLogFilter {
  readonly expression: string;
  /** True when the stream is to be logged; `onError` is told of a failed evaluation. */
  matches(info: StreamInfo, onError?: () => void): boolean;
  /** Evaluations that failed (each logged nothing). */
  readonly errors: number;
}

/**
 * Compiles `expression`; throws (with a one-line reason) when it is not CEL, is too large or uses
 * a comprehension (core/cel-guard.ts: it would run on every logged stream).
 */
export function compileAccessLogFilter(expression: string): AccessLogFilter {
  const evaluate = compileConfigCel(expression);
  let errors = 0;
  return {
    expression,
    get errors() {
      return errors;
    },
    matches(info, onError) {
      try {
        return evaluate(celAttributes(info)) === true;
      } catch {
        errors++;
        onError?.();
        return false;
      }
    },
  };
}

function splitHostPort(address: string | undefined): { address: string; port: bigint } | undefined {
  if (address === undefined || address === '') return undefined;
  const at = address.lastIndexOf(':');
  if (at < 0) return { address, port: 0n };
  const port = Number(address.slice(at + 1));
  return {
    address: address.slice(0, at).replace(/^\[|\]$/g, ''),
    port: Number.isInteger(port) ? BigInt(port) : 0n,
  };
}

function headerMap(h: StreamInfo['requestHeaders']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(',') : v;
  return out;
}

/** The attributes of one finished stream, as CEL values (ints as bigint, durations as Duration). */
export function celAttributes(info: StreamInfo): Record<string, unknown> {
  const flags = [...info.flags].reduce((bits, f) => bits | (FLAG_BITS[f] ?? 0), 0);
  const duration = Duration.fromMilliseconds(info.durationMs);
  const q = info.path.indexOf('?');
  const headers = headerMap(info.requestHeaders);
  const source = splitHostPort(info.downstreamRemote);
  const upstream = splitHostPort(info.upstreamHost);
  const sec = info.downstreamSecurity;
  return {
    request: {
      path: info.path,
      url_path: q < 0 ? info.path : info.path.slice(0, q),
      query: q < 0 ? '' : info.path.slice(q + 1),
      host: info.authority,
      scheme: headers['x-forwarded-proto'] ?? (sec !== undefined ? 'https' : 'http'),
      method: info.method,
      headers,
      useragent: info.userAgent,
      referer: headers.referer ?? '',
      id: info.requestId,
      protocol: info.protocol,
      duration,
      time: new Date(info.startWallMs),
      size: BigInt(info.bytesReceived),
      total_size: BigInt(info.bytesReceived),
    },
    response: {
      code: BigInt(info.status),
      code_details: info.responseCodeDetails ?? '',
      flags: BigInt(flags),
      grpc_status: info.grpcStatus === undefined ? 0n : BigInt(Number(info.grpcStatus) || 0),
      size: BigInt(info.bytesSent),
      total_size: BigInt(info.bytesSent),
      duration,
    },
    connection: {
      mtls: sec?.policy === 'mutual_tls',
      requested_server_name: sec?.sni ?? '',
      tls_version: sec?.tlsVersion ?? '',
      uri_san_peer_certificate: sec?.peerUriSan ?? '',
      uri_san_local_certificate: sec?.localUriSan ?? '',
    },
    source: { address: source?.address ?? '', port: source?.port ?? 0n },
    upstream: {
      address: upstream?.address ?? '',
      port: upstream?.port ?? 0n,
      transport_failure_reason: info.upstreamTransportFailureReason ?? '',
    },
    xds: { cluster_name: info.upstreamCluster ?? '', route_name: info.routeName ?? '' },
  };
}
