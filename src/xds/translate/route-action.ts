/**
 * Istio HTTPRoute -> Envoy Route(s): one Envoy route per applicable match, all sharing the
 * action (route / redirect / direct_response) and its decorations (timeouts, retries, faults,
 * CORS, mirrors, header operations, rewrites, hash policy).
 */
import type {
  CorsPolicy as EnvoyCorsPolicy,
  DirectResponseAction,
  HeaderValueOption,
  HTTPFault,
  RedirectAction,
  RetryPolicy,
  Route,
  RouteAction,
  StringMatcher,
} from '../../protocol/envoy-types.js';
import { fqdn } from '../../api/hosts.js';
import { GRPC_STATUS_NAMES } from '../../api/networking/validate-http-route.js';
import { isAuthorityHeader } from '../../api/networking/validate-common.js';
import type {
  ConsistentHashLB,
  CorsPolicy,
  Destination,
  HTTPFaultInjection,
  HTTPRetry,
  HTTPRoute,
  Headers,
  Percent,
} from '../../api/networking/types.js';
import type { ServicePort } from '../../registry/types.js';
import { TYPE } from '../../protocol/protos.js';
import type { Flavor } from './cluster.js';
import {
  durationMs,
  durationOf,
  FILTER,
  fractionalPercent,
  pack,
  runtimeFraction,
  wrapU32,
} from './envoy.js';
import type { MergedRoute } from './http-routes.js';
import { outboundCluster } from './names.js';
import { matchApplies, routeMatch, stringMatcher, type MatchSite } from './route-match.js';
import { applyStickyCanary } from './sticky-canary.js';
import { destinationSubset, routeFallback } from './fallback.js';
import { withDecorator } from './route-decorator.js';

export interface RouteSite extends MatchSite {
  flavor: Flavor;
  domainSuffix: string;
  /** Ports of a visible service, to pick the destination port when a route names none. */
  servicePorts(host: string): readonly ServicePort[] | undefined;
  /** The consistent-hash setting of the DestinationRule for a destination, if any. */
  consistentHash(host: string, port: number): ConsistentHashLB | undefined;
}

type MirrorPolicy = NonNullable<RouteAction['request_mirror_policies']>[number];
type HashPolicy = NonNullable<RouteAction['hash_policy']>[number];
/** The header operations a Route and a WeightedCluster.ClusterWeight share. */
type HeaderOperations = Pick<
  Route,
  | 'request_headers_to_add'
  | 'request_headers_to_remove'
  | 'response_headers_to_add'
  | 'response_headers_to_remove'
>;

/** Istio's retry policy when a route sets none. */
export const DEFAULT_RETRY_ON = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';
export const DEFAULT_RETRY_ATTEMPTS = 2;
/**
 * Istio's default policy also retries a 503 (retry.go DefaultPolicy: RetriableStatusCodes [503]);
 * without a code, `retriable-status-codes` in DEFAULT_RETRY_ON would name none. A user's retryOn
 * replaces both.
 */
export const DEFAULT_RETRIABLE_STATUS_CODES: readonly number[] = [503];
/**
 * Trellis's default for gRPC destinations (a GRPC service port, or a proxyless gRPC client),
 * replacing Istio's: only failures where the request never reached the application are retried
 * (a connection that could not be made, a stream the server refused before processing it).
 * Istio's `unavailable` and `cancelled` retry what an overloaded or failing server answers (an
 * UNAVAILABLE is what a gRPC server sheds load with, and a sidecar that cannot reach its app
 * answers UNAVAILABLE too), so each failing call becomes three and an outage feeds itself; a
 * retried CANCELLED repeats a call its own caller gave up on. Those are the application's to
 * retry, with its own budget (gRPC's retry policy in its service config). 503 is left out for the
 * same reason. The cluster's retry budget (retry-budget.ts) caps whatever a user's retryOn adds.
 */
export const DEFAULT_GRPC_RETRY_ON = 'connect-failure,refused-stream';

const PREVIOUS_HOSTS = 'envoy.retry_host_predicates.previous_hosts';
// PreviousHostsPredicate is an empty message: its Any carries no bytes.
const PREVIOUS_HOSTS_ANY = {
  type_url: 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate',
  value: new Uint8Array(0),
};

const REDIRECT_CODES: Record<number, RedirectAction['response_code']> = {
  301: 'MOVED_PERMANENTLY',
  302: 'FOUND',
  303: 'SEE_OTHER',
  307: 'TEMPORARY_REDIRECT',
  308: 'PERMANENT_REDIRECT',
};

