/**
 * The HTTP request path: route selection on the snapshot the request started with, direct
 * responses and redirects, header mutations, rewrites, request id and trace propagation, then
 * forward.ts for the upstream part. Ends every request with one access log line per configured
 * logger and one metrics sample.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import type { Random } from '../../core/random.js';
import type {
  Endpoint,
  ForwardAction,
  HttpConnectionManagerConfig,
  Route,
  HeaderMutation,
  RouteDecorator,
  RouteTable,
  WeightedTarget,
} from '../model/config.js';
import { statsOverridesOf, type IstioStats } from '../admin/stats.js';
import { exchangePeerMetadata } from './peer-metadata.js';
import { GrpcMessageCounter, isGrpcContentType } from '../policy/grpc-messages.js';
import type { ClusterManager } from '../upstream/cluster-manager.js';
import type { OutgoingHeaders } from '../upstream/attempt.js';
import type { AccessLogWriter } from './access-log.js';
import type { Downstream } from './downstream.js';
import {
  hasFiltersBeforeRouter,
  HttpFilterRunner,
  type FilterInput,
  type FilterOutcome,
  type RouteChoice,
} from './filters.js';
import { applyForwardClientCert } from './forward-client-cert.js';
import { upstreamTlsFor } from '../upstream/transport-socket-match.js';
import { forward } from '../router/forward.js';
import { mirrorRequest } from '../router/mirror.js';
import { runtimeFractionHits } from '../policy/proto-values.js';
import {
  applyMutations,
  first,
  forwardableHeaders,
  propagateRequestContext,
  withPseudoHeaders,
} from './headers.js';
import { grpcStatusForHttp, localReply, responseCodeDetails, type LocalReplyReason } from './local-reply.js';
import { flagDownstreamDisconnect, flagLocalReply } from './response-flags.js';
import { ReplayableBody } from './request-body.js';
import { matchRoute, rewritePath, selectVirtualHost } from './route-table.js';
import { pickTarget } from '../policy/sticky-canary.js';
import { startStreamInfo, type Reporter, type StreamInfo } from './stream-info.js';
import { StreamIdleTimer } from './stream-idle-timeout.js';
import { NO_NORMALIZATION, normalizeRequestPath } from './path-normalization.js';
import { tunnel, type UpgradeRequest } from './upgrade.js';
import { applyLaneFilter, laneFilterOf } from './lanes.js';
import type { ProxyTracer, RequestSpan } from '../tracing/tracer.js';

const NO_MUTATION: HeaderMutation = Object.freeze({ add: [], remove: [] });
const NO_FILTERS: Extract<FilterOutcome, { kind: 'continue' }> = Object.freeze({
  kind: 'continue',
  requestHeaders: [],
  responseHeaders: {},
});

/** Bodies above this size are streamed without a replay copy, so they are not retried. */
export const RETRY_BUFFER_LIMIT = 1 << 20;

export interface RouterDeps {
  clusters: ClusterManager;
  clock: Clock;
  random: Random;
  stats: IstioStats;
  accessLogs: AccessLogWriter;
  filters: HttpFilterRunner;
  /** Spans for connection managers with `tracing` (proxy/tracing/); absent: none are made. */
  tracer?: ProxyTracer;
}

/** How a listener wants a request handled. */
export type RequestTarget =
  | { kind: 'routes'; table: RouteTable | undefined; hcm: HttpConnectionManagerConfig | undefined }
  /** Inbound capture: straight to one cluster (`inbound|PORT||`). */
  | { kind: 'cluster'; cluster: string; originalDestination?: Endpoint; hcm?: HttpConnectionManagerConfig }
  | { kind: 'reply'; reason: LocalReplyReason };

