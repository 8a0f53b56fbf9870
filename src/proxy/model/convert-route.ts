/**
 * RouteConfiguration -> RouteTable. Implements Envoy's route matching inputs (prefix, path,
 * safe_regex, path_separated_prefix, headers, query parameters, case sensitivity, grpc) and the
 * route, redirect and direct_response actions; anything else is rejected with its path.
 */
import type { Problems } from '../../core/errors.js';
import { compileHashPolicies, type HashPolicyConfig } from '../policy/lb-hash-policy.js';
import { compileRetryPolicy, type RetryPolicyConfig } from '../policy/retry-policy.js';
import { totalWeight } from '../policy/weighted.js';
import { compileStickyCanary, STICKY_CANARY_METADATA, type StickyCanary } from '../policy/sticky-canary.js';
import type {
  ForwardAction,
  RedirectAction,
  RetryPolicy,
  Route,
  RouteAction,
  RouteTable,
  VirtualHost,
  WeightedTarget,
} from './config.js';
import {
  checkFields,
  compiled,
  compileRewriteRegex,
  durationMs,
  fieldSet,
  headerMutation,
  structToJson,
} from './convert-common.js';
import { convertPerFilterConfig } from './convert-http-filters.js';
import { convertMatch } from './convert-route-match.js';
import { convertRouteRateLimits, type RateLimitMsg } from './convert-rate-limits.js';
import { bool, u32 } from './convert-common.js';
import type {
  RedirectAction__Output,
  RetryPolicy__Output,
  Route__Output,
  RouteAction__Output,
  RouteConfiguration__Output,
  VirtualHost__Output,
} from '../../protocol/envoy-types.js';

const HEADER_LISTS = [
  'request_headers_to_add',
  'request_headers_to_remove',
  'response_headers_to_add',
  'response_headers_to_remove',
];
const RC_FIELDS = fieldSet(
  'name',
  'virtual_hosts',
  'validate_clusters',
  'max_direct_response_body_size_bytes',
  ...HEADER_LISTS,
);
const VH_FIELDS = fieldSet(
  'name',
  'domains',
  'routes',
  'retry_policy',
  'include_request_attempt_count',
  'typed_per_filter_config',
  ...HEADER_LISTS,
);
const ROUTE_FIELDS = fieldSet(
  'name',
  'match',
  'route',
  'redirect',
  'direct_response',
  'decorator',
  'metadata',
  'typed_per_filter_config',
  ...HEADER_LISTS,
);
const MIRROR_FIELDS = fieldSet('cluster', 'runtime_fraction', 'trace_sampled');
const ACTION_FIELDS = fieldSet(
  'cluster',
  'weighted_clusters',
  'prefix_rewrite',
  'regex_rewrite',
  'host_rewrite_literal',
  'host_rewrite_header',
  'timeout',
  'idle_timeout',
  'retry_policy',
  'hash_policy',
  'request_mirror_policies',
  'rate_limits',
  // grpc_timeout_header_max / max_grpc_timeout: the grpc-timeout header sets the route timeout.
  'max_stream_duration',
  'max_grpc_timeout',
  'cluster_not_found_response_code',
);
/** Envoy's default route timeout. */
export const DEFAULT_ROUTE_TIMEOUT_MS = 15_000;

