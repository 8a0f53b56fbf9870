/**
 * Runs an HTTP connection manager's decoder filters in chain order, before the router: CORS
 * (preflights answered locally), fault injection (delay, abort), local rate limit. Each reads
 * the most specific typed_per_filter_config (route, then virtual host) over the listener's.
 * As in Envoy, filters also run for a request no route matches (the router answers 404 after
 * them): they see no per-route config then, so RBAC denies before a route's absence shows.
 * When jwt_authn clears the route cache the route is chosen again (`reselect`) and later
 * filters see the new one. Pure decisions live in policy/; this module applies them to a request.
 */
import type { Clock } from '../../core/clock.js';
import type { Random } from '../../core/random.js';
import type {
  Endpoint,
  FilterOverride,
  HttpConnectionManagerConfig,
  HttpFilterConfig,
  Route,
  VirtualHost,
} from '../model/config.js';
import { dynamicForwardProxy, isForwardProxyCluster } from './dynamic-forward-proxy.js';
import {
  LocalRateLimiter,
  type LocalRateLimitConfig,
  type LocalRateLimitPeek,
} from '../policy/local-rate-limit.js';
import type { OutHeaders } from './downstream.js';
import type { RateLimitClient } from './rate-limit-client.js';
import type { LocalReplyReason } from './local-reply.js';
import type { ConnectionSecurity } from './downstream.js';
import type { IstioStats } from '../admin/stats.js';
import { httpRbacRequest } from './authz-request.js';
import { evaluateRbacFilter } from './authz-filter.js';
import { JWT_AUTHN_FILTER, runJwtAuthn } from './jwt-filter.js';
import { runExtAuthz } from './ext-authz-filter.js';
import { extAuthzClientFor } from './ext-authz-client.js';
import type { ClusterManager } from '../upstream/cluster-manager.js';
import { flagDelayInjected, type Flagged } from './response-flags.js';
import { LaneMemory } from '../policy/lane-memory.js';

/** The route a request is on, and the cluster it picked; route and vh absent when none matched. */
export interface RouteChoice {
  route?: Route | undefined;
  vh?: VirtualHost | undefined;
  cluster: string;
}

export interface FilterInput {
  hcm: HttpConnectionManagerConfig | undefined;
  route: Route | undefined;
  vh: VirtualHost | undefined;
  /** Chooses the route again with the request as filters changed it (jwt_authn clear_route_cache). */
  reselect?: (
    headers: Readonly<Record<string, string | string[] | undefined>>,
    metadata: Readonly<Record<string, unknown>>,
  ) => RouteChoice;
  method: string;
  path: string;
  authority: string;
  /** Downstream headers with the pseudo-headers (`:path`, `:method`, `:authority`). */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  cluster: string;
  remoteAddress: string;
  /** The connection facts RBAC and jwt_authn read (the port the request arrived on, TLS). */
  localPort?: number;
  /** The connection's local address (RBAC destination_ip). */
  localAddress?: string;
  security?: ConnectionSecurity | undefined;
  scheme?: string;
  /** Where filter counters go (RBAC's http.<stat_prefix>.rbac.*). */
  stats?: IstioStats;
  /** The proxy's clusters: where ext_authz finds its service. */
  clusters?: ClusterManager;
  protocol?: string;
  /** The request's flags: the fault filter marks a delay it injected (DI). */
  flags?: Flagged;
}

export type FilterOutcome =
  | {
      kind: 'continue';
      requestHeaders: [string, string][];
      responseHeaders: OutHeaders;
      /** Request headers filters took away (jwt_authn: a token not forwarded, forged claim headers). */
      removeRequestHeaders?: string[];
      /** Dynamic metadata filters wrote, by filter namespace (tracing's metadata custom tags). */
      metadata?: Readonly<Record<string, unknown>>;
      /** Where the dynamic forward proxy resolved the request's host to (its cluster has no hosts). */
      upstreamEndpoint?: Endpoint;
      /** The route chosen again after jwt_authn; absent when it was not. */
      rerouted?: RouteChoice;
    }
  | { kind: 'reply'; reason: LocalReplyReason; responseHeaders: OutHeaders }
  | { kind: 'respond'; status: number; headers: OutHeaders };

