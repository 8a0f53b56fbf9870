import type { Clock } from '../../core/clock.js';
import type { Random } from '../../core/random.js';
import {
  newBucketState,
  refill,
  take,
  type TokenBucketSpec,
  type TokenBucketState,
} from '../../core/token-bucket.js';
import {
  durationMs,
  fractionOf,
  invalid,
  runtimeFractionHits,
  unsupported,
  unwrap,
  type DurationConfig,
  type RuntimeFractionalPercentConfig,
  type Wrapped,
} from './proto-values.js';

/**
 * Envoy's local rate limit HTTP filter (envoy.extensions.filters.http.local_ratelimit.v3):
 * one token bucket per config instance, filter_enabled / filter_enforced fractions (both 0%
 * when absent, as in Envoy), the configured status (429 by default) with x-envoy-ratelimited,
 * and x-ratelimit-* headers when enable_x_ratelimit_headers is DRAFT_VERSION_03.
 *
 * Exports:
 *   class LocalRateLimiter(config: LocalRateLimitConfig, { clock, random }, path)
 *     .check(): LocalRateLimitDecision
 *     .perConnection: boolean   local_rate_limit_per_downstream_connection: the caller keeps one
 *                               limiter per downstream connection instead of one per config
 *     .statPrefix: string
 *     .stats: { enabled, enforced, ok, rate_limited }   Envoy's counter names
 *   interface LocalRateLimitDecision { allow: boolean; status?: number; grpcResourceExhausted?: boolean;
 *                                       responseHeaders: [string, string][]; requestHeaders: [string, string][] }
 *
 * A route's typed_per_filter_config replaces the listener config and owns its own bucket: keep
 * one LocalRateLimiter per distinct config object. `descriptors` are refused (unsupported).
 */
export interface HeaderValueOptionConfig {
  header?: { key?: string | null; value?: string | null } | null;
  append?: Wrapped<boolean>;
  append_action?: string | null;
}

export interface LocalRateLimitConfig {
  stat_prefix?: string | null;
  status?: { code?: string | number | null } | null;
  token_bucket?: {
    max_tokens?: number | null;
    tokens_per_fill?: Wrapped<number>;
    fill_interval?: DurationConfig;
  } | null;
  filter_enabled?: RuntimeFractionalPercentConfig | null;
  filter_enforced?: RuntimeFractionalPercentConfig | null;
  request_headers_to_add_when_not_enforced?: HeaderValueOptionConfig[] | null;
  response_headers_to_add?: HeaderValueOptionConfig[] | null;
  descriptors?: unknown[] | null;
  stage?: number | null;
  local_rate_limit_per_downstream_connection?: boolean | null;
  enable_x_ratelimit_headers?: string | number | null;
  rate_limited_as_resource_exhausted?: boolean | null;
}

export interface LocalRateLimitDecision {
  allow: boolean;
  status?: number;
  /** Deny gRPC requests with RESOURCE_EXHAUSTED instead of UNAVAILABLE. */
  grpcResourceExhausted?: boolean;
  responseHeaders: [string, string][];
  requestHeaders: [string, string][];
}

/** envoy.type.v3.StatusCode names for the statuses a limiter can answer with. */
const STATUS_BY_NAME: Record<string, number> = {
  BadRequest: 400,
  Unauthorized: 401,
  PaymentRequired: 402,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  NotAcceptable: 406,
  ProxyAuthenticationRequired: 407,
  RequestTimeout: 408,
  Conflict: 409,
  Gone: 410,
  LengthRequired: 411,
  PreconditionFailed: 412,
  PayloadTooLarge: 413,
  URITooLong: 414,
  UnsupportedMediaType: 415,
  RangeNotSatisfiable: 416,
  ExpectationFailed: 417,
  MisdirectedRequest: 421,
  UnprocessableEntity: 422,
  Locked: 423,
  FailedDependency: 424,
  UpgradeRequired: 426,
  PreconditionRequired: 428,
  TooManyRequests: 429,
  RequestHeaderFieldsTooLarge: 431,
  InternalServerError: 500,
  NotImplemented: 501,
  BadGateway: 502,
  ServiceUnavailable: 503,
  GatewayTimeout: 504,
  HTTPVersionNotSupported: 505,
  VariantAlsoNegotiates: 506,
  InsufficientStorage: 507,
  LoopDetected: 508,
  NotExtended: 510,
  NetworkAuthenticationRequired: 511,
};

function headerPairs(options: HeaderValueOptionConfig[] | null | undefined): [string, string][] {
  return (options ?? [])
    .filter((o) => o.header?.key)
    .map((o) => [o.header!.key!.toLowerCase(), o.header!.value ?? '']);
}

/** The bucket as the next request finds it, without taking a token (`trellis explain`). */
export interface LocalRateLimitPeek {
  tokens: number;
  capacity: number;
  tokensPerFill: number;
  fillIntervalMs: number;
  /** Milliseconds until the next token when the bucket is empty (0 otherwise). */
  nextTokenMs: number;
  /** filter_enabled and filter_enforced, percent (0 when absent, as in Envoy). */
  enabledPercent: number;
  enforcedPercent: number;
  status: number;
}