export async function handleRequest(
  ds: Downstream,
  target: RequestTarget,
  reporter: Reporter,
  deps: RouterDeps,
): Promise<void> {
  const info = startStreamInfo(ds, reporter, deps.clock);
  if (reporter === 'destination') {
    const peer = deps.stats.peers.lookup(ds.headers, ds.security);
    if (peer !== undefined) info.sourcePeer = peer;
  }
  const hcm = target.kind === 'reply' ? undefined : target.hcm;
  // A request straight to an inbound cluster (no connection manager in the config) has no idle
  // limit: nothing in xDS could turn one off.
  const idle = new StreamIdleTimer(deps.clock, hcm ? hcm.streamIdleTimeoutMs : 0);
  const span =
    hcm?.tracing && deps.tracer
      ? deps.tracer.start(
          hcm.tracing,
          { headers: ds.headers, scheme: ds.scheme, authority: ds.authority },
          info,
        )
      : undefined;
  let body: ReplayableBody | undefined;
  try {
    const failure =
      normalizePath(ds, target, info) ?? (await route(ds, target, info, deps, idle, (b) => (body = b), span));
    if (failure) sendLocalReply(ds, failure, info);
  } catch (err) {
    sendLocalReply(
      ds,
      { kind: 'upstream-reset', cluster: info.upstreamCluster ?? '', detail: (err as Error).message },
      info,
    );
  } finally {
    idle.stop();
    if (ds.aborted) {
      flagDownstreamDisconnect(info);
      if (!ds.headersSent) info.status = 0;
    }
    // Drain an unread request body so a keep-alive connection stays usable.
    if (!body) ds.body.resume();
    // An upgrade's tunnel counted its own bytes (it has no request body).
    if (body) info.bytesReceived = body.bytesReceived;
    if (body?.grpcMessages) info.requestMessages = body.grpcMessages.count;
    info.durationMs = deps.clock.now() - info.startMs;
    span?.finish();
    deps.stats.record(info, statsOverridesOf(hcm));
    if (hcm) deps.accessLogs.log(hcm.accessLogs, info); // the writer decides (its runtime switch)
  }
}

/** Paths as the connection manager is configured to see them: routing sees the result. */
function normalizePath(
  ds: Downstream,
  target: RequestTarget,
  info: StreamInfo,
): LocalReplyReason | undefined {
  if (target.kind === 'reply') return undefined;
  const result = normalizeRequestPath(ds.path, target.hcm?.pathNormalization ?? NO_NORMALIZATION);
  if (result.kind === 'reject') return { kind: 'bad-request', detail: result.detail };
  if (result.kind === 'redirect') return { kind: 'path-redirect', location: result.path };
  ds.path = result.path;
  info.path = result.path;
  return undefined;
}

/** Without a connection manager (straight to an inbound cluster), WebSocket passes as Istio's does. */
const DEFAULT_UPGRADES: ReadonlySet<string> = new Set(['websocket']);

