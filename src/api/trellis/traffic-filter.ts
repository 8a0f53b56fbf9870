/**
 * TrafficFilter (`trellis.io/v1alpha1`): one feature of one service's traffic, owned by one team
 * or system, patched onto the service's VirtualService and DestinationRule (the frame) by the
 * traffic-filter derivation (src/controllers/traffic-filter/). Zhihu's IstioFilter: the mesh
 * platform, a chaos system and the service's team each own their filters instead of editing one
 * VirtualService together.
 *
 * ```yaml
 * apiVersion: trellis.io/v1alpha1
 * kind: TrafficFilter
 * metadata: { name: reviews-chaos, namespace: shop }
 * spec:
 *   target:
 *     host: reviews          # a service host; short names resolve in the filter's namespace
 *     route: primary         # optional: only this named http route of the host's VirtualService
 *     subset: v2             # optional: only this subset of the host's DestinationRule
 *   owner: chaos             # free text: the team or system that owns the filter
 *   priority: 100            # optional, default 0: lower numbers apply first, higher ones win
 *   fault:                   # exactly one feature, in Istio's own field shape
 *     abort: { httpStatus: 503, percentage: { value: 10 } }
 * ```
 *
 * Features, each with Istio's shape (validated by the VirtualService/DestinationRule validators,
 * so errors read `spec.retries.attempts`):
 * - route features, onto every forwarding http route of the host's VirtualService (or the named
 *   one): `retries`, `timeout`, `fault`, `mirror` (with `mirrorPercentage`), `headers`,
 *   `corsPolicy`;
 * - DestinationRule features, onto its `trafficPolicy` (or the named subset's):
 *   `outlierDetection`, `connectionPool`, `loadBalancer`;
 * - `retryBudget`: the DestinationRule annotation `trellis.io/retry-budget`
 *   (`{budgetPercent, minRetryConcurrency}` or `off`);
 * - `rateLimit`: a local rate limit on the host (`{tokensPerFill, fillInterval, maxTokens}`,
 *   Envoy's token bucket), served as a RateLimit (mode local, side server); fillInterval is one
 *   of the RateLimit quota units (1s, 1m, 1h, 24h).
 */
import type {
  ConnectionPoolSettings,
  CorsPolicy,
  Destination,
  Headers,
  HTTPFaultInjection,
  HTTPRetry,
  LoadBalancerSettings,
  OutlierDetection,
  Percent,
} from '../networking/types.js';

export const TRAFFIC_FILTER_KIND = 'TrafficFilter';

/** The DestinationRule annotation a `retryBudget` filter sets (the retry budget convention). */
export const RETRY_BUDGET_ANNOTATION = 'trellis.io/retry-budget';

export interface TrafficFilterTarget {
  host: string;
  route?: string;
  subset?: string;
}

export interface RetryBudget {
  budgetPercent?: number;
  minRetryConcurrency?: number;
}

export interface LocalRateLimitBucket {
  tokensPerFill: number;
  /** `1s`, `1m`, `1h` or `24h`. */
  fillInterval: string;
  /** Bucket size; at least tokensPerFill (default tokensPerFill). */
  maxTokens?: number;
}

export interface TrafficFilterSpec {
  target: TrafficFilterTarget;
  owner: string;
  priority?: number;
  retries?: HTTPRetry;
  timeout?: string;
  fault?: HTTPFaultInjection;
  mirror?: Destination;
  mirrorPercentage?: Percent;
  headers?: Headers;
  corsPolicy?: CorsPolicy;
  outlierDetection?: OutlierDetection;
  connectionPool?: ConnectionPoolSettings;
  loadBalancer?: LoadBalancerSettings;
  retryBudget?: RetryBudget | 'off';
  rateLimit?: LocalRateLimitBucket;
}

/** Where a feature lands. */
export type FeatureFrame = 'route' | 'trafficPolicy' | 'annotation' | 'rateLimit';

/** Every feature a filter may patch, and where it lands. `mirrorPercentage` rides with `mirror`. */
export const TRAFFIC_FILTER_FEATURES = {
  retries: 'route',
  timeout: 'route',
  fault: 'route',
  mirror: 'route',
  headers: 'route',
  corsPolicy: 'route',
  outlierDetection: 'trafficPolicy',
  connectionPool: 'trafficPolicy',
  loadBalancer: 'trafficPolicy',
  retryBudget: 'annotation',
  rateLimit: 'rateLimit',
} as const satisfies Record<string, FeatureFrame>;

export type TrafficFilterFeature = keyof typeof TRAFFIC_FILTER_FEATURES;

export const FEATURE_NAMES = Object.keys(TRAFFIC_FILTER_FEATURES) as TrafficFilterFeature[];

/** The feature a validated spec patches. */
export function featureOf(spec: TrafficFilterSpec): TrafficFilterFeature | undefined {
  return FEATURE_NAMES.find((f) => spec[f] !== undefined && spec[f] !== null);
}

/** Default priority, as Istio's EnvoyFilter: 0. */
export const DEFAULT_PRIORITY = 0;

/** Quota units of the RateLimit kind a rateLimit filter becomes, by fill interval in ms. */
export const FILL_INTERVAL_UNITS: ReadonlyMap<number, 'second' | 'minute' | 'hour' | 'day'> = new Map([
  [1000, 'second'],
  [60_000, 'minute'],
  [3_600_000, 'hour'],
  [86_400_000, 'day'],
]);