/**
 * Local rate limit buckets, one per filter config and place (listener, virtual host or route),
 * as Envoy keeps one per filter config instance. Keyed by content, not by object: every push
 * converts resources into new objects, and a push that leaves a config unchanged must not
 * refill its bucket (Envoy keeps a listener whose resource did not change). Per proxy, since
 * `trellis up` runs many proxies in one process.
 */
class LocalRateLimiters {
  private readonly byKey = new Map<string, LocalRateLimiter>();
  private readonly contentKeys = new WeakMap<LocalRateLimitConfig, string>();

  constructor(
    private readonly clock: Clock,
    private readonly random: Random,
  ) {}

  get(place: string, config: LocalRateLimitConfig): LocalRateLimiter {
    let content = this.contentKeys.get(config);
    if (content === undefined) {
      content = JSON.stringify(config);
      this.contentKeys.set(config, content);
    }
    const key = `${place}\u0000${content}`;
    let limiter = this.byKey.get(key);
    if (!limiter) {
      // Bounded: configs that went away are forgotten wholesale once there are many.
      if (this.byKey.size >= 10_000) this.byKey.clear();
      limiter = new LocalRateLimiter(config, { clock: this.clock, random: this.random });
      this.byKey.set(key, limiter);
    }
    return limiter;
  }

  /** The bucket a request at `place` would take from, as it is now; a new one is not kept. */
  peek(place: string, config: LocalRateLimitConfig): LocalRateLimitPeek {
    const content = this.contentKeys.get(config) ?? JSON.stringify(config);
    const limiter =
      this.byKey.get(`${place}\u0000${content}`) ??
      new LocalRateLimiter(config, { clock: this.clock, random: this.random });
    return limiter.peek();
  }
}

/** Which bucket a local rate limit filter uses for a request: listener, virtual host or route. */
function localRateLimitPlace(
  f: { name: string },
  override: FilterOverride | undefined,
  input: Pick<FilterInput, 'hcm' | 'vh' | 'route'>,
): string {
  // Routes are told apart by name (Istio names them; unnamed twins share a bucket).
  const routes = `${input.hcm?.statPrefix ?? ''}|${input.hcm?.routeConfigName ?? ''}|${input.vh?.name ?? ''}`;
  if (input.route?.perFilter.get(f.name)?.localRateLimit)
    return `${f.name}|route|${routes}|${input.route.name}`;
  if (override?.localRateLimit) return `${f.name}|vhost|${routes}`;
  return `${f.name}|listener|${input.hcm?.statPrefix ?? ''}`;
}

/**
 * Whether a connection manager has filters before the router (the last one). When it has not,
 * the common case, the router skips run() altogether: no header view, no await.
 */
export function hasFiltersBeforeRouter(hcm: HttpConnectionManagerConfig | undefined): boolean {
  return (hcm?.httpFilters.length ?? 0) > 1;
}

export class HttpFilterRunner {
  private activeFaults = 0;
  private readonly limiters: LocalRateLimiters;
  /** Lanes by trace context (sandbox lanes): one per proxy, for its inbound and outbound HCMs. */
  readonly lanes: LaneMemory;

  constructor(
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly rateLimits?: RateLimitClient,
    /** This proxy's service cluster (node.cluster), for the source_cluster rate limit action. */
    private readonly localCluster = '',
  ) {
    this.limiters = new LocalRateLimiters(clock, random);
    this.lanes = new LaneMemory(clock);
  }