async function route(
  ds: Downstream,
  target: RequestTarget,
  info: StreamInfo,
  deps: RouterDeps,
  idle: StreamIdleTimer,
  setBody: (b: ReplayableBody) => void,
  span: RequestSpan | undefined,
): Promise<LocalReplyReason | undefined> {
  if (target.kind === 'reply') return target.reason;
  // Sandbox lanes: the lane is settled before anything reads the headers to choose a route.
  const lanes = laneFilterOf(target.hcm);
  if (lanes !== undefined)
    applyLaneFilter(ds.headers, lanes, deps.filters.lanes, (name) =>
      deps.stats.countEnvoy(`trellis_lanes.${name}`),
    );
  if (ds.upgrade && !(target.hcm?.upgradeTypes ?? DEFAULT_UPGRADES).has(ds.upgrade.protocol.toLowerCase()))
    return { kind: 'upgrade-refused', protocol: ds.upgrade.protocol };
  if (target.kind === 'cluster') {
    const action: ForwardAction = { kind: 'forward', targets: [], totalWeight: 0, timeoutMs: 0, mirrors: [] };
    const spec: SendSpec = {
      hcm: target.hcm,
      idle,
      cluster: target.cluster,
      action,
      path: ds.path,
      authority: ds.authority,
      span,
    };
    if (target.originalDestination) spec.originalDestination = target.originalDestination;
    return send(ds, info, deps, setBody, spec);
  }
  const table = target.table;
  // Header matchers see the pseudo-headers too (`:path` with its query, `:method`), as in Envoy.
  const matchHeaders = withPseudoHeaders(ds.headers, ds.path, ds.method, ds.authority, ds.scheme);
  let choice = chooseRoute(table, ds, matchHeaders, undefined, deps);
  noteRoute(info, choice);
  // HTTP filters (RBAC, jwt_authn, ...) run before the router answers, as in Envoy: neither a
  // missing route, a direct response nor a redirect is a way around an authorization policy.
  let filtered: Extract<FilterOutcome, { kind: 'continue' }> = NO_FILTERS;
  if (hasFiltersBeforeRouter(target.hcm)) {
    const first = choice;
    const outcome = await runFilters(ds, target.hcm, choice, matchHeaders, deps, info, (headers, metadata) =>
      chooseRoute(table, ds, headers, metadata, deps, first),
    );
    if (outcome.kind !== 'continue') return finishFiltered(ds, info, outcome);
    filtered = outcome;
    if (outcome.metadata) span?.setMetadata(outcome.metadata);
    // reselect is chooseRoute, so what comes back is a PickedRoute (with its weighted pick).
    if (outcome.rerouted) noteRoute(info, (choice = outcome.rerouted));
  }
  const { route: r, vh } = choice;
  if (!table || !vh || !r) return { kind: 'no-route', authority: ds.authority, path: ds.path };
  const action = r.action;
  if (action.kind === 'direct') {
    const headers: OutgoingHeaders = action.body ? { 'content-type': 'text/plain' } : {};
    applyMutations(headers, [r.responseHeaders, vh.responseHeaders, table.responseHeaders]);
    respondFully(ds, info, action.status, headers, action.body);
    return undefined;
  }
  if (action.kind === 'redirect') {
    const location = redirectLocation(r, action, ds);
    respondFully(ds, info, action.status, { location }, '');
    return undefined;
  }
  if (action.idleTimeoutMs !== undefined) idle.restart(action.idleTimeoutMs);
  const picked = choice.picked;
  if (!picked) return { kind: 'no-cluster', cluster: '' };
  // Filters rarely add headers: share one empty mutation instead of building it per request.
  const extraRequest: HeaderMutation =
    filtered.requestHeaders.length === 0 && filtered.removeRequestHeaders === undefined
      ? NO_MUTATION
      : {
          add: filtered.requestHeaders.map(([key, value]) => ({
            key,
            value,
            append: false,
            onlyIfAbsent: false,
          })),
          remove: filtered.removeRequestHeaders ?? [],
        };
  const responseEntries = Object.entries(filtered.responseHeaders);
  const extraResponse: HeaderMutation =
    responseEntries.length === 0
      ? NO_MUTATION
      : {
          add: responseEntries.map(([key, v]) => ({
            key,
            value: Array.isArray(v) ? v.join(',') : v,
            append: false,
            onlyIfAbsent: false,
          })),
          remove: [],
        };
  return send(ds, info, deps, setBody, {
    hcm: target.hcm,
    idle,
    cluster: picked.cluster,
    action,
    path: rewritePath(r, action, ds.path),
    authority: action.hostRewrite ?? rewrittenHost(ds, action.hostRewriteHeader) ?? ds.authority,
    requestMutations: [
      picked.requestHeaders,
      r.requestHeaders,
      vh.requestHeaders,
      table.requestHeaders,
      extraRequest,
    ],
    responseMutations: [
      picked.responseHeaders,
      r.responseHeaders,
      vh.responseHeaders,
      table.responseHeaders,
      extraResponse,
    ],
    matchHeaders,
    span,
    decorator: r.decorator,
    // The dynamic forward proxy's answer: the address of the Host (its cluster has no hosts).
    ...(filtered.upstreamEndpoint ? { originalDestination: filtered.upstreamEndpoint } : {}),
  });
}

