import { backoffDelay } from '../../core/backoff.js';
import type { Random } from '../../core/random.js';
import {
  durationMs,
  invalid,
  unsupported,
  unwrap,
  type DurationConfig,
  type Wrapped,
} from './proto-values.js';
import {
  compileHeaderMatchers,
  type HeaderMatcherConfig,
  type HeaderPredicate,
  type RequestHeaders,
} from './string-matcher.js';

/**
 * Envoy's route RetryPolicy, the one owner of every retry decision: which attempt outcomes are
 * retried, how many times, the jittered exponential back-off between attempts, whether the
 * request may be retried at all (retriable_request_headers) and the previous-hosts predicate.
 * The proxy's route converter compiles it (a field or condition it cannot honour is refused, so
 * the route config is NACKed rather than accepted and ignored) and the router's retry layer
 * (src/proxy/router/retry.ts) asks it.
 *
 * The decision follows Envoy's RetryStateImpl
 * (https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/router_filter#x-envoy-retry-on):
 * - a response carrying x-envoy-overloaded is never retried;
 * - a response carrying x-envoy-ratelimited is retried only under `envoy-ratelimited`, whatever
 *   its status;
 * - a reset (including a per-try timeout, which Envoy turns into a local reset) is retried under
 *   `reset`, `5xx` and `gateway-error`; a refused stream also under `refused-stream`; a connect
 *   failure also under `connect-failure`; any reset before the request started upstream also
 *   under `reset-before-request`.
 */
export interface RetryPolicyConfig {
  retry_on?: string | null;
  num_retries?: Wrapped<number>;
  per_try_timeout?: DurationConfig;
  per_try_idle_timeout?: DurationConfig;
  retry_back_off?: { base_interval?: DurationConfig; max_interval?: DurationConfig } | null;
  retriable_status_codes?: number[] | null;
  retriable_headers?: HeaderMatcherConfig[] | null;
  retriable_request_headers?: HeaderMatcherConfig[] | null;
  retry_host_predicate?: { name?: string | null; typed_config?: { type_url?: string } | null }[] | null;
  host_selection_retry_max_attempts?: number | string | null;
  retry_priority?: unknown;
  rate_limited_retry_back_off?: unknown;
  retry_options_predicates?: unknown[] | null;
}

/** How an attempt ended, as far as the retry decision cares. */
export type AttemptOutcome =
  | {
      kind: 'response';
      status: number;
      /** Response headers (lower-case names). */
      headers: RequestHeaders;
      /** grpc-status in the headers (a trailers-only response), when present. */
      grpcStatus?: number | undefined;
    }
  | {
      kind: 'reset';
      reason: ResetReason;
      /** The request head had been handed to the upstream connection. */
      requestStarted: boolean;
    };

/** Why an attempt ended without a response; `per-try-timeout` is Envoy's local reset. */
export type ResetReason = 'connect-failure' | 'remote-reset' | 'refused-stream' | 'per-try-timeout';

const GRPC_CODES: Record<string, number> = {
  cancelled: 1,
  'deadline-exceeded': 4,
  'resource-exhausted': 8,
  internal: 13,
  unavailable: 14,
};

// `http3-post-connect-failure` is left out: this proxy never speaks HTTP/3 upstream, so the
// condition could not be honoured as configured.
const HTTP_ON = new Set([
  '5xx',
  'gateway-error',
  'reset',
  'reset-before-request',
  'connect-failure',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'retriable-headers',
  'envoy-ratelimited',
]);

/** Every RetryPolicy field this proxy honours; any other set field is refused. */
const FIELDS = new Set([
  'retry_on',
  'num_retries',
  'per_try_timeout',
  'retry_back_off',
  'retriable_status_codes',
  'retriable_headers',
  'retriable_request_headers',
  'retry_host_predicate',
  'host_selection_retry_max_attempts',
]);

const PREVIOUS_HOSTS = 'envoy.retry_host_predicates.previous_hosts';
const PREVIOUS_HOSTS_TYPE =
  'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate';

export interface RetryPolicy {
  readonly retryOn: ReadonlySet<string>;
  readonly numRetries: number;
  readonly perTryTimeoutMs: number | undefined;
  readonly baseIntervalMs: number;
  readonly maxIntervalMs: number;
  /** retry_host_predicate previous_hosts: a retry avoids the hosts already tried. */
  readonly excludePreviousHosts: boolean;
  /**
   * host_selection_retry_max_attempts as the route asked; nothing reads it: the balancers skip excluded
   * hosts themselves, re-drawing up to twice the host count (policy/lb-host.ts firstAllowed), so
   * a retry lands on an untried host whenever one is healthy, as the bounded re-pick intends.
   */
  readonly hostSelectionMaxAttempts: number;
  /** Is this outcome one the policy retries (retry_on and the headers), retries left or not? */
  retriable(outcome: AttemptOutcome): boolean;
  /** Would this outcome be retried, with `retriesDone` retries already made? */
  shouldRetry(outcome: AttemptOutcome, retriesDone: number): boolean;
  /** The wait before retry number `retryNumber` (1-based). */
  backoffMs(retryNumber: number, random: Random): number;
  /** retriable_request_headers: a request that matches none of them is never retried. */
  requestAllowsRetry(requestHeaders: RequestHeaders): boolean;
}