/** Envoy routes for one merged Istio route; empty when no match applies here. */
export function buildRoutes(merged: MergedRoute, site: RouteSite): Route[] {
  const { route, namespace } = merged;
  // gRPC clients NACK redirects and direct responses; those routes are left out for them.
  if (site.flavor === 'grpc' && (route.redirect !== undefined || route.directResponse !== undefined))
    return [];
  const matches =
    merged.matches === undefined
      ? [undefined]
      : merged.matches.filter((m) => matchApplies(m.match, m.id, namespace, site)).map((m) => m.match);
  if (matches.length === 0) return [];
  const body = routeBody(route, namespace, site, routeFallback(merged.annotations));
  applyStickyCanary(body, merged.annotations, site.flavor);
  applyGatewaySemantics(body, merged.annotations, site.flavor);
  return matches.map((m) => {
    const name = m?.name ?? route.name;
    const out: Route = { ...(name !== undefined ? { name } : {}), match: routeMatch(m), ...body };
    return withDecorator(out, merged.virtualService, site.port);
  });
}

/**
 * Istio's annotation on the VirtualServices it derives from Gateway API routes
 * (`internal.istio.io/route-semantics: gateway`): a destination whose cluster does not exist (an
 * invalid backendRef's share of the traffic) is answered 500, as the Gateway API requires,
 * instead of Envoy's 503. gRPC clients have no such setting.
 */
export const ROUTE_SEMANTICS_ANNOTATION = 'internal.istio.io/route-semantics';

function applyGatewaySemantics(
  body: Route,
  annotations: Readonly<Record<string, string>> | undefined,
  flavor: Flavor,
): void {
  if (annotations?.[ROUTE_SEMANTICS_ANNOTATION] !== 'gateway' || flavor === 'grpc') return;
  if (body.route) body.route.cluster_not_found_response_code = 'INTERNAL_SERVER_ERROR';
}

/** Istio's route to a service's port when no VirtualService says otherwise. */
export function defaultRoute(host: string, port: number, site: RouteSite): Route {
  const hash = hashPolicy(site.consistentHash(host, port));
  const action: RouteAction = {
    cluster: outboundCluster(host, port),
    timeout: durationMs(0),
    retry_policy: retryPolicy(undefined, site.flavor, hash.length > 0, isGrpcDestination(host, port, site)),
  };
  if (hash.length > 0) action.hash_policy = hash;
  return withDecorator({ name: 'default', match: { prefix: '/' }, route: action }, undefined, port);
}

function routeBody(route: HTTPRoute, namespace: string, site: RouteSite, fallback?: string): Route {
  const out: Route = {};
  let destHeaders: Headers | undefined;
  if (route.redirect !== undefined) {
    const r = route.redirect;
    const redirect: RedirectAction = {};
    if (r.uri !== undefined) redirect.path_redirect = r.uri;
    if (r.prefixRewrite !== undefined) redirect.prefix_rewrite = r.prefixRewrite;
    if (r.authority !== undefined) redirect.host_redirect = r.authority;
    if (r.scheme !== undefined) redirect.scheme_redirect = r.scheme;
    if (r.port !== undefined) redirect.port_redirect = r.port;
    // Istio: FROM_REQUEST_PORT is the port of the listener the route serves (Envoy cannot derive
    // it per request), left out when it is the scheme's own; FROM_PROTOCOL_DEFAULT is Envoy's default.
    if (r.derivePort === 'FROM_REQUEST_PORT') {
      const scheme = r.scheme ?? 'http';
      if (!(site.port === 80 && scheme === 'http') && !(site.port === 443 && scheme === 'https'))
        redirect.port_redirect = site.port;
    }
    const code = REDIRECT_CODES[r.redirectCode ?? 301];
    if (code !== undefined && code !== 'MOVED_PERMANENTLY') redirect.response_code = code;
    out.redirect = redirect;
  } else if (route.directResponse !== undefined) {
    const d = route.directResponse;
    const direct: DirectResponseAction = { status: d.status };
    if (d.body !== undefined)
      direct.body =
        'string' in d.body
          ? { inline_string: d.body.string }
          : { inline_bytes: Buffer.from(d.body.bytes, 'base64') };
    out.direct_response = direct;
  } else {
    const { action, headers } = routeAction(route, namespace, site, fallback);
    out.route = action;
    destHeaders = headers;
  }
  Object.assign(out, headerOperations(mergeHeaders(route.headers, destHeaders)));
  const perFilter: NonNullable<Route['typed_per_filter_config']> = {};
  if (route.fault !== undefined) {
    const fault = faultConfig(route.fault);
    if (fault !== undefined) perFilter[FILTER.fault] = pack(TYPE.fault, fault);
  }
  if (route.corsPolicy !== undefined && site.flavor === 'envoy') {
    perFilter[FILTER.cors] = pack(TYPE.corsPolicy, corsPolicy(route.corsPolicy));
  }
  if (Object.keys(perFilter).length > 0) out.typed_per_filter_config = perFilter;
  return out;
}