/** A route choice with the weighted cluster it picked (Envoy picks it with the route). */
interface PickedRoute extends RouteChoice {
  picked?: WeightedTarget | undefined;
}

/**
 * The virtual host, route and weighted cluster for a request, with the dynamic metadata filters
 * wrote so far. Choosing again (`previous`) keeps the cluster already picked for the same route.
 */
function chooseRoute(
  table: RouteTable | undefined,
  ds: Downstream,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  metadata: Readonly<Record<string, unknown>> | undefined,
  deps: RouterDeps,
  previous?: PickedRoute,
): PickedRoute {
  const vh = table ? selectVirtualHost(table, ds.authority) : undefined;
  const route = vh
    ? matchRoute(vh, { authority: ds.authority, path: ds.path, method: ds.method, headers, metadata })
    : undefined;
  if (route !== undefined && route === previous?.route) return previous;
  const action = route?.action;
  const picked =
    action?.kind === 'forward'
      ? pickTarget(action.targets, action.totalWeight, action.sticky, headers, deps.random)
      : undefined;
  return { route, vh, cluster: picked?.cluster ?? '', picked };
}

/** The route and cluster in the access log, as soon as they are known (filters may deny). */
function noteRoute(info: StreamInfo, choice: PickedRoute): void {
  info.routeName = choice.route?.name;
  info.upstreamCluster = choice.picked?.cluster;
}

/** The connection manager's HTTP filters, for a request with or without a route. */
async function runFilters(
  ds: Downstream,
  hcm: HttpConnectionManagerConfig | undefined,
  choice: RouteChoice,
  matchHeaders: Readonly<Record<string, string | string[] | undefined>>,
  deps: RouterDeps,
  info: StreamInfo,
  reselect: FilterInput['reselect'],
): Promise<FilterOutcome> {
  const input: FilterInput = {
    hcm,
    route: choice.route,
    vh: choice.vh,
    method: ds.method,
    path: ds.path,
    authority: ds.authority,
    headers: matchHeaders,
    cluster: choice.cluster,
    remoteAddress: ds.remoteAddress,
    localPort: ds.localPort,
    localAddress: ds.localAddress ?? '',
    security: ds.security,
    scheme: ds.scheme,
    stats: deps.stats,
    clusters: deps.clusters,
    protocol: ds.protocol,
    flags: info,
  };
  if (reselect) input.reselect = reselect;
  return deps.filters.run(input);
}

/** A filter answered the request itself (a CORS preflight, a denial, an abort). */
function finishFiltered(
  ds: Downstream,
  info: StreamInfo,
  filtered: Exclude<FilterOutcome, { kind: 'continue' }>,
): undefined {
  if (filtered.kind === 'respond') respondFully(ds, info, filtered.status, filtered.headers, '');
  else sendLocalReply(ds, filtered.reason, info, filtered.responseHeaders);
  return undefined;
}

interface SendSpec {
  hcm: HttpConnectionManagerConfig | undefined;
  idle: StreamIdleTimer;
  cluster: string;
  action: ForwardAction;
  path: string;
  authority: string;
  requestMutations?: HeaderMutation[];
  responseMutations?: HeaderMutation[];
  originalDestination?: Endpoint;
  /** Request headers with the pseudo-headers, when route matching already built them. */
  matchHeaders?: Readonly<Record<string, string | string[] | undefined>>;
  /** This request's span, when its connection manager traces; with the route's decorator. */
  span?: RequestSpan | undefined;
  decorator?: RouteDecorator | undefined;
}

