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
 * Envoy's route RetryPolicy: which attempt outcomes are retried, how many times, the jittered
 * exponential back-off between attempts, and the retry host predicate. Plus the retry budget
 * arithmetic the circuit breaker uses.
 *
 * Exports:
 *   compileRetryPolicy(config: RetryPolicyConfig, path): RetryPolicy     throws on bad input
 *   interface AttemptOutcome { status?; grpcStatus?; headers?; reset?; connectFailure?;
 *                              refusedStream?; perTryTimeout?; resetBeforeRequest? }
 *   RetryPolicy.shouldRetry(outcome, retriesDone): boolean
 *   RetryPolicy.backoffMs(retryNumber (1-based), random): number
 *   RetryPolicy.requestAllowsRetry(requestHeaders): boolean   (retriable_request_headers)
 *   RetryPolicy fields: numRetries, perTryTimeoutMs?, perTryIdleTimeoutMs?, baseIntervalMs,
 *                       maxIntervalMs, excludePreviousHosts, hostSelectionMaxAttempts, retryOn
 *   retryBudgetLimit({ budgetPercent, minRetryConcurrency }, activeRequests): number
 *
 * `headers` in AttemptOutcome are the upstream response headers. The data path must only retry
 * before any of the response went downstream; that is its call, not this module's.
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

export interface AttemptOutcome {
  status?: number;
  grpcStatus?: number;
  headers?: RequestHeaders;
  reset?: boolean;
  connectFailure?: boolean;
  refusedStream?: boolean;
  perTryTimeout?: boolean;
  resetBeforeRequest?: boolean;
}

const GRPC_CODES: Record<string, number> = {
  cancelled: 1,
  'deadline-exceeded': 4,
  'resource-exhausted': 8,
  internal: 13,
  unavailable: 14,
};

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
  'http3-post-connect-failure',
]);

const PREVIOUS_HOSTS = 'envoy.retry_host_predicates.previous_hosts';
const PREVIOUS_HOSTS_TYPE =
  'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate';

export interface RetryPolicy {
  readonly retryOn: ReadonlySet<string>;
  readonly numRetries: number;
  readonly perTryTimeoutMs: number | undefined;
  readonly perTryIdleTimeoutMs: number | undefined;
  readonly baseIntervalMs: number;
  readonly maxIntervalMs: number;
  readonly excludePreviousHosts: boolean;
  readonly hostSelectionMaxAttempts: number;
  shouldRetry(outcome: AttemptOutcome, retriesDone: number): boolean;
  backoffMs(retryNumber: number, random: Random): number;
  requestAllowsRetry(requestHeaders: RequestHeaders): boolean;
}

export function compileRetryPolicy(config: RetryPolicyConfig, path = 'retry_policy'): RetryPolicy {
  const retryOn = new Set<string>();
  for (const raw of (config.retry_on ?? '').split(',')) {
    const token = raw.trim();
    if (token === '') continue;
    if (!HTTP_ON.has(token) && GRPC_CODES[token] === undefined) {
      throw unsupported(`${path}.retry_on`, `unknown retry_on condition ${JSON.stringify(token)}`);
    }
    retryOn.add(token);
  }
  if (config.retry_priority !== undefined && config.retry_priority !== null) {
    throw unsupported(`${path}.retry_priority`, 'retry priority plugins are not supported');
  }
  if (config.rate_limited_retry_back_off !== undefined && config.rate_limited_retry_back_off !== null) {
    throw unsupported(`${path}.rate_limited_retry_back_off`, 'rate limited retry back-off is not supported');
  }
  let excludePreviousHosts = false;
  (config.retry_host_predicate ?? []).forEach((p, i) => {
    const typeUrl = p.typed_config?.type_url;
    if (p.name === PREVIOUS_HOSTS || typeUrl === PREVIOUS_HOSTS_TYPE) excludePreviousHosts = true;
    else
      throw unsupported(
        `${path}.retry_host_predicate[${i}]`,
        `retry host predicate ${p.name ?? typeUrl ?? '?'} is not supported`,
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
    ? (config.retriable_request_headers ?? []).map((h, i) =>
        compileHeaderMatchers([h], `${path}.retriable_request_headers[${i}]`),
      )
    : undefined;
  const grpcCodes = new Set(
    [...retryOn].map((t) => GRPC_CODES[t]).filter((c): c is number => c !== undefined),
  );
  const perTry = durationMs(config.per_try_timeout, 0);
  const perTryIdle = durationMs(config.per_try_idle_timeout, 0);
  const has = (t: string) => retryOn.has(t);

  const matches = (o: AttemptOutcome): boolean => {
    const headers = o.headers ?? {};
    // An upstream that says it is overloaded must not be hit again (Envoy honours this header).
    if (headers['x-envoy-overloaded'] !== undefined) return false;
    if (o.connectFailure && (has('connect-failure') || has('5xx') || has('gateway-error') || has('reset')))
      return true;
    if (o.refusedStream && (has('refused-stream') || has('5xx') || has('gateway-error') || has('reset')))
      return true;
    if (o.resetBeforeRequest && has('reset-before-request')) return true;
    if ((o.reset || o.perTryTimeout) && (has('5xx') || has('gateway-error') || has('reset'))) return true;
    if (o.grpcStatus !== undefined && grpcCodes.has(o.grpcStatus)) return true;
    const s = o.status;
    if (s === undefined) return false;
    if (has('5xx') && s >= 500) return true;
    if (has('gateway-error') && (s === 502 || s === 503 || s === 504)) return true;
    if (has('retriable-4xx') && s === 409) return true;
    if (has('retriable-status-codes') && statusCodes.has(s)) return true;
    if (has('envoy-ratelimited') && headers['x-envoy-ratelimited'] !== undefined) return true;
    if (has('retriable-headers') && retriableHeaders.some((m) => m(headers))) return true;
    return false;
  };

  return {
    retryOn,
    numRetries,
    perTryTimeoutMs: perTry > 0 ? perTry : undefined,
    perTryIdleTimeoutMs: perTryIdle > 0 ? perTryIdle : undefined,
    baseIntervalMs,
    maxIntervalMs,
    excludePreviousHosts,
    hostSelectionMaxAttempts: Math.max(1, Number(config.host_selection_retry_max_attempts ?? 1)),
    shouldRetry: (outcome, retriesDone) => retriesDone < numRetries && matches(outcome),
    // Envoy's jittered exponential back-off: uniform in [0, base * 2^(n-1)), capped at max.
    backoffMs: (retryNumber, random) => {
      const ceiling = Math.min(baseIntervalMs * 2 ** Math.max(0, retryNumber - 1), maxIntervalMs);
      return Math.floor(random() * ceiling);
    },
    requestAllowsRetry: (h) => requestHeaders === undefined || requestHeaders.some((m) => m(h)),
  };
}

export interface RetryBudget {
  /** Percent of active requests that may be retries (Envoy default 20). */
  budgetPercent: number;
  /** Retries always allowed regardless of the active count (Envoy default 3). */
  minRetryConcurrency: number;
}

/** How many retries may be in flight at once under a budget. */
export function retryBudgetLimit(budget: RetryBudget, activeRequests: number): number {
  return Math.max(budget.minRetryConcurrency, Math.floor((budget.budgetPercent / 100) * activeRequests));
}