function destinationCluster(
  dest: Destination,
  namespace: string,
  site: RouteSite,
  fallback?: string,
): { cluster: string; host: string; port: number } {
  const host = fqdn(dest.host, namespace, site.domainSuffix);
  let port = dest.port?.number;
  if (port === undefined) {
    const ports = site.servicePorts(host);
    port = ports !== undefined && ports.length === 1 ? (ports[0] as ServicePort).number : site.port;
  }
  // trellis.io/fallback-subset: another subset goes through its aggregate (fallback.ts).
  return { cluster: outboundCluster(host, port, destinationSubset(dest.subset, fallback)), host, port };
}

function routeAction(
  route: HTTPRoute,
  namespace: string,
  site: RouteSite,
  fallback?: string,
): { action: RouteAction; headers: Headers | undefined } {
  const action: RouteAction = {};
  const all = route.route ?? [];
  // Istio leaves zero-weight destinations out of the split.
  const dests = all.length === 1 ? all : all.filter((d) => (d.weight ?? 0) > 0);
  const resolved = dests.map((d) => ({ d, ...destinationCluster(d.destination, namespace, site, fallback) }));
  const lone = resolved.length === 1 ? resolved[0] : undefined;
  if (lone !== undefined) {
    action.cluster = lone.cluster;
  } else if (resolved.length > 1) {
    action.weighted_clusters = {
      clusters: resolved.map(({ d, cluster }) => ({
        name: cluster,
        weight: wrapU32(d.weight ?? 0),
        ...headerOperations(d.headers),
      })),
    };
  }
  action.timeout = route.timeout !== undefined ? durationOf(route.timeout, 'timeout') : durationMs(0);
  // gRPC clients read the deadline from max_stream_duration, not timeout (as Istio sets it).
  if (site.flavor === 'grpc') action.max_stream_duration = { max_stream_duration: action.timeout };
  if (route.rewrite?.uri !== undefined) action.prefix_rewrite = route.rewrite.uri;
  if (route.rewrite?.uriRegexRewrite !== undefined) {
    action.regex_rewrite = {
      pattern: { regex: route.rewrite.uriRegexRewrite.match },
      substitution: route.rewrite.uriRegexRewrite.rewrite,
    };
  }
  // Istio's order: the route's `:authority` header, then rewrite.authority, then a lone
  // destination's `:authority` when neither is set.
  const authority =
    route.rewrite?.authority ??
    requestAuthority(route.headers) ??
    (lone !== undefined ? requestAuthority(lone.d.headers) : undefined);
  if (authority !== undefined) action.host_rewrite_literal = authority;
  const mirrors = mirrorPolicies(route, namespace, site);
  if (mirrors.length > 0) action.request_mirror_policies = mirrors;
  // Consistent hashing needs every destination to agree on the hash key (Istio's rule).
  const hashes = resolved.map((r) => hashPolicy(site.consistentHash(r.host, r.port)));
  const first = hashes[0];
  if (
    first !== undefined &&
    first.length > 0 &&
    hashes.every((h) => JSON.stringify(h) === JSON.stringify(first))
  ) {
    action.hash_policy = first;
  }
  const grpc = resolved.length > 0 && resolved.every((r) => isGrpcDestination(r.host, r.port, site));
  const retry = retryPolicy(route.retries, site.flavor, action.hash_policy !== undefined, grpc);
  if (retry !== undefined) action.retry_policy = retry;
  // A lone destination's header operations apply to the route as a whole.
  return { action, headers: lone?.d.headers };
}

/**
 * `retries` absent: Istio's default policy; `attempts: 0`: no retries at all. Under consistent
 * hashing a retry stays on the hashed host unless `retryIgnorePreviousHosts: true` says otherwise
 * (Istio's DefaultConsistentHashPolicy has no previous-hosts predicate).
 */