async function send(
  ds: Downstream,
  info: StreamInfo,
  deps: RouterDeps,
  setBody: (b: ReplayableBody) => void,
  spec: SendSpec,
): Promise<LocalReplyReason | undefined> {
  const { action, path } = spec;
  info.upstreamCluster = spec.cluster;
  const cluster = deps.clusters.get(spec.cluster);
  if (!cluster) return { kind: 'no-cluster', cluster: spec.cluster, status: action.clusterNotFoundStatus };
  const headers = forwardableHeaders(ds.headers);
  // Istio's metadata exchange: a caller's headers stop here; requests to mesh services carry ours.
  exchangePeerMetadata(
    headers,
    info.reporter === 'source' && spec.cluster.startsWith('outbound|') ? deps.stats.ownMetadata : undefined,
  );
  applyForwardClientCert(headers, ds.security, spec.hcm?.forwardClientCert);
  if (path !== ds.path) headers['x-envoy-original-path'] = ds.path;
  if (spec.requestMutations) applyMutations(headers, spec.requestMutations);
  headers['x-forwarded-proto'] ??= ds.scheme;
  info.requestId = propagateRequestContext(headers, spec.hcm?.generateRequestId ?? true) || randomUUID();
  spec.span?.inject(headers, spec.decorator);
  const finishHeaders = (h: OutgoingHeaders): void => {
    if (spec.responseMutations) applyMutations(h, spec.responseMutations);
  };
  if (ds.upgrade) {
    const upgrade: UpgradeRequest = {
      cluster,
      method: ds.method,
      path,
      authority: spec.authority,
      headers,
      protocol: ds.upgrade.protocol,
      idle: spec.idle,
      finishHeaders,
      connect: (ep) =>
        deps.clusters.pools.transports.open(ep.host, ep.port, upstreamTlsFor(cluster.configFor(ep), ep)),
    };
    if (spec.originalDestination) upgrade.originalDestination = spec.originalDestination;
    return tunnel(upgrade, ds, info);
  }
  const grpcTimeout =
    action.grpcTimeoutHeaderMaxMs === undefined
      ? undefined
      : parseGrpcTimeout(first(ds.headers['grpc-timeout']));
  const effective =
    grpcTimeout === undefined
      ? action
      : {
          ...action,
          timeoutMs: action.grpcTimeoutHeaderMaxMs
            ? Math.min(grpcTimeout, action.grpcTimeoutHeaderMaxMs)
            : grpcTimeout,
        };
  const retries = action.retry?.numRetries ?? 0;
  const body = new ReplayableBody(ds.body, retries > 0 ? RETRY_BUFFER_LIMIT : 0);
  body.activity = spec.idle;
  if (isGrpcContentType(ds.headers['content-type'])) body.grpcMessages = new GrpcMessageCounter();
  setBody(body);
  const request: Parameters<typeof forward>[0] = {
    cluster,
    action: effective,
    method: ds.method,
    path,
    authority: spec.authority,
    headers,
    // With the pseudo-headers: hash policies and retriable_request_headers may name them. Only
    // they read these, so a request without either (inbound straight to its cluster) copies nothing.
    requestHeaders:
      spec.matchHeaders ??
      (action.hash || action.retry
        ? withPseudoHeaders(ds.headers, ds.path, ds.method, ds.authority, ds.scheme)
        : ds.headers),
    sourceIp: ds.remoteAddress,
    body,
    idle: spec.idle,
    finishHeaders,
  };
  if (spec.originalDestination) request.originalDestination = spec.originalDestination;
  for (const m of action.mirrors) {
    if (!runtimeFractionHits(m.fraction, deps.random, true)) continue;
    const shadow = deps.clusters.get(m.cluster);
    if (shadow)
      mirrorRequest(
        shadow,
        { method: ds.method, path, authority: spec.authority, headers, body },
        deps.clusters.pools,
      );
  }
  return forward(request, ds, info, { pools: deps.clusters.pools, clock: deps.clock, random: deps.random });
}

