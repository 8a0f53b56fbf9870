/**
 * Compiled RateLimits -> Envoy config: the HTTP filters, per-route configuration and route
 * `rate_limits` actions, and the cluster of the rate limit service. Pure builders; which limits
 * apply where is decided in ratelimit.ts.
 *
 * mode: local (envoy.filters.http.local_ratelimit). The listener installs the filter with no
 * token bucket, so it does nothing by itself; buckets live in typed_per_filter_config:
 * - a limit without request conditions sets it on the virtual host: one bucket for the host;
 * - a limit with conditions gets dedicated routes placed ahead of the routes it narrows: one
 *   copy of each route it can overlap, with its match narrowed by the conditions and its action
 *   and decorations kept, carrying the bucket. Dedicated routes rather than descriptors because
 *   Envoy's local descriptors are consumed on top of a per-route default bucket (so every
 *   other request would need an "unlimited" bucket), cannot differ in shadow mode within one
 *   config, and our own proxy does not accept them. Known limits of this choice, both Envoy's
 *   per-route bucket semantics: a request counts against one local limit only (the first
 *   dedicated route it matches, else the host's), and a limit overlapping k of a
 *   VirtualService's routes keeps k buckets.
 *
 * mode: global (envoy.filters.http.ratelimit). Every route with a route action in the host's
 * virtual host gets one `rate_limits` entry per limit, whose actions produce exactly the
 * descriptor compile.ts describes (and the rate limit service's config mirrors): generic_key,
 * then header_value_match for request conditions (Envoy emits no descriptor when they do not
 * hold), then request_headers / remote_address for perKey. Routes that redirect or answer
 * directly have no route action and are not counted.
 */
import type {
  Cluster,
  HeaderMatcher,
  HttpFilter,
  LocalRateLimit,
  Route,
  RouteMatch,
  RouteRateLimit,
  RuntimeFractionalPercent,
  VirtualHost,
} from '../../protocol/envoy-types.js';
import { isIPAddress } from '../../api/hosts.js';
import type { StringMatch } from '../../api/networking/types.js';
import {
  RATE_LIMIT_DOMAIN,
  MATCHED_VALUE,
  type CompiledRateLimit,
  type RequestMatch,
} from '../../controllers/ratelimit/compile.js';
import { TYPE } from '../../protocol/protos.js';
import { DEFAULT_CONNECT_TIMEOUT_MS } from './cluster.js';
import { durationMs, FILTER, pack, socketAddress, typedFilter } from './envoy.js';
import { outboundCluster } from './names.js';
import { stringMatcher } from './route-match.js';

/** How long a proxy waits for the rate limit service before letting the request through. */
export const RATE_LIMIT_TIMEOUT_MS = 100;

/** Listener-level HTTP filters for the limits of one connection manager, local before global. */
export function rateLimitFilters(limits: readonly CompiledRateLimit[], serviceCluster: string): HttpFilter[] {
  const out: HttpFilter[] = [];
  if (limits.some((l) => l.mode === 'local')) {
    // No token bucket and filter_enabled at its 0% default: inert until a route configures it.
    out.push(
      typedFilter(FILTER.localRateLimit, TYPE.localRateLimit, { stat_prefix: 'http_local_rate_limiter' }),
    );
  }
  const global = limits.filter((l) => l.mode === 'global');
  if (global.length > 0) {
    out.push(
      typedFilter(FILTER.rateLimit, TYPE.rateLimit, {
        domain: RATE_LIMIT_DOMAIN,
        timeout: durationMs(RATE_LIMIT_TIMEOUT_MS),
        // Fail open unless a limit on this listener asks for closed: an unreachable rate limit
        // service must not take the mesh down with it. One filter serves every limit of the
        // listener, so one `failureMode: closed` among them closes it for all.
        failure_mode_deny: global.some((l) => l.failureModeDeny),
        rate_limit_service: {
          grpc_service: { envoy_grpc: { cluster_name: serviceCluster } },
          transport_api_version: 'V3',
        },
        enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
      }),
    );
  }
  return out;
}

