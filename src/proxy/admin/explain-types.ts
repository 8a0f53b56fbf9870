/**
 * The JSON a proxy answers at its admin `POST /explain` (and the control plane passes on at
 * `GET /v1/explain`, and `trellis explain -o json` prints): what this proxy would do with a
 * request, from its live config and cluster state. Plain data, no functions.
 */

/** The request to explain: what a client of this proxy would send. */
export interface ExplainRequest {
  method: string;
  /** `http://host:port/path?query`, or `host:port/path`. */
  url: string;
  /** Lower-case names; `host` overrides the URL's authority, as a client's Host header would. */
  headers: Record<string, string>;
}

/** A failure the request would (or may) meet, as Envoy's response flag and in words. */
export interface ExplainFailure {
  /** Envoy's response flag (NR, UH, UO, ...); absent for a denial Envoy flags none for (RBAC). */
  flag?: string;
  status: number;
  /** certain: every such request fails here; possible: some do (a fault percentage, a weighted pick). */
  certainty: 'certain' | 'possible';
  /** What the flag means. */
  meaning: string;
  /** Why this request gets it, from the config and state. */
  reason: string;
  /** The change that would fix it. */
  fix: string;
}

export interface ExplainRouteCheck {
  name: string;
  matched: boolean;
  /** Why the route did not take the request (first condition missed). */
  reason?: string;
}

export type ExplainAction =
  | {
      kind: 'forward';
      targets: { cluster: string; weight: number; percent: number }[];
      timeoutMs: number;
      retry?: { numRetries: number; retryOn: string[]; perTryTimeoutMs?: number };
      mirrors: { cluster: string; percent: number }[];
      prefixRewrite?: string;
      hostRewrite?: string;
    }
  | { kind: 'redirect'; status: number; location: string }
  | { kind: 'direct'; status: number; body: string };

export interface ExplainPolicy {
  /** The HTTP filter's name in the listener (envoy.filters.http.fault, ...). */
  filter: string;
  kind: string;
  /** pass, deny (certain), may-deny (a percentage), delay, not-evaluated (needs a service call). */
  effect: 'pass' | 'deny' | 'may-deny' | 'delay' | 'not-evaluated' | 'not-reached';
  detail: string;
}

export interface ExplainEndpoint {
  address: string;
  /** healthy, degraded or unhealthy, as the load balancer sees it now. */
  health: string;
  /** Why not healthy: `eds UNHEALTHY`, `ejected by outlier detection until ...`. */
  reason?: string;
  /** ISO time the outlier ejection ends, when ejected. */
  ejectedUntil?: string;
  activeRequests: number;
  workload?: string;
}

export interface ExplainCluster {
  name: string;
  /** The share of requests that go here (weighted clusters), percent. */
  percent: number;
  found: boolean;
  type?: string;
  endpoints: ExplainEndpoint[];
  circuitBreakers?: {
    requests: { active: number; max: number };
    pendingRequests: { active: number; max: number };
    retries: { active: number; max: number };
  };
  /** Upstream connection failures counted for this cluster since the proxy started. */
  connectFailures?: number;
  members?: ExplainCluster[];
  notes: string[];
}

/** A request this proxy served recently and failed, from its ring of recent failures. */
export interface RecentFailure {
  requestId: string;
  time: string;
  method: string;
  authority: string;
  path: string;
  status: number;
  flags: string;
  upstreamCluster?: string;
  upstreamHost?: string;
  route?: string;
  details?: string;
  attempts: number;
  /** What the flags mean, one line each. */
  meanings: string[];
}

export interface Explanation {
  proxy: string;
  request: { method: string; authority: string; path: string; headers: Record<string, string> };
  listener?: { name: string; routeConfig?: string; statPrefix: string };
  virtualHost?: { name: string; domains: string[] };
  /** The routes of the virtual host tried in order, up to the one that matched. */
  routes: ExplainRouteCheck[];
  route?: { name: string; action: ExplainAction };
  policies: ExplainPolicy[];
  clusters: ExplainCluster[];
  outcome: {
    result: 'succeed' | 'fail' | 'may-fail';
    /** The response status when it is the proxy's own answer (redirect, direct response, failure). */
    status?: number;
    failures: ExplainFailure[];
  };
  notes: string[];
  /** With `requestId`: what the request actually got. */
  actual?: RecentFailure;
}