/** host_rewrite_header: the named downstream header, when the request carries one. */
function rewrittenHost(ds: Downstream, header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const v = first(ds.headers[header]);
  return v === undefined || v === '' ? undefined : v;
}

const GRPC_UNITS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** `grpc-timeout: 250m` -> 250 (ms); undefined when absent or malformed. */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  const m = /^(\d{1,8})([HMSmun])$/.exec(value ?? '');
  if (!m) return undefined;
  // At least 1 ms: 0 would mean "no timeout" to the router.
  return Math.max(1, Number(m[1]) * (GRPC_UNITS[m[2]!] ?? 1));
}

function respondFully(
  ds: Downstream,
  info: StreamInfo,
  status: number,
  headers: OutgoingHeaders,
  body: string,
): void {
  info.status = status;
  const buf = Buffer.from(body);
  info.bytesSent = buf.length;
  headers['content-length'] = String(buf.length);
  ds.respond(status, headers);
  if (buf.length > 0) ds.write(buf);
  ds.end();
}

/** Writes the local reply for a failure, as gRPC (trailers-only) when the request was gRPC. */
export function sendLocalReply(
  ds: Downstream,
  reason: LocalReplyReason,
  info: StreamInfo,
  extraHeaders: OutgoingHeaders = {},
): void {
  const reply = localReply(reason);
  flagLocalReply(info, reason);
  const details = responseCodeDetails(reason);
  if (details !== undefined) info.responseCodeDetails = details;
  if (reply.headers) extraHeaders = { ...extraHeaders, ...reply.headers };
  if (ds.aborted) return;
  if (ds.headersSent) {
    // Too late for a response: the client sees the stream reset instead.
    ds.reset();
    return;
  }
  if ((first(ds.headers['content-type']) ?? '').startsWith('application/grpc')) {
    const grpc = String(reply.grpcStatus ?? grpcStatusForHttp(reply.status));
    info.status = 200;
    info.grpcStatus = grpc;
    ds.respondHeadersOnly(200, {
      ...extraHeaders,
      'content-type': 'application/grpc',
      'grpc-status': grpc,
      'grpc-message': encodeURIComponent(reply.body.trim()),
    });
    return;
  }
  if (reason.kind === 'path-redirect') {
    respondFully(ds, info, reply.status, { ...extraHeaders, location: reason.location }, '');
    return;
  }
  respondFully(ds, info, reply.status, { ...extraHeaders, 'content-type': 'text/plain' }, reply.body);
}

/** The Location of a redirect route's answer (also what `trellis explain` shows). */
export function redirectLocation(
  r: Route,
  a: Extract<Route['action'], { kind: 'redirect' }>,
  ds: Pick<Downstream, 'scheme' | 'authority' | 'path'>,
): string {
  const scheme = a.scheme ?? ds.scheme;
  let host = a.host ?? ds.authority.replace(/:\d+$/, '');
  const port = a.port ?? (a.host === undefined ? /:(\d+)$/.exec(ds.authority)?.[1] : undefined);
  const defaultPort =
    (scheme === 'https' && String(port) === '443') || (scheme === 'http' && String(port) === '80');
  if (port !== undefined && !defaultPort) host = `${host}:${port}`;
  const q = ds.path.indexOf('?');
  let path = q === -1 ? ds.path : ds.path.slice(0, q);
  const query = q === -1 || a.stripQuery ? '' : ds.path.slice(q);
  if (a.path !== undefined) path = a.path;
  else if (a.prefixRewrite !== undefined) {
    // As for forwarding (route-table.ts rewritePath): an exact or regex match's matched path is
    // the whole path, which prefix_rewrite then replaces.
    const kind = r.match.path.kind;
    path =
      kind === 'prefix' || kind === 'separated'
        ? a.prefixRewrite + path.slice(r.match.path.value.length)
        : a.prefixRewrite;
  }
  return `${scheme}://${host}${path}${a.path?.includes('?') ? '' : query}`;
}