const percent = (n: number, runtimeKey: string): RuntimeFractionalPercent => ({
  runtime_key: runtimeKey,
  default_value: { numerator: n, denominator: 'HUNDRED' },
});

/** The per-route (or per-virtual-host) local_ratelimit config carrying one limit's bucket. */
export function localRateLimitConfig(limit: CompiledRateLimit): LocalRateLimit {
  const { requests, burst, unitSeconds } = limit.quota;
  return {
    stat_prefix: limit.id,
    status: { code: 'TooManyRequests' },
    token_bucket: {
      max_tokens: burst ?? requests,
      tokens_per_fill: { value: requests },
      fill_interval: durationMs(unitSeconds * 1000),
    },
    filter_enabled: percent(100, 'local_rate_limit_enabled'),
    // Shadow: count (stats, x-ratelimit headers) but never reject.
    filter_enforced: percent(limit.shadow ? 0 : 100, 'local_rate_limit_enforced'),
    enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
  };
}

/** RE2 metacharacters, escaped so a literal path can sit inside a regex. */
function escapeRegex(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
}

// `:path` carries the query string; route path matching does not. These keep the two agreeing.
const QUERY = '(\\?.*)?';

/** The path condition as a `:path` header matcher (which sees the query string too). */
function pathHeader(path: StringMatch): HeaderMatcher {
  if ('prefix' in path) return { name: ':path', string_match: { prefix: path.prefix } };
  const regex = 'exact' in path ? escapeRegex(path.exact) + QUERY : `(?:${path.regex})${QUERY}`;
  return { name: ':path', string_match: { safe_regex: { regex } } };
}

/** Header matchers for a limit's request conditions; `withPath` adds the path as `:path`. */
export function conditionHeaders(match: RequestMatch, withPath: boolean): HeaderMatcher[] {
  const out: HeaderMatcher[] = [];
  if (withPath && match.path !== undefined) out.push(pathHeader(match.path));
  if (match.method !== undefined) out.push({ name: ':method', string_match: { exact: match.method } });
  for (const h of match.headers) {
    const sm = h.match === undefined ? undefined : stringMatcher(h.match);
    out.push(sm === undefined ? { name: h.name, present_match: true } : { name: h.name, string_match: sm });
  }
  return out;
}

const PATH_SPECIFIERS = [
  'prefix',
  'path',
  'safe_regex',
  'path_separated_prefix',
  'path_match_policy',
] as const satisfies readonly (keyof RouteMatch)[];

/**
 * Where the limit's path goes in a route match narrowed from `route`: a path specifier when the
 * two combine into one, `disjoint` when no request can match both, else `header` (a `:path`
 * header matcher beside the route's own path specifier).
 */
function placePath(base: RouteMatch, path: StringMatch): RouteMatch | 'disjoint' | 'header' {
  if (base.case_sensitive?.value === false) return 'header';
  const rPrefix = typeof base.prefix === 'string' ? base.prefix : undefined;
  const rPath = typeof base.path === 'string' ? base.path : undefined;
  if (rPrefix === undefined && rPath === undefined) return 'header';
  if ('exact' in path) {
    if (rPrefix !== undefined) return path.exact.startsWith(rPrefix) ? { path: path.exact } : 'disjoint';
    return rPath === path.exact ? { path: path.exact } : 'disjoint';
  }
  if ('prefix' in path) {
    if (rPath !== undefined) return rPath.startsWith(path.prefix) ? { path: rPath } : 'disjoint';
    const p = rPrefix as string;
    if (path.prefix.startsWith(p)) return { prefix: path.prefix };
    return p.startsWith(path.prefix) ? { prefix: p } : 'disjoint';
  }
  return rPrefix === '/' ? { safe_regex: { regex: path.regex } } : 'header';
}