  async run(request: FilterInput): Promise<FilterOutcome> {
    // The route may change under later filters (jwt_authn clear_route_cache): `input` is current.
    let input = request;
    let rerouted: RouteChoice | undefined;
    const requestHeaders: [string, string][] = [];
    const removeRequestHeaders: string[] = [];
    const responseHeaders: OutHeaders = {};
    const filters = input.hcm?.httpFilters ?? [];
    // The request as later filters see it: jwt_authn's header changes are visible to RBAC.
    let pseudo = input.headers;
    // Dynamic metadata of this request, by filter namespace (jwt_authn payloads for RBAC).
    const metadata: Record<string, unknown> = {};
    /** A filter's changes to the request: later filters see them, the upstream gets them. */
    const changeRequest = (set: [string, string][], remove: string[]) => {
      if (set.length === 0 && remove.length === 0) return;
      const next = { ...pseudo };
      for (const h of remove) delete next[h];
      for (const [k, v] of set) next[k] = v;
      pseudo = next;
      removeRequestHeaders.push(...remove);
      requestHeaders.push(...set);
    };
    let upstreamEndpoint: Endpoint | undefined;
    for (const f of filters) {
      const override = input.route?.perFilter.get(f.name) ?? input.vh?.perFilter.get(f.name);
      switch (f.kind) {
        case 'cors': {
          const decision = override?.cors?.(pseudo, this.random);
          if (decision?.kind === 'preflight')
            return { kind: 'respond', status: decision.status, headers: decision.headers };
          if (decision?.kind === 'actual') Object.assign(responseHeaders, decision.responseHeaders);
          break;
        }
        case 'fault': {
          const fault = override?.fault ?? f.fault;
          const decision = fault.decide({
            headers: pseudo,
            random: this.random,
            upstreamCluster: input.cluster,
            activeFaults: this.activeFaults,
          });
          if (decision.delayMs === undefined && decision.abort === undefined) break;
          this.activeFaults++;
          try {
            if (decision.delayMs !== undefined) {
              if (input.flags) flagDelayInjected(input.flags);
              await this.sleep(decision.delayMs);
            }
          } finally {
            this.activeFaults--;
          }
          if (decision.abort) {
            return {
              kind: 'reply',
              reason: {
                kind: 'fault-abort',
                status: decision.abort.httpStatus ?? 200,
                grpcStatus: decision.abort.grpcStatus,
              },
              responseHeaders,
            };
          }
          break;
        }
        case 'dynamic_forward_proxy': {
          if (!isForwardProxyCluster(input.clusters, input.cluster)) break;
          const arrivedOn =
            input.localPort === undefined
              ? undefined
              : { address: input.localAddress ?? '', port: input.localPort };
          const outcome = await dynamicForwardProxy(
            f.dnsCache,
            input.cluster,
            input.authority,
            input.clusters,
            arrivedOn,
          );
          if (outcome.kind === 'reply') return { kind: 'reply', reason: outcome.reason, responseHeaders };
          upstreamEndpoint = outcome.endpoint ?? upstreamEndpoint;
          break;
        }
        case 'local_ratelimit': {
          const config = rateLimitConfig(override, f.config);
          if (!config) break;
          const place = localRateLimitPlace(f, override, input);
          const d = this.limiters.get(place, config).check();
          for (const [k, v] of d.responseHeaders) responseHeaders[k] = v;
          if (!d.allow) {
            return {
              kind: 'reply',
              reason: {
                kind: 'rate-limited',
                status: d.status ?? 429,
                grpcStatus: d.grpcResourceExhausted ? 8 : undefined,
              },
              responseHeaders,
            };
          }
          requestHeaders.push(...d.requestHeaders);
          break;
        }
        case 'ratelimit': {
          const builders = input.route?.action.kind === 'forward' ? input.route.action.rateLimits : undefined;
          if (!builders || !this.rateLimits) break;
          const descriptors = builders
            .map((b) =>
              b({
                headers: pseudo,
                remoteAddress: input.remoteAddress,
                cluster: input.cluster,
                sourceCluster: this.localCluster,
              }),
            )
            .filter((d): d is NonNullable<typeof d> => d !== undefined);
          if (descriptors.length === 0) break;
          const answer = await this.rateLimits.check(f.config, descriptors);
          if (answer.kind === 'error') {
            // failure_mode_deny: false (the default) lets requests through when the service fails.
            if (f.config.failureModeDeny) {
              return {
                kind: 'reply',
                reason: { kind: 'rate-limit-service-error', detail: answer.message },
                responseHeaders,
              };
            }
            break;
          }
          for (const [k, v] of answer.responseHeaders) responseHeaders[k] = v;
          if (answer.kind === 'over-limit') {
            responseHeaders['x-envoy-ratelimited'] = 'true';
            return { kind: 'reply', reason: { kind: 'rate-limited', status: 429 }, responseHeaders };
          }
          requestHeaders.push(...answer.requestHeaders);
          break;
        }
        case 'jwt_authn': {
          const result = await runJwtAuthn(
            f.jwt,
            {
              method: input.method,
              path: input.path,
              authority: input.authority,
              scheme: input.scheme ?? 'http',
              headers: pseudo,
            },
            this.clock.wallNow() / 1000,
          );
          if (result.kind === 'deny') return { kind: 'reply', reason: result.reason, responseHeaders };
          changeRequest(result.setHeaders, result.removeHeaders);
          if (Object.keys(result.metadata).length > 0) {
            const prev = metadata[JWT_AUTHN_FILTER] as Record<string, unknown> | undefined;
            metadata[JWT_AUTHN_FILTER] = { ...prev, ...result.metadata };
          }
          if (result.clearRouteCache && input.reselect) {
            rerouted = input.reselect(pseudo, metadata);
            input = { ...input, route: rerouted.route, vh: rerouted.vh, cluster: rerouted.cluster };
          }
          break;
        }
        case 'rbac': {
          const request = httpRbacRequest({
            headers: pseudo,
            path: input.path,
            peer: input.remoteAddress,
            localPort: input.localPort ?? 0,
            localAddress: input.localAddress ?? '',
            security: input.security,
            clientAddress: input.hcm?.clientAddress,
            metadata,
          });
          const stats = input.stats;
          const decision = evaluateRbacFilter(f.rbac, request, {
            statPrefix: `http.${input.hcm?.statPrefix ?? ''}`,
            metadataNamespace: 'envoy.filters.http.rbac',
            metadata,
            ...(stats ? { count: (s: string) => stats.countEnvoy(s) } : {}),
          });
          if (!decision.allowed)
            return {
              kind: 'reply',
              reason: { kind: 'rbac-denied', policy: decision.policy },
              responseHeaders,
            };
          break;
        }
        case 'ext_authz': {
          const stats = input.stats;
          const cluster = input.cluster;
          const principal =
            input.security?.policy === 'mutual_tls' ? input.security.peerPrincipal : undefined;
          const result = await runExtAuthz(
            f.extAuthz,
            {
              method: input.method,
              path: input.path,
              authority: input.authority,
              scheme: input.scheme ?? 'http',
              protocol: input.protocol ?? 'HTTP/1.1',
              headers: pseudo,
              sourceIp: input.remoteAddress,
              sourcePrincipal: principal,
              destinationPort: input.localPort ?? 0,
            },
            metadata,
            input.clusters ? extAuthzClientFor(input.clusters) : undefined,
            this.clock.wallNow(),
            stats && cluster !== ''
              ? (s: string) => stats.countEnvoy(`cluster.${cluster}.ext_authz.${s}`)
              : undefined,
          );
          if (result.kind === 'deny') return { kind: 'reply', reason: result.reason, responseHeaders };
          if (result.kind === 'continue') {
            changeRequest(result.setHeaders, result.removeHeaders);
            for (const [k, v] of result.responseHeaders) responseHeaders[k] = v;
          }
          break;
        }
        case 'lanes': // acted before the route was chosen (lanes.ts)
        case 'istio_stats': // applied when the request is recorded (admin/stats.ts)
        case 'router':
          break;
      }
    }
    return {
      kind: 'continue',
      requestHeaders,
      responseHeaders,
      ...(removeRequestHeaders.length > 0 ? { removeRequestHeaders } : {}),
      ...(upstreamEndpoint ? { upstreamEndpoint } : {}),
      ...(rerouted ? { rerouted } : {}),
      ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
    };
  }

  /**
   * The local rate limit a request on `input`'s route would meet at filter `f`, without taking a
   * token (`trellis explain`); undefined when the filter has no config there.
   */
  peekLocalRateLimit(
    f: Extract<HttpFilterConfig, { kind: 'local_ratelimit' }>,
    input: Pick<FilterInput, 'hcm' | 'vh' | 'route'>,
  ): LocalRateLimitPeek | undefined {
    const override = input.route?.perFilter.get(f.name) ?? input.vh?.perFilter.get(f.name);
    const config = rateLimitConfig(override, f.config);
    return config ? this.limiters.peek(localRateLimitPlace(f, override, input), config) : undefined;
  }

  /** Faults in progress now (max_active_faults counts them). */
  get faultsActive(): number {
    return this.activeFaults;
  }

  private async sleep(ms: number): Promise<void> {
    await new Promise<void>((resolve) => this.clock.setTimeout(resolve, ms));
  }
}

function rateLimitConfig(
  override: FilterOverride | undefined,
  base: LocalRateLimitConfig | undefined,
): LocalRateLimitConfig | undefined {
  return override?.localRateLimit ?? base;
}