export function retryPolicy(
  retries: HTTPRetry | undefined,
  flavor: Flavor,
  consistentHash = false,
  grpc = false,
): RetryPolicy | undefined {
  if (retries?.attempts === 0) return undefined;
  const attempts = retries?.attempts ?? DEFAULT_RETRY_ATTEMPTS;
  const out: RetryPolicy = { num_retries: wrapU32(attempts) };
  const conditions: string[] = [];
  // As Istio: an empty retryOn is the same as none.
  const retryOn = retries?.retryOn ? retries.retryOn : undefined;
  const grpcDefault = retryOn === undefined && (grpc || flavor === 'grpc');
  const codes: number[] = retryOn === undefined && !grpcDefault ? [...DEFAULT_RETRIABLE_STATUS_CODES] : [];
  for (const c of (retryOn ?? (grpcDefault ? DEFAULT_GRPC_RETRY_ON : DEFAULT_RETRY_ON))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (/^\d{3}$/.test(c)) codes.push(Number(c));
    else conditions.push(c);
  }
  if (codes.length > 0 && !conditions.includes('retriable-status-codes'))
    conditions.push('retriable-status-codes');
  out.retry_on = conditions.join(',');
  if (codes.length > 0) out.retriable_status_codes = codes;
  if (retries?.perTryTimeout !== undefined)
    out.per_try_timeout = durationOf(retries.perTryTimeout, 'retries.perTryTimeout');
  if (retries?.backoff !== undefined)
    out.retry_back_off = { base_interval: durationOf(retries.backoff, 'retries.backoff') };
  if (flavor === 'envoy') {
    const skipPrevious = consistentHash
      ? retries?.retryIgnorePreviousHosts === true
      : retries?.retryIgnorePreviousHosts !== false;
    if (skipPrevious) {
      out.retry_host_predicate = [{ name: PREVIOUS_HOSTS, typed_config: PREVIOUS_HOSTS_ANY }];
    }
    out.host_selection_retry_max_attempts = 5;
  }
  return out;
}

/** Whether a destination's port is declared gRPC (or the caller is a proxyless gRPC client). */
function isGrpcDestination(host: string, port: number, site: RouteSite): boolean {
  if (site.flavor === 'grpc') return true;
  return site.servicePorts(host)?.find((p) => p.number === port)?.protocol === 'GRPC';
}

function percentOf(p: Percent | undefined, legacy: number | undefined): number {
  if (p !== undefined) return p.value;
  if (legacy !== undefined) return legacy;
  return 100;
}

