import type { Random } from '../../core/random.js';
import {
  denominatorOf,
  durationMs,
  fractionHits,
  fractionOf,
  invalid,
  unsupported,
  unwrap,
  type DurationConfig,
  type FractionalPercentConfig,
  type Wrapped,
} from './proto-values.js';
import {
  compileHeaderMatchers,
  headerValue,
  type HeaderMatcherConfig,
  type RequestHeaders,
} from './string-matcher.js';

export { fractionHits, runtimeFractionHits } from './proto-values.js';

/**
 * Envoy's HTTP fault filter (envoy.extensions.filters.http.fault.v3.HTTPFault): whether to delay
 * a request, and whether to abort it with an HTTP or gRPC status. A route's
 * typed_per_filter_config for the filter replaces the listener's config as a whole (Envoy does
 * not merge them), so the caller compiles both and passes the route one when it exists.
 *
 * Exports:
 *   compileFault(config: HttpFaultConfig, path): CompiledFault          throws on bad input
 *   CompiledFault.decide(input: FaultInput): FaultDecision
 *   interface FaultInput { headers; random; upstreamCluster?; activeFaults? }
 *   interface FaultDecision { delayMs?: number; abort?: { httpStatus?: number; grpcStatus?: number } }
 *   CompiledFault.maxActiveFaults: number | undefined   (the caller counts active faults)
 *   fractionHits(fp, random), runtimeFractionHits(rf, random, ifAbsent)   re-exported helpers
 *
 * Header-controlled faults (header_delay / header_abort) read x-envoy-fault-delay-request,
 * x-envoy-fault-abort-request, x-envoy-fault-abort-grpc-request, and the *-percentage headers,
 * which can only lower the configured percentage.
 */
export interface HttpFaultConfig {
  delay?: {
    fixed_delay?: DurationConfig;
    header_delay?: object | null;
    percentage?: FractionalPercentConfig | null;
  } | null;
  abort?: {
    http_status?: number | null;
    grpc_status?: number | null;
    header_abort?: object | null;
    percentage?: FractionalPercentConfig | null;
  } | null;
  upstream_cluster?: string | null;
  headers?: HeaderMatcherConfig[] | null;
  downstream_nodes?: string[] | null;
  max_active_faults?: Wrapped<number>;
  response_rate_limit?: unknown;
}

export interface FaultInput {
  headers: RequestHeaders;
  random: Random;
  /** The cluster the route sends to, checked against upstream_cluster. */
  upstreamCluster?: string;
  /** Faults in progress now, checked against max_active_faults. */
  activeFaults?: number;
}

export interface FaultDecision {
  delayMs?: number;
  abort?: { httpStatus?: number; grpcStatus?: number };
}

/** What a fault injects, in figures (for `trellis explain`); the decision is `decide`'s. */
export interface FaultSummary {
  delay?: { fixedMs?: number; fromHeader: boolean; percent: number };
  abort?: { httpStatus?: number; grpcStatus?: number; fromHeader: boolean; percent: number };
  /** upstream_cluster: the fault applies only to requests routed there. */
  upstreamCluster?: string;
}

export interface CompiledFault {
  readonly maxActiveFaults: number | undefined;
  readonly summary: FaultSummary;
  decide(input: FaultInput): FaultDecision;
}

/** The configured fraction, lowered by the request's percentage header when there is one. */
function effectiveFraction(
  fp: FractionalPercentConfig,
  headers: RequestHeaders,
  header: string,
): FractionalPercentConfig {
  const raw = headerValue(headers, header);
  if (raw === undefined || !/^\d+$/.test(raw.trim())) return fp;
  return { numerator: Math.min(fp.numerator ?? 0, Number(raw)), denominator: fp.denominator ?? 'HUNDRED' };
}

function intHeader(headers: RequestHeaders, name: string): number | undefined {
  const raw = headerValue(headers, name);
  if (raw === undefined || !/^\d+$/.test(raw.trim())) return undefined;
  return Number(raw);
}