export function convertRouteConfiguration(
  msg: RouteConfiguration__Output,
  path: string,
  problems: Problems,
): RouteTable | undefined {
  const name = msg.name ?? '';
  if (name === '') problems.error(`${path}.name`, 'must be non-empty');
  checkFields(msg, path, RC_FIELDS, problems);
  const virtualHosts = (msg.virtual_hosts ?? []).map((vh, i) =>
    convertVirtualHost(vh, `${path}.virtual_hosts[${i}]`, problems),
  );
  const seen = new Map<string, string>();
  virtualHosts.forEach((vh, i) => {
    for (const d of vh.domains) {
      const prev = seen.get(d);
      if (prev !== undefined) {
        problems.error(
          `${path}.virtual_hosts[${i}].domains`,
          `domain ${JSON.stringify(d)} is also in virtual host ${JSON.stringify(prev)}`,
        );
      }
      seen.set(d, vh.name);
    }
  });
  if (!problems.ok) return undefined;
  return Object.freeze({
    name,
    virtualHosts: Object.freeze(virtualHosts),
    requestHeaders: headerMutation(
      msg.request_headers_to_add,
      msg.request_headers_to_remove,
      `${path}.request_headers_to_add`,
      problems,
    ),
    responseHeaders: headerMutation(
      msg.response_headers_to_add,
      msg.response_headers_to_remove,
      `${path}.response_headers_to_add`,
      problems,
    ),
  });
}

function convertVirtualHost(vh: VirtualHost__Output, path: string, problems: Problems): VirtualHost {
  checkFields(vh, path, VH_FIELDS, problems);
  const domains = (vh.domains ?? []).map((d) => d.toLowerCase());
  if (domains.length === 0) problems.error(`${path}.domains`, 'at least one domain is required');
  domains.forEach((d, i) => {
    if (d !== '*' && d.indexOf('*') !== d.lastIndexOf('*'))
      problems.error(`${path}.domains[${i}]`, 'at most one wildcard is allowed');
    else if (d.length > 1 && d.includes('*') && !d.startsWith('*') && !d.endsWith('*')) {
      problems.error(`${path}.domains[${i}]`, 'a wildcard must be at the start or the end');
    }
  });
  const retry = vh.retry_policy ? retryPolicy(vh.retry_policy, `${path}.retry_policy`, problems) : undefined;
  return Object.freeze({
    name: vh.name ?? '',
    domains: Object.freeze(domains),
    routes: Object.freeze(
      (vh.routes ?? []).map((r, i) => convertRoute(r, `${path}.routes[${i}]`, problems, retry)),
    ),
    perFilter: convertPerFilterConfig(
      vh.typed_per_filter_config,
      `${path}.typed_per_filter_config`,
      problems,
    ),
    requestHeaders: headerMutation(
      vh.request_headers_to_add,
      vh.request_headers_to_remove,
      `${path}.request_headers_to_add`,
      problems,
    ),
    responseHeaders: headerMutation(
      vh.response_headers_to_add,
      vh.response_headers_to_remove,
      `${path}.response_headers_to_add`,
      problems,
    ),
    retry,
  });
}

function convertRoute(
  r: Route__Output,
  path: string,
  problems: Problems,
  vhRetry: RetryPolicy | undefined,
): Route {
  checkFields(r, path, ROUTE_FIELDS, problems);
  const match = convertMatch(r.match ?? {}, `${path}.match`, problems);
  let action: RouteAction;
  if (r.route !== undefined) {
    const forward = forwardAction(r.route, `${path}.route`, problems, vhRetry);
    const sticky = stickyCanary(r, path, problems);
    if (sticky !== undefined) forward.sticky = sticky;
    action = forward;
  } else if (r.redirect !== undefined) action = redirectAction(r.redirect, `${path}.redirect`, problems);
  else if (r.direct_response !== undefined) {
    const body = r.direct_response.body;
    action = {
      kind: 'direct',
      status: r.direct_response.status ?? 200,
      body: body?.inline_string ?? body?.inline_bytes?.toString('utf8') ?? '',
    };
    if (action.status < 200 || action.status > 599)
      problems.error(`${path}.direct_response.status`, 'must be in 200-599');
  } else {
    problems.error(
      path,
      'expected one of route, redirect, direct_response (filter_action and non_forwarding_action are not supported)',
    );
    action = { kind: 'direct', status: 500, body: '' };
  }
  return Object.freeze({
    name: r.name ?? '',
    match,
    action: Object.freeze(action),
    perFilter: convertPerFilterConfig(r.typed_per_filter_config, `${path}.typed_per_filter_config`, problems),
    requestHeaders: headerMutation(
      r.request_headers_to_add,
      r.request_headers_to_remove,
      `${path}.request_headers_to_add`,
      problems,
    ),
    responseHeaders: headerMutation(
      r.response_headers_to_add,
      r.response_headers_to_remove,
      `${path}.response_headers_to_add`,
      problems,
    ),
    ...(r.decorator?.operation
      ? {
          decorator: Object.freeze({
            operation: r.decorator.operation,
            propagate: bool(r.decorator.propagate, true),
          }),
        }
      : {}),
  });
}