/** `route`'s match narrowed to the requests the limit counts; undefined when none can match. */
export function narrowMatch(base: RouteMatch, match: RequestMatch): RouteMatch | undefined {
  const out: RouteMatch = { ...base };
  const headers = conditionHeaders(match, false);
  if (match.path !== undefined) {
    const placed = placePath(base, match.path);
    if (placed === 'disjoint') return undefined;
    if (placed === 'header') headers.unshift(pathHeader(match.path));
    else {
      for (const k of PATH_SPECIFIERS) delete out[k];
      Object.assign(out, placed);
    }
  }
  if (headers.length > 0) out.headers = [...(base.headers ?? []), ...headers];
  return out;
}

/** The `rate_limits` entry of a global limit: actions producing its descriptor, in order. */
export function globalRateLimitEntry(limit: CompiledRateLimit): RouteRateLimit {
  const actions: NonNullable<RouteRateLimit['actions']> = [];
  for (const step of limit.descriptor) {
    switch (step.action) {
      case 'generic_key':
        actions.push({ generic_key: { descriptor_value: step.value } });
        break;
      case 'header_value_match':
        actions.push({
          header_value_match: {
            descriptor_value: MATCHED_VALUE,
            expect_match: { value: true },
            headers: conditionHeaders(limit.match, true),
          },
        });
        break;
      case 'request_headers':
        actions.push({ request_headers: { header_name: step.header, descriptor_key: step.key } });
        break;
      case 'remote_address':
        actions.push({ remote_address: {} });
        break;
    }
  }
  return { actions };
}

/**
 * A virtual host with `limits` applied (see the file comment). `limits` are in precedence order
 * and all apply to this host; the input is not modified.
 */
export function applyRateLimits(vh: VirtualHost, limits: readonly CompiledRateLimit[]): VirtualHost {
  const routes = vh.routes ?? [];
  const out: VirtualHost = { ...vh };
  const local = limits.filter((l) => l.mode === 'local');
  const hostWide = local.find((l) => !l.conditional);
  if (hostWide !== undefined) {
    out.typed_per_filter_config = {
      ...vh.typed_per_filter_config,
      [FILTER.localRateLimit]: pack(TYPE.localRateLimit, localRateLimitConfig(hostWide)),
    };
  }
  const dedicated: Route[] = [];
  for (const limit of local.filter((l) => l.conditional)) {
    const config = pack(TYPE.localRateLimit, localRateLimitConfig(limit));
    for (const route of routes) {
      const match = narrowMatch(route.match ?? {}, limit.match);
      if (match === undefined) continue;
      dedicated.push({
        ...route,
        name: typeof route.name === 'string' ? `${limit.id}|${route.name}` : limit.id,
        match,
        typed_per_filter_config: {
          ...route.typed_per_filter_config,
          [FILTER.localRateLimit]: config,
        },
      });
    }
  }
  const global = limits.filter((l) => l.mode === 'global').map(globalRateLimitEntry);
  out.routes = [...dedicated, ...routes].map((r) =>
    global.length > 0 && r.route !== undefined ? { ...r, route: { ...r.route, rate_limits: global } } : r,
  );
  return out;
}

/** A cluster for the rate limit service when no visible service provides one (gRPC: HTTP/2). */
export function rateLimitServiceCluster(host: string, port: number): Cluster {
  const name = outboundCluster(host, port);
  return {
    name,
    type: isIPAddress(host) ? 'STATIC' : 'STRICT_DNS',
    connect_timeout: durationMs(DEFAULT_CONNECT_TIMEOUT_MS),
    lb_policy: 'ROUND_ROBIN',
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(host, port) } }] }],
    },
    typed_extension_protocol_options: {
      [FILTER.http2Options]: pack(TYPE.http2Options, {
        explicit_http_config: { http2_protocol_options: {} },
      }),
    },
  };
}