export function faultConfig(fault: HTTPFaultInjection): HTTPFault | undefined {
  const out: HTTPFault = {};
  if (fault.delay?.fixedDelay !== undefined) {
    out.delay = {
      fixed_delay: durationOf(fault.delay.fixedDelay, 'fault.delay.fixedDelay'),
      percentage: fractionalPercent(percentOf(fault.delay.percentage, fault.delay.percent)),
    };
  }
  if (fault.abort !== undefined) {
    const abort: NonNullable<HTTPFault['abort']> = {
      percentage: fractionalPercent(percentOf(fault.abort.percentage, undefined)),
    };
    if (fault.abort.httpStatus !== undefined) abort.http_status = fault.abort.httpStatus;
    else if (fault.abort.grpcStatus !== undefined) {
      const code = (GRPC_STATUS_NAMES as readonly string[]).indexOf(fault.abort.grpcStatus.toUpperCase());
      abort.grpc_status = code >= 0 ? code : 2;
    }
    if ('http_status' in abort || 'grpc_status' in abort) out.abort = abort;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

export function corsPolicy(cors: CorsPolicy): EnvoyCorsPolicy {
  const out: EnvoyCorsPolicy = { filter_enabled: runtimeFraction(100) };
  const origins = [
    ...(cors.allowOrigins ?? [])
      .map((m) => stringMatcher(m))
      .filter((m): m is StringMatcher => m !== undefined),
    ...(cors.allowOrigin ?? []).map((o) => (o === '*' ? { prefix: '' } : { exact: o })),
  ];
  if (origins.length > 0) out.allow_origin_string_match = origins;
  if (cors.allowMethods !== undefined) out.allow_methods = cors.allowMethods.join(',');
  if (cors.allowHeaders !== undefined) out.allow_headers = cors.allowHeaders.join(',');
  if (cors.exposeHeaders !== undefined) out.expose_headers = cors.exposeHeaders.join(',');
  if (cors.maxAge !== undefined)
    out.max_age = String(Math.floor(Number(durationOf(cors.maxAge, 'corsPolicy.maxAge').seconds)));
  if (cors.allowCredentials !== undefined) out.allow_credentials = { value: cors.allowCredentials };
  if (cors.unmatchedPreflights === 'IGNORE') out.forward_not_matching_preflights = { value: false };
  return out;
}

function mirrorPolicies(route: HTTPRoute, namespace: string, site: RouteSite): MirrorPolicy[] {
  const out: MirrorPolicy[] = [];
  if (route.mirror !== undefined) {
    out.push({
      cluster: destinationCluster(route.mirror, namespace, site).cluster,
      runtime_fraction: runtimeFraction(
        percentOf(route.mirrorPercentage, route.mirrorPercent ?? route.mirror_percent),
      ),
    });
  }
  for (const m of route.mirrors ?? []) {
    out.push({
      cluster: destinationCluster(m.destination, namespace, site).cluster,
      runtime_fraction: runtimeFraction(percentOf(m.percentage, undefined)),
    });
  }
  return out;
}

function mergeHeaders(a: Headers | undefined, b: Headers | undefined): Headers | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const ops = (x: Headers['request'], y: Headers['request']): Headers['request'] => ({
    set: { ...x?.set, ...y?.set },
    add: { ...x?.add, ...y?.add },
    remove: [...(x?.remove ?? []), ...(y?.remove ?? [])],
  });
  return { request: ops(a.request, b.request), response: ops(a.response, b.response) };
}

function headerOptions(
  ops: Record<string, string> | undefined,
  action: HeaderValueOption['append_action'],
  dropAuthority = false,
): HeaderValueOption[] {
  return Object.entries(ops ?? {})
    .filter(([key]) => !dropAuthority || !isAuthorityHeader(key))
    .map(([key, value]) => ({ header: { key, value }, append_action: action }));
}

/** A request `:authority`/Host from `set` (else `add`): Istio makes it the host rewrite. */
function requestAuthority(headers: Headers | undefined): string | undefined {
  for (const ops of [headers?.request?.set, headers?.request?.add]) {
    for (const [key, value] of Object.entries(ops ?? {})) if (isAuthorityHeader(key)) return value;
  }
  return undefined;
}

/** Istio `set` overwrites, `add` appends, `remove` removes. */
export function headerOperations(headers: Headers | undefined): HeaderOperations {
  const out: HeaderOperations = {};
  const reqAdd = [
    ...headerOptions(headers?.request?.set, 'OVERWRITE_IF_EXISTS_OR_ADD', true),
    ...headerOptions(headers?.request?.add, 'APPEND_IF_EXISTS_OR_ADD', true),
  ];
  const resAdd = [
    ...headerOptions(headers?.response?.set, 'OVERWRITE_IF_EXISTS_OR_ADD'),
    ...headerOptions(headers?.response?.add, 'APPEND_IF_EXISTS_OR_ADD'),
  ];
  if (reqAdd.length > 0) out.request_headers_to_add = reqAdd;
  if ((headers?.request?.remove ?? []).length > 0) out.request_headers_to_remove = headers?.request?.remove;
  if (resAdd.length > 0) out.response_headers_to_add = resAdd;
  if ((headers?.response?.remove ?? []).length > 0)
    out.response_headers_to_remove = headers?.response?.remove;
  return out;
}

export function hashPolicy(hash: ConsistentHashLB | undefined): HashPolicy[] {
  if (hash === undefined) return [];
  if (hash.httpHeaderName !== undefined) return [{ header: { header_name: hash.httpHeaderName } }];
  if (hash.httpCookie !== undefined) {
    const cookie: NonNullable<HashPolicy['cookie']> = { name: hash.httpCookie.name };
    if (hash.httpCookie.path !== undefined) cookie.path = hash.httpCookie.path;
    if (hash.httpCookie.ttl !== undefined)
      cookie.ttl = durationOf(hash.httpCookie.ttl, 'consistentHash.httpCookie.ttl');
    return [{ cookie }];
  }
  if (hash.useSourceIp === true) return [{ connection_properties: { source_ip: true } }];
  if (hash.httpQueryParameterName !== undefined)
    return [{ query_parameter: { name: hash.httpQueryParameterName } }];
  return [];
}