function forwardAction(
  a: RouteAction__Output,
  path: string,
  problems: Problems,
  vhRetry: RetryPolicy | undefined,
): ForwardAction {
  checkFields(a, path, ACTION_FIELDS, problems);
  let targets: WeightedTarget[] = [];
  if (a.cluster !== undefined) {
    if (a.cluster === '') problems.error(`${path}.cluster`, 'must be non-empty');
    targets = [{ cluster: a.cluster, weight: 1, requestHeaders: NO_MUTATION, responseHeaders: NO_MUTATION }];
  } else if (a.weighted_clusters !== undefined) {
    const wpath = `${path}.weighted_clusters.clusters`;
    targets = (a.weighted_clusters.clusters ?? []).map((c, i) => ({
      cluster: c.name ?? '',
      weight: u32(c.weight, 0),
      requestHeaders: headerMutation(
        c.request_headers_to_add,
        c.request_headers_to_remove,
        `${wpath}[${i}].request_headers_to_add`,
        problems,
      ),
      responseHeaders: headerMutation(
        c.response_headers_to_add,
        c.response_headers_to_remove,
        `${wpath}[${i}].response_headers_to_add`,
        problems,
      ),
    }));
    if (targets.length === 0) problems.error(wpath, 'at least one cluster is required');
    targets.forEach((t, i) => {
      if (t.cluster === '') problems.error(`${wpath}[${i}].name`, 'must be non-empty');
    });
  } else {
    problems.error(path, 'expected cluster or weighted_clusters (cluster_header is not supported)');
  }
  const total = totalWeight(targets);
  if (targets.length > 0 && total === 0) problems.error(`${path}.weighted_clusters`, 'the weights sum to 0');
  const mirrors: ForwardAction['mirrors'][number][] = [];
  const out: ForwardAction = {
    kind: 'forward',
    mirrors,
    targets: Object.freeze(targets),
    totalWeight: total,
    timeoutMs: durationMs(a.timeout, DEFAULT_ROUTE_TIMEOUT_MS),
  };
  (a.request_mirror_policies ?? []).forEach((m, i) => {
    const mpath = `${path}.request_mirror_policies[${i}]`;
    checkFields(m, mpath, MIRROR_FIELDS, problems);
    if (!m.cluster) problems.error(`${mpath}.cluster`, 'must be non-empty (cluster_header is not supported)');
    const mirror: ForwardAction['mirrors'][number] = { cluster: m.cluster ?? '' };
    if (m.runtime_fraction !== undefined) mirror.fraction = m.runtime_fraction;
    mirrors.push(mirror);
  });
  const notFound = { SERVICE_UNAVAILABLE: 503, NOT_FOUND: 404, INTERNAL_SERVER_ERROR: 500 }[
    a.cluster_not_found_response_code ?? 'SERVICE_UNAVAILABLE'
  ];
  if (notFound === undefined) problems.error(`${path}.cluster_not_found_response_code`, 'unknown code');
  else if (notFound !== 503) out.clusterNotFoundStatus = notFound;
  if (a.rate_limits !== undefined && a.rate_limits.length > 0) {
    out.rateLimits = convertRouteRateLimits(a.rate_limits as RateLimitMsg[], `${path}.rate_limits`, problems);
  }
  const grpcMax = a.max_stream_duration?.grpc_timeout_header_max ?? a.max_grpc_timeout;
  if (grpcMax !== undefined) out.grpcTimeoutHeaderMaxMs = durationMs(grpcMax, 0);
  // Replaces the connection manager's stream_idle_timeout for this route (0 turns it off).
  if (a.idle_timeout !== undefined) out.idleTimeoutMs = durationMs(a.idle_timeout, 0);
  if (a.max_stream_duration?.max_stream_duration !== undefined) {
    problems.warning(
      `${path}.max_stream_duration.max_stream_duration`,
      'not enforced; use the route timeout',
    );
  }
  if (a.prefix_rewrite !== undefined) out.prefixRewrite = a.prefix_rewrite;
  if (a.hash_policy !== undefined && a.hash_policy.length > 0) {
    const hashPolicies = a.hash_policy as HashPolicyConfig[];
    const hash = compiled(
      () => compileHashPolicies(hashPolicies, `${path}.hash_policy`),
      problems,
      undefined,
    );
    if (hash) out.hash = hash;
  }
  if (a.regex_rewrite !== undefined) {
    const regex = compileRewriteRegex(
      a.regex_rewrite.pattern?.regex,
      `${path}.regex_rewrite.pattern.regex`,
      problems,
    );
    if (regex) out.regexRewrite = { regex, substitution: a.regex_rewrite.substitution ?? '' };
  }
  if (a.host_rewrite_literal !== undefined) out.hostRewrite = a.host_rewrite_literal;
  if (a.host_rewrite_header !== undefined) {
    const header = a.host_rewrite_header.toLowerCase();
    if (header === '' || header.startsWith(':'))
      problems.error(`${path}.host_rewrite_header`, 'expected the name of a request header (such as host)');
    else out.hostRewriteHeader = header;
  }
  const retry = a.retry_policy ? retryPolicy(a.retry_policy, `${path}.retry_policy`, problems) : vhRetry;
  if (retry) out.retry = retry;
  return out;
}