export function compileFault(config: HttpFaultConfig, path = 'http_fault'): CompiledFault {
  if (config.response_rate_limit !== undefined && config.response_rate_limit !== null) {
    throw unsupported(`${path}.response_rate_limit`, 'response rate limiting is not supported');
  }
  const matches = compileHeaderMatchers(config.headers, `${path}.headers`);
  const nodes = config.downstream_nodes?.length ? new Set(config.downstream_nodes) : undefined;
  const cluster = config.upstream_cluster || undefined;
  const maxActive =
    config.max_active_faults === undefined || config.max_active_faults === null
      ? undefined
      : unwrap(config.max_active_faults, 0);

  let delay: ((headers: RequestHeaders, random: Random) => number | undefined) | undefined;
  if (config.delay) {
    const d = config.delay;
    const fp = d.percentage ?? {};
    denominatorOf(fp, `${path}.delay.percentage`);
    if (d.header_delay) {
      delay = (headers, random) => {
        const ms = intHeader(headers, 'x-envoy-fault-delay-request');
        if (ms === undefined) return undefined;
        return fractionHits(effectiveFraction(fp, headers, 'x-envoy-fault-delay-request-percentage'), random)
          ? ms
          : undefined;
      };
    } else if (d.fixed_delay) {
      const ms = durationMs(d.fixed_delay, 0);
      delay = (headers, random) =>
        fractionHits(effectiveFraction(fp, headers, 'x-envoy-fault-delay-request-percentage'), random)
          ? ms
          : undefined;
    } else {
      throw invalid(`${path}.delay`, 'delay needs fixed_delay or header_delay');
    }
  }

  let abort: ((headers: RequestHeaders, random: Random) => FaultDecision['abort']) | undefined;
  if (config.abort) {
    const a = config.abort;
    const fp = a.percentage ?? {};
    denominatorOf(fp, `${path}.abort.percentage`);
    let status: (headers: RequestHeaders) => FaultDecision['abort'];
    if (a.header_abort) {
      status = (headers) => {
        const grpc = intHeader(headers, 'x-envoy-fault-abort-grpc-request');
        if (grpc !== undefined) return { grpcStatus: grpc };
        const http = intHeader(headers, 'x-envoy-fault-abort-request');
        return http !== undefined && http >= 200 && http < 600 ? { httpStatus: http } : undefined;
      };
    } else if (a.http_status !== undefined && a.http_status !== null) {
      const http = a.http_status;
      if (http < 200 || http >= 600) throw invalid(`${path}.abort.http_status`, 'must be in [200, 600)');
      status = () => ({ httpStatus: http });
    } else if (a.grpc_status !== undefined && a.grpc_status !== null) {
      const grpc = a.grpc_status;
      status = () => ({ grpcStatus: grpc });
    } else {
      throw invalid(`${path}.abort`, 'abort needs http_status, grpc_status or header_abort');
    }
    abort = (headers, random) => {
      const s = status(headers);
      if (s === undefined) return undefined;
      return fractionHits(effectiveFraction(fp, headers, 'x-envoy-fault-abort-request-percentage'), random)
        ? s
        : undefined;
    };
  }

  const summary: FaultSummary = {};
  if (config.delay) {
    summary.delay = {
      fromHeader: Boolean(config.delay.header_delay),
      percent: percentOf(config.delay.percentage),
    };
    if (!config.delay.header_delay) summary.delay.fixedMs = durationMs(config.delay.fixed_delay, 0);
  }
  if (config.abort) {
    const a = config.abort;
    summary.abort = { fromHeader: Boolean(a.header_abort), percent: percentOf(a.percentage) };
    if (!a.header_abort && has(a.http_status)) summary.abort.httpStatus = a.http_status;
    else if (!a.header_abort && has(a.grpc_status)) summary.abort.grpcStatus = a.grpc_status;
  }
  if (cluster !== undefined) summary.upstreamCluster = cluster;
  return {
    maxActiveFaults: maxActive,
    summary: Object.freeze(summary),
    decide(input) {
      if (cluster !== undefined && input.upstreamCluster !== cluster) return {};
      if (nodes !== undefined) {
        const node = headerValue(input.headers, 'x-envoy-downstream-service-node');
        if (node === undefined || !nodes.has(node)) return {};
      }
      if (!matches(input.headers)) return {};
      if (maxActive !== undefined && (input.activeFaults ?? 0) >= maxActive) return {};
      const out: FaultDecision = {};
      const delayMs = delay?.(input.headers, input.random);
      if (delayMs !== undefined && delayMs > 0) out.delayMs = delayMs;
      const aborted = abort?.(input.headers, input.random);
      if (aborted !== undefined) out.abort = aborted;
      return out;
    },
  };
}

const has = <T>(v: T | null | undefined): v is T => v !== undefined && v !== null;

function percentOf(fp: FractionalPercentConfig | null | undefined): number {
  return Math.round(fractionOf(fp ?? {}) * 1_000_000) / 10_000;
}