function isSet(v: unknown): boolean {
  return v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0);
}

export function compileRetryPolicy(config: RetryPolicyConfig, path = 'retry_policy'): RetryPolicy {
  for (const [field, value] of Object.entries(config)) {
    if (FIELDS.has(field) || !isSet(value)) continue;
    throw unsupported(`${path}.${field}`, 'is not supported by this proxy');
  }
  const retryOn = new Set<string>();
  for (const raw of (config.retry_on ?? '').split(',')) {
    const token = raw.trim();
    if (token === '') continue;
    if (!HTTP_ON.has(token) && GRPC_CODES[token] === undefined) {
      throw unsupported(`${path}.retry_on`, `retry condition ${JSON.stringify(token)} is not supported`);
    }
    retryOn.add(token);
  }
  let excludePreviousHosts = false;
  (config.retry_host_predicate ?? []).forEach((p, i) => {
    const typeUrl = p.typed_config?.type_url;
    if (p.name === PREVIOUS_HOSTS || typeUrl === PREVIOUS_HOSTS_TYPE) excludePreviousHosts = true;
    else
      throw unsupported(
        `${path}.retry_host_predicate[${i}]`,
        `retry host predicate ${JSON.stringify(p.name ?? typeUrl ?? '')} is not supported`,
      );
  });
  const baseIntervalMs = durationMs(config.retry_back_off?.base_interval, 25);
  if (baseIntervalMs <= 0) throw invalid(`${path}.retry_back_off.base_interval`, 'must be greater than 0');
  const maxIntervalMs = durationMs(config.retry_back_off?.max_interval, baseIntervalMs * 10);
  if (maxIntervalMs < baseIntervalMs) {
    throw invalid(`${path}.retry_back_off.max_interval`, 'must not be less than base_interval');
  }
  const numRetries = unwrap(config.num_retries, 1);
  const statusCodes = new Set(config.retriable_status_codes ?? []);
  const retriableHeaders: HeaderPredicate[] = (config.retriable_headers ?? []).map((h, i) =>
    compileHeaderMatchers([h], `${path}.retriable_headers[${i}]`),
  );
  const requestHeaders = config.retriable_request_headers?.length
    ? config.retriable_request_headers.map((h, i) =>
        compileHeaderMatchers([h], `${path}.retriable_request_headers[${i}]`),
      )
    : undefined;
  const grpcCodes = new Set(
    [...retryOn].map((t) => GRPC_CODES[t]).filter((c): c is number => c !== undefined),
  );
  const perTry = durationMs(config.per_try_timeout, 0);
  const has = (t: string) => retryOn.has(t);
  const onAnyReset = has('reset') || has('5xx') || has('gateway-error');

  const matchesResponse = (
    status: number,
    headers: RequestHeaders,
    grpcStatus: number | undefined,
  ): boolean => {
    if (headers['x-envoy-overloaded'] !== undefined) return false;
    if (headers['x-envoy-ratelimited'] !== undefined) return has('envoy-ratelimited');
    if (has('5xx') && status >= 500 && status <= 599) return true;
    if (has('gateway-error') && (status === 502 || status === 503 || status === 504)) return true;
    if (has('retriable-4xx') && status === 409) return true;
    if (has('retriable-status-codes') && statusCodes.has(status)) return true;
    if (has('retriable-headers') && retriableHeaders.some((m) => m(headers))) return true;
    return grpcStatus !== undefined && grpcCodes.has(grpcStatus);
  };

  const matches = (o: AttemptOutcome): boolean => {
    if (o.kind === 'response') return matchesResponse(o.status, o.headers, o.grpcStatus);
    if (onAnyReset) return true;
    if (has('reset-before-request') && !o.requestStarted) return true;
    if (o.reason === 'refused-stream') return has('refused-stream');
    if (o.reason === 'connect-failure') return has('connect-failure');
    return false;
  };

  return {
    retryOn,
    numRetries,
    perTryTimeoutMs: perTry > 0 ? perTry : undefined,
    baseIntervalMs,
    maxIntervalMs,
    excludePreviousHosts,
    hostSelectionMaxAttempts: Math.max(1, Number(config.host_selection_retry_max_attempts ?? 1)),
    retriable: matches,
    shouldRetry: (outcome, retriesDone) => retriesDone < numRetries && matches(outcome),
    // Envoy's jittered exponential back-off: uniform in [0, base * 2^(n-1)), capped at max.
    backoffMs: (retryNumber, random) =>
      backoffDelay({ baseMs: baseIntervalMs, maxMs: maxIntervalMs }, Math.max(0, retryNumber - 1), random),
    requestAllowsRetry: (h) => requestHeaders === undefined || requestHeaders.some((m) => m(h)),
  };
}