const NO_MUTATION = Object.freeze({ add: [], remove: [] });

/** Route metadata under Trellis's sticky canary key; other metadata is for other readers. */
function stickyCanary(r: Route__Output, path: string, problems: Problems): StickyCanary | undefined {
  const struct = r.metadata?.filter_metadata?.[STICKY_CANARY_METADATA];
  if (struct === undefined) return undefined;
  const mpath = `${path}.metadata.filter_metadata["${STICKY_CANARY_METADATA}"]`;
  return compiled(() => compileStickyCanary(structToJson(struct), mpath), problems, undefined);
}

/** The retry policy's one owner compiles it; what it cannot honour NACKs the route config. */
function retryPolicy(p: RetryPolicy__Output, path: string, problems: Problems): RetryPolicy | undefined {
  return compiled(() => compileRetryPolicy(p as RetryPolicyConfig, path), problems, undefined);
}

const REDIRECT_CODES: Record<string, number> = {
  MOVED_PERMANENTLY: 301,
  FOUND: 302,
  SEE_OTHER: 303,
  TEMPORARY_REDIRECT: 307,
  PERMANENT_REDIRECT: 308,
};

function redirectAction(r: RedirectAction__Output, _path: string, _problems: Problems): RedirectAction {
  const out: RedirectAction = {
    kind: 'redirect',
    status: REDIRECT_CODES[r.response_code ?? 'MOVED_PERMANENTLY'] ?? 301,
    stripQuery: r.strip_query === true,
  };
  if (r.https_redirect) out.scheme = 'https';
  else if (r.scheme_redirect) out.scheme = r.scheme_redirect;
  if (r.host_redirect) out.host = r.host_redirect;
  if (r.port_redirect) out.port = r.port_redirect;
  if (r.path_redirect) out.path = r.path_redirect;
  if (r.prefix_rewrite !== undefined) out.prefixRewrite = r.prefix_rewrite;
  return out;
}
