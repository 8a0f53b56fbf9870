/**
 * Trellis's own resource kinds (`trellis.io/v1alpha1`). Field names are camelCase as written
 * in YAML; a value typed here has passed validation (validate-rate-limit.ts), so the fields it
 * requires are present.
 */
import type { StringMatch } from '../networking/types.js';

export const TRELLIS_GROUP = 'trellis.io';
export const TRELLIS_VERSIONS = ['v1alpha1'] as const;

/**
 * RateLimit: a quota on the requests that reach some hosts, enforced by the proxies.
 *
 * ```yaml
 * apiVersion: trellis.io/v1alpha1
 * kind: RateLimit
 * metadata: { name: page-show, namespace: shop }
 * spec:
 *   hosts: [page.shop.svc.cluster.local]  # short names resolve in the resource's namespace, as in Istio
 *   port: 80                              # optional: only this service port
 *   mode: global                          # local | global (default local)
 *   side: server                          # server | client (default server)
 *   shadow: false                         # true: count and report, never reject
 *   failureMode: open                     # mode: global only; open (default) | closed: when the
 *                                         # rate limit service cannot answer, pass or reject (500)
 *   limits:
 *   - name: show                          # DNS label, unique in the resource
 *     match:                              # optional; every condition given must hold
 *       path: { exact: /Page.Show }       # exact | prefix | regex (RE2)
 *       method: GET
 *       headers: { x-tier: { exact: free } }   # `{}` means "present"
 *       sourceLabels: { app: web }        # side: client only: which callers' proxies count
 *       sourceNamespace: web              # side: client only
 *     quota: { requests: 800, per: second, burst: 1000 }
 *     perKey: { header: x-user-id }       # mode: global only: one quota per distinct value
 * ```
 *
 * - `mode: local`: each proxy keeps its own token bucket (Envoy's local_ratelimit filter); the
 *   quota is per proxy. `mode: global`: every proxy asks the rate limit service (Envoy's
 *   ratelimit filter), and the quota is shared by all of them and all the listed hosts.
 * - `side: server`: the proxies beside the workloads serving the hosts count what arrives;
 *   `side: client`: the callers' proxies count what they send (and `sourceLabels` choose
 *   which callers).
 * - `perKey`: `{ header: NAME }` or `{ sourceIp: true }`. Only global: Envoy's local filter can
 *   only match descriptor values it was configured with verbatim, so it cannot make a new
 *   bucket for each user id it sees.
 */
export interface RateLimitSpec {
  hosts: string[];
  port?: number;
  mode?: RateLimitMode;
  side?: RateLimitSide;
  shadow?: boolean;
  /** Global only: what proxies do when the rate limit service does not answer in time. */
  failureMode?: RateLimitFailureMode;
  limits: RateLimitRule[];
}

export type RateLimitFailureMode = 'open' | 'closed';
export const RATE_LIMIT_FAILURE_MODES: readonly RateLimitFailureMode[] = ['open', 'closed'];

export type RateLimitMode = 'local' | 'global';
export type RateLimitSide = 'server' | 'client';
export type QuotaUnit = 'second' | 'minute' | 'hour' | 'day';

export const RATE_LIMIT_MODES: readonly RateLimitMode[] = ['local', 'global'];
export const RATE_LIMIT_SIDES: readonly RateLimitSide[] = ['server', 'client'];
export const QUOTA_UNITS: readonly QuotaUnit[] = ['second', 'minute', 'hour', 'day'];

export const QUOTA_UNIT_SECONDS: Readonly<Record<QuotaUnit, number>> = {
  second: 1,
  minute: 60,
  hour: 3600,
  day: 86_400,
};

export interface RateLimitRule {
  name: string;
  match?: RateLimitMatch;
  quota: Quota;
  perKey?: PerKey;
}

export interface RateLimitMatch {
  path?: StringMatch;
  /** An HTTP method, matched exactly (`GET`, `POST`; gRPC calls are `POST`). */
  method?: string;
  /** Header name (lower case) -> match; an empty object means the header is present. */
  headers?: Record<string, StringMatch | Record<string, never>>;
  sourceLabels?: Record<string, string>;
  sourceNamespace?: string;
}

export interface Quota {
  /** Requests allowed per unit, at least 1. */
  requests: number;
  per: QuotaUnit;
  /** Token bucket capacity (requests that may arrive at once); at least `requests`. */
  burst?: number;
}

export type PerKey = { header: string } | { sourceIp: true };

export const RATE_LIMIT_KIND = 'RateLimit';