export class LocalRateLimiter {
  readonly stats = { enabled: 0, enforced: 0, ok: 0, rate_limited: 0 };
  readonly perConnection: boolean;
  readonly statPrefix: string;
  private readonly spec: TokenBucketSpec;
  private state: TokenBucketState;
  private readonly status: number;
  private readonly xHeaders: boolean;
  private readonly responseHeaders: [string, string][];
  private readonly notEnforcedHeaders: [string, string][];
  private readonly clock: Clock;
  private readonly random: Random;

  constructor(
    private readonly config: LocalRateLimitConfig,
    deps: { clock: Clock; random: Random },
    path = 'local_ratelimit',
  ) {
    this.clock = deps.clock;
    this.random = deps.random;
    if (config.descriptors?.length)
      throw unsupported(`${path}.descriptors`, 'rate limit descriptors are not supported');
    const tb = config.token_bucket;
    if (!tb) throw invalid(`${path}.token_bucket`, 'token_bucket is required');
    const capacity = tb.max_tokens ?? 0;
    if (!Number.isInteger(capacity) || capacity < 1)
      throw invalid(`${path}.token_bucket.max_tokens`, 'must be at least 1');
    const tokensPerFill = unwrap(tb.tokens_per_fill, 1);
    if (tokensPerFill < 1) throw invalid(`${path}.token_bucket.tokens_per_fill`, 'must be at least 1');
    const fillIntervalMs = durationMs(tb.fill_interval, 0);
    // Envoy refuses fill intervals under 50ms: the refill timer would dominate.
    if (fillIntervalMs < 50)
      throw invalid(`${path}.token_bucket.fill_interval`, 'is required and must be at least 50ms');
    this.spec = { capacity, tokensPerFill, fillIntervalMs };
    this.state = newBucketState(this.spec, this.clock.now());
    const code = config.status?.code;
    const status =
      code === undefined || code === null ? 429 : typeof code === 'number' ? code : STATUS_BY_NAME[code];
    if (status === undefined || status < 400 || status >= 600) {
      throw invalid(`${path}.status.code`, `expected a 4xx or 5xx status, got ${JSON.stringify(code)}`);
    }
    this.status = status;
    const x = config.enable_x_ratelimit_headers ?? 'OFF';
    this.xHeaders = x === 'DRAFT_VERSION_03' || x === 1;
    this.responseHeaders = headerPairs(config.response_headers_to_add);
    this.notEnforcedHeaders = headerPairs(config.request_headers_to_add_when_not_enforced);
    this.perConnection = config.local_rate_limit_per_downstream_connection === true;
    this.statPrefix = config.stat_prefix ?? '';
  }

  peek(): LocalRateLimitPeek {
    const r = take(this.spec, this.state, this.clock.now());
    const percent = (rf: RuntimeFractionalPercentConfig | null | undefined) =>
      rf?.default_value ? Math.round(fractionOf(rf.default_value) * 1_000_000) / 10_000 : 0;
    return {
      tokens: Math.floor(refill(this.spec, this.state, this.clock.now()).tokens),
      capacity: this.spec.capacity,
      tokensPerFill: this.spec.tokensPerFill,
      fillIntervalMs: this.spec.fillIntervalMs,
      nextTokenMs: r.allowed ? 0 : r.resetMs,
      enabledPercent: percent(this.config.filter_enabled),
      enforcedPercent: percent(this.config.filter_enforced),
      status: this.status,
    };
  }

  check(): LocalRateLimitDecision {
    if (!runtimeFractionHits(this.config.filter_enabled, this.random, false)) {
      return { allow: true, responseHeaders: [], requestHeaders: [] };
    }
    this.stats.enabled++;
    const now = this.clock.now();
    const r = take(this.spec, this.state, now);
    this.state = r.state;
    const rateHeaders: [string, string][] = [];
    if (this.xHeaders) {
      const nextFillMs = this.state.updatedAt + this.spec.fillIntervalMs - now;
      rateHeaders.push(
        ['x-ratelimit-limit', String(this.spec.capacity)],
        ['x-ratelimit-remaining', String(r.remaining)],
        ['x-ratelimit-reset', String(Math.max(0, Math.ceil(nextFillMs / 1000)))],
      );
    }
    if (r.allowed) {
      this.stats.ok++;
      return { allow: true, responseHeaders: rateHeaders, requestHeaders: [] };
    }
    this.stats.rate_limited++;
    if (!runtimeFractionHits(this.config.filter_enforced, this.random, false)) {
      return { allow: true, responseHeaders: rateHeaders, requestHeaders: this.notEnforcedHeaders };
    }
    this.stats.enforced++;
    return {
      allow: false,
      status: this.status,
      grpcResourceExhausted: this.config.rate_limited_as_resource_exhausted === true,
      responseHeaders: [...this.responseHeaders, ['x-envoy-ratelimited', 'true'], ...rateHeaders],
      requestHeaders: [],
    };
  }
}
