/**
 * The proxy's internal configuration: what the xDS converters produce from Envoy resources and
 * what the data path reads. Every object here is frozen once built; a config change produces a
 * new `ProxyConfigSnapshot`, and a request keeps the snapshot it started with, so an update can
 * never change the rules under a request that is already running.
 */
import type { StickyCanary } from '../policy/sticky-canary.js';
import type { AnyMessage } from '../../protocol/protos.js';
import type { CircuitBreakerSettings } from '../policy/circuit-breaker.js';
import type { compileCorsPolicy } from '../policy/cors.js';
import type { HashInput, HashResult } from '../policy/lb-hash-policy.js';
import type { RuntimeFractionalPercentConfig } from '../policy/proto-values.js';
import type { CompiledFault } from '../policy/fault.js';
import type { LocalRateLimitConfig } from '../policy/local-rate-limit.js';
import type { LbSettings } from '../policy/load-balancer.js';
import type { PriorityOptions } from '../policy/locality.js';
import type { OutlierSettings } from '../policy/outlier-detector.js';
import type { RetryPolicy } from '../policy/retry-policy.js';
import type { RbacEngine } from '../policy/rbac.js';
import type { JwtAuthnFilter } from '../policy/jwt-config.js';
import type { StringMatcherConfig } from '../policy/string-matcher.js';
import type { LaneFilterConfig } from '../policy/lanes.js';
import type { TracingConfig } from './tracing-config.js';
import type { AccessLogFilter } from '../policy/access-log-filter.js';
import type { StatsOverrides } from '../policy/stats-overrides.js';

export type XdsShortType = 'CDS' | 'EDS' | 'LDS' | 'RDS' | 'SDS';

// ---- matching ----

export interface PathMatch {
  kind: 'prefix' | 'path' | 'regex' | 'separated';
  value: string;
  regex?: RegExp;
}

export interface RouteMatch {
  path: PathMatch;
  caseSensitive: boolean;
  /** All header matchers (compiled by policy/string-matcher); true when there are none. */
  headers: (headers: Readonly<Record<string, string | string[] | undefined>>) => boolean;
  /** All query parameter matchers; undefined when there are none (skips parsing the query). */
  query?: (query: { get(name: string): string | null }) => boolean;
  /** `grpc: {}`: only requests with content-type application/grpc*. */
  grpcOnly: boolean;
  /**
   * dynamic_metadata matchers over the request's dynamic metadata by filter namespace (Istio's
   * `@request.auth.claims` routes read jwt_authn's payload); undefined when there are none.
   */
  metadata?: (metadata: Readonly<Record<string, unknown>> | undefined) => boolean;
  /**
   * The header and query conditions one by one, in words, for `trellis explain` (which names the
   * one a request missed); `headers` and `query` above are these, all required.
   */
  conditions?: {
    headers: readonly MatchCondition<Readonly<Record<string, string | string[] | undefined>>>[];
    query: readonly MatchCondition<{ get(name: string): string | null }>[];
  };
}

/** One condition of a route match, described (policy/matcher-explain.ts) beside its test. */
export interface MatchCondition<I> {
  describe: string;
  test: (input: I) => boolean;
}

// ---- route actions ----

export interface HeaderToAdd {
  key: string;
  value: string;
  /** true: append to an existing value; false: overwrite (Envoy's append=false / OVERWRITE). */
  append: boolean;
  /** ADD_IF_ABSENT */
  onlyIfAbsent: boolean;
}

export interface HeaderMutation {
  add: readonly HeaderToAdd[];
  remove: readonly string[];
}

/** A route's compiled retry policy: its one owner is policy/retry-policy.ts. */
export type { RetryPolicy } from '../policy/retry-policy.js';

export interface WeightedTarget {
  cluster: string;
  weight: number;
  requestHeaders: HeaderMutation;
  responseHeaders: HeaderMutation;
}

export interface ForwardAction {
  kind: 'forward';
  targets: readonly WeightedTarget[];
  totalWeight: number;
  prefixRewrite?: string;
  regexRewrite?: { regex: RegExp; substitution: string };
  hostRewrite?: string;
  /**
   * host_rewrite_header: the upstream Host is this downstream header as the client sent it (when
   * present). `host` keeps the caller's own Host when it sent an absolute-form request target
   * naming another authority (the request is routed by the target; see translate/keep-host.ts).
   */
  hostRewriteHeader?: string;
  /** 0 disables the timeout, as in Envoy. Default 15 s. */
  timeoutMs: number;
  /**
   * max_stream_duration.grpc_timeout_header_max (or legacy max_grpc_timeout): when set, a gRPC
   * request's grpc-timeout header becomes the route timeout, capped by this (0: no cap).
   */
  grpcTimeoutHeaderMaxMs?: number;
  /** Route idle_timeout: replaces the connection manager's stream_idle_timeout (0: none). */
  idleTimeoutMs?: number;
  /** cluster_not_found_response_code when not the default 503. */
  clusterNotFoundStatus?: number;
  retry?: RetryPolicy;
  /** request_mirror_policies: shadow copies, responses discarded. */
  mirrors: readonly { cluster: string; fraction?: RuntimeFractionalPercentConfig }[];
  /** Route `rate_limits` for the global rate limit filter. */
  rateLimits?: readonly DescriptorBuilder[];
  /** hash_policy for RING_HASH / MAGLEV clusters (policy/lb-hash-policy). */
  hash?: (input: HashInput) => HashResult;
  /** Route metadata `trellis.sticky_canary`: weighted clusters picked by this key (policy/sticky-canary). */
  sticky?: StickyCanary;
}

export interface RedirectAction {
  kind: 'redirect';
  scheme?: string;
  host?: string;
  port?: number;
  path?: string;
  prefixRewrite?: string;
  status: number;
  stripQuery: boolean;
}

export interface DirectResponseAction {
  kind: 'direct';
  status: number;
  body: string;
}

export type RouteAction = ForwardAction | RedirectAction | DirectResponseAction;

export interface Route {
  name: string;
  match: RouteMatch;
  action: RouteAction;
  perFilter: ReadonlyMap<string, FilterOverride>;
  requestHeaders: HeaderMutation;
  responseHeaders: HeaderMutation;
  /** decorator: the span's operation name on this route (and whether it is propagated upstream). */
  decorator?: RouteDecorator;
}

export interface RouteDecorator {
  operation: string;
  propagate: boolean;
}

export interface VirtualHost {
  name: string;
  domains: readonly string[];
  routes: readonly Route[];
  perFilter: ReadonlyMap<string, FilterOverride>;
  requestHeaders: HeaderMutation;
  responseHeaders: HeaderMutation;
  retry?: RetryPolicy;
}

export interface RouteTable {
  name: string;
  virtualHosts: readonly VirtualHost[];
  requestHeaders: HeaderMutation;
  responseHeaders: HeaderMutation;
}

// ---- clusters and endpoints ----

export interface EndpointIdentity {
  workload?: string;
  namespace?: string;
  canonicalService?: string;
  /** The canonical revision (`istio.workload`'s fourth field), also the version label by default. */
  version?: string;
  /** `istio.app`, when the app label differs from the canonical service. */
  app?: string;
  /** `istio.workload`'s fifth field: the cluster the endpoint runs in. */
  cluster?: string;
}

export interface Endpoint {
  /** `host:port`, the key of pools and outlier state. */
  key: string;
  host: string;
  port: number;
  healthy: boolean;
  healthStatus: string;
  weight: number;
  identity: EndpointIdentity;
  /**
   * filter_metadata `envoy.transport_socket_match` (Istio: `{tlsMode: istio}`), what the
   * cluster's transport_socket_matches are matched against; absent when the endpoint has none.
   */
  transportSocketMatch?: Readonly<Record<string, unknown>>;
}

export interface LocalityEndpoints {
  locality: string;
  weight: number;
  priority: number;
  endpoints: readonly Endpoint[];
}

export interface EndpointSet {
  clusterName: string;
  /** ClusterLoadAssignment.policy.overprovisioning_factor, percent (Envoy default 140). */
  overprovisioningFactor: number;
  localities: readonly LocalityEndpoints[];
}

export type ClusterType =
  | 'EDS'
  | 'STATIC'
  | 'STRICT_DNS'
  | 'LOGICAL_DNS'
  | 'ORIGINAL_DST'
  /** envoy.clusters.dynamic_forward_proxy: the request's Host, resolved through `dnsCache`. */
  | 'DYNAMIC_FORWARD_PROXY'
  | 'AGGREGATE';

/**
 * Envoy's DnsCacheConfig (dynamic forward proxy), shared by name between the cluster and the
 * HTTP filter: lookups in flight are bounded (`maxPending`, beyond it requests get 503 UO),
 * answers are reused for `refreshMs`, hosts unused for `hostTtlMs` are forgotten, at most
 * `maxHosts` are kept (beyond that 503).
 */
export interface DnsCacheSettings {
  name: string;
  family: 'AUTO' | 'V4_ONLY' | 'V6_ONLY' | 'V4_PREFERRED' | 'ALL';
  refreshMs: number;
  hostTtlMs: number;
  maxHosts: number;
  maxPending: number;
  queryTimeoutMs: number;
}

export interface ClusterConfig {
  name: string;
  type: ClusterType;
  /** The ClusterLoadAssignment name to subscribe to (EDS only). */
  edsServiceName?: string;
  connectTimeoutMs: number;
  /** Validated lb_policy and its settings (policy/load-balancer). */
  lb: LbSettings;
  /** Speak HTTP/2 (h2c) to the upstream. */
  http2: boolean;
  /** Compiled by policy/circuit-breaker (DEFAULT and HIGH thresholds). */
  circuitBreakers: CircuitBreakerSettings;
  /** Compiled by policy/outlier-detector; undefined: no outlier detection. */
  outlier?: OutlierSettings;
  /** Panic threshold and locality weighting (policy/cluster-load-balancer). */
  priorityOptions: PriorityOptions;
  /** Endpoints of STATIC / DNS clusters (inline load_assignment). */
  staticEndpoints?: EndpointSet;
  /** transport_socket: TLS to every endpoint (undefined: plain text), unless a match says otherwise. */
  tls?: UpstreamTlsConfig;
  /**
   * transport_socket_matches, in order: the first whose `match` is a subset of an endpoint's
   * `envoy.transport_socket_match` metadata decides (tls undefined: raw_buffer); none: `tls`.
   */
  transportSocketMatches?: readonly TransportSocketMatch[];
  /** DYNAMIC_FORWARD_PROXY clusters: the DNS cache their hosts come from. */
  dnsCache?: DnsCacheSettings;
  /** AGGREGATE clusters: the member clusters, in order of preference. */
  aggregateClusters?: readonly string[];
}

export interface TransportSocketMatch {
  name: string;
  /** Keys and values (strings, numbers, booleans) the endpoint's metadata must all have. */
  match: Readonly<Record<string, unknown>>;
  tls?: UpstreamTlsConfig;
}

/**
 * An SDS secret reference: `ads` secrets arrive over the ADS stream (gateway credentials,
 * DestinationRule credentialName); `workload` ones (`default`, `ROOTCA` through Istio's `sds-grpc`
 * config source) are the proxy's own certificate and trust bundle (ProxyOptions.workloadCertificates).
 */
export interface SecretRef {
  name: string;
  source: 'ads' | 'workload';
}

/** What a peer certificate must match beyond chaining to the CA (CertificateValidationContext). */
export interface PeerCertificateChecks {
  /** One SAN matching one of these (`type` undefined: any type)... */
  subjectAltNames?: readonly SubjectAltNameMatch[];
  /** ...and, when either list is set, its SPKI (base64 sha256) or its DER sha256 (lowercase hex). */
  spkiSha256?: readonly string[];
  certificateSha256?: readonly string[];
}

/** UpstreamTlsContext: the client side of TLS to an endpoint. */
export interface UpstreamTlsConfig extends PeerCertificateChecks {
  /**
   * Identifies the context for connection pools: equal keys mean interchangeable connections
   * (same certificate names, CA, SNI, ALPN, checks), whatever push the config came from.
   */
  key: string;
  sni?: string;
  /** alpn_protocols offered, in order; empty: no ALPN. */
  alpn: readonly string[];
  /** The client certificate (tls_certificate_sds_secret_configs[0]); absent: none sent. */
  certificate?: SecretRef;
  /** The CA the server chain must lead to; absent: the server is not verified (Envoy's default). */
  validation?: SecretRef;
  minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  ciphers?: string;
}

// ---- listeners ----

export interface AccessLogConfig {
  /** undefined: stdout. */
  path?: string;
  /** Envoy format string; undefined: Envoy's default text format. */
  format?: string;
  /** `json_format`: one JSON object per line, field -> format string (instead of `format`). */
  json?: Readonly<Record<string, string>>;
  /** The CEL extension filter: only streams it matches are logged. */
  filter?: AccessLogFilter;
}

/** An HTTP filter of an HTTP connection manager, in chain order (the router is last). */
export type HttpFilterConfig =
  | { kind: 'router'; name: string }
  | { kind: 'fault'; name: string; fault: CompiledFault }
  /** config undefined: the filter only acts where a route or virtual host configures it. */
  | { kind: 'local_ratelimit'; name: string; config?: LocalRateLimitConfig }
  | { kind: 'cors'; name: string }
  /** envoy.filters.http.dynamic_forward_proxy: resolves the Host for DYNAMIC_FORWARD_PROXY clusters. */
  | { kind: 'dynamic_forward_proxy'; name: string; dnsCache: DnsCacheSettings }
  | { kind: 'ratelimit'; name: string; config: GlobalRateLimitConfig }
  | { kind: 'rbac'; name: string; rbac: RbacFilter }
  | { kind: 'jwt_authn'; name: string; jwt: JwtAuthnFilter }
  | { kind: 'ext_authz'; name: string; extAuthz: ExtAuthzConfig }
  /** Trellis's lane filter (sandbox lanes): acts before the route is chosen (connection-manager/lanes.ts). */
  | { kind: 'lanes'; name: string; lanes: LaneFilterConfig }
  /** Istio's stats filter: metric overrides, applied when the request is recorded (admin/stats.ts). */
  | { kind: 'istio_stats'; name: string; stats: StatsOverrides };

/** envoy.filters.http.ext_authz over gRPC (envoy.service.auth.v3.Authorization/Check). */
export interface ExtAuthzConfig {
  /** grpc_service.envoy_grpc.cluster_name: where the authorization service runs. */
  cluster: string;
  /** grpc_service.envoy_grpc.authority; default the cluster name, as Envoy sends it. */
  authority: string;
  /** grpc_service.timeout; Envoy's default is 200 ms. */
  timeoutMs: number;
  failureModeAllow: boolean;
  /** failure_mode_allow_header_add: mark requests let through on an error. */
  failureModeAllowHeaderAdd: boolean;
  /** status_on_error; Envoy's default is 403. */
  statusOnError: number;
  /** Stats under `http.<hcm stat_prefix>.ext_authz.` (or `<stat_prefix>.ext_authz.`). */
  statPrefix: string;
  /** filter_enabled_metadata: the check runs only when the request's dynamic metadata matches. */
  enabledBy?: (metadata: Readonly<Record<string, unknown>>) => boolean;
  /** http_service: the check is a plain HTTP request (else gRPC Check). */
  http?: ExtAuthzHttpService;
}

/** ext_authz's http_service: which headers go to the service, and which come back. */
export interface ExtAuthzHttpService {
  pathPrefix: string;
  /** Request headers sent besides Envoy's always-sent ones (:authority, :method, :path, authorization). */
  requestHeader: (name: string) => boolean;
  headersToAdd: readonly [string, string][];
  /** Service response headers set on the upstream request when allowed (none when unset). */
  upstreamHeader?: (name: string) => boolean;
  upstreamAppendHeader?: (name: string) => boolean;
  /** Service response headers the client gets when denied (all when unset). */
  clientHeader?: (name: string) => boolean;
  /** Service response headers the client gets when allowed (none when unset). */
  clientHeaderOnSuccess?: (name: string) => boolean;
}

/**
 * envoy.filters.http.rbac and envoy.filters.network.rbac: the enforced engine (absent: the filter
 * enforces nothing) and the shadow one, evaluated for stats and dynamic metadata only.
 */
export interface RbacFilter {
  rules?: RbacEngine;
  shadowRules?: RbacEngine;
  /** rules_stat_prefix: between `rbac.` and `allowed` / `denied`. */
  rulesStatPrefix: string;
  /** shadow_rules_stat_prefix: before `shadow_allowed` and the shadow metadata keys. */
  shadowRulesStatPrefix: string;
}

/** The network RBAC filter ahead of a TCP proxy: counted under `<stat_prefix>.rbac.`. */
export interface NetworkRbacFilter extends RbacFilter {
  statPrefix: string;
}

/**
 * How the connection manager finds the client's address (Envoy's use_remote_address and
 * xff_num_trusted_hops): RBAC remote_ip reads the result, direct_remote_ip the peer.
 */
export interface ClientAddressPolicy {
  useRemoteAddress: boolean;
  xffNumTrustedHops: number;
}

/** envoy.filters.http.ratelimit: where to ask and what to do when the service fails. */
export interface GlobalRateLimitConfig {
  domain: string;
  /** Cluster of the rate limit service (gRPC, envoy.service.ratelimit.v3). */
  cluster: string;
  timeoutMs: number;
  failureModeDeny: boolean;
  xRateLimitHeaders: boolean;
}

export interface DescriptorEntry {
  key: string;
  value: string;
}

/** One route `rate_limits` entry: the descriptor for a request, or undefined when it does not apply. */
export type DescriptorBuilder = (input: {
  headers: Readonly<Record<string, string | string[] | undefined>>;
  remoteAddress: string;
  cluster: string;
  /** This proxy's service cluster (node.cluster): what the source_cluster action reports. */
  sourceCluster: string;
}) => DescriptorEntry[] | undefined;

/** typed_per_filter_config for one filter on a virtual host, route or weighted cluster. */
export interface FilterOverride {
  fault?: CompiledFault;
  localRateLimit?: LocalRateLimitConfig;
  cors?: CorsPolicyFn;
}

export type CorsPolicyFn = ReturnType<typeof compileCorsPolicy>;

export interface HttpConnectionManagerConfig {
  kind: 'http';
  statPrefix: string;
  routeConfigName?: string;
  inlineRoutes?: RouteTable;
  httpFilters: readonly HttpFilterConfig[];
  accessLogs: readonly AccessLogConfig[];
  generateRequestId: boolean;
  /** stream_idle_timeout: a request with no activity for this long ends (0: never). */
  streamIdleTimeoutMs: number;
  /** upgrade_configs that are enabled, lower case (Istio: websocket); others get 403. */
  upgradeTypes: ReadonlySet<string>;
  /** How request paths are normalized before routing (normalize_path, merge_slashes, ...). */
  pathNormalization: PathNormalization;
  /** use_remote_address / xff_num_trusted_hops; absent: Envoy's defaults (false, 0). */
  clientAddress?: ClientAddressPolicy;
  /** forward_client_cert_details and set_current_client_cert_details (x-forwarded-client-cert). */
  forwardClientCert?: ForwardClientCert;
  /** `tracing` with Envoy's OpenTelemetry tracer (proxy/tracing/); absent: no spans. */
  tracing?: TracingConfig;
}

/** Envoy's XFCC handling; absent means SANITIZE (the header is removed), Envoy's default. */
export interface ForwardClientCert {
  mode: 'SANITIZE' | 'FORWARD_ONLY' | 'APPEND_FORWARD' | 'SANITIZE_SET' | 'ALWAYS_FORWARD_ONLY';
  /** set_current_client_cert_details: which details of the peer certificate are added. */
  subject: boolean;
  uri: boolean;
  dns: boolean;
}

/**
 * Envoy's HCM path handling: `normalize` is normalize_path (RFC 3986 dot segments and
 * percent-decoding of unreserved characters), `mergeSlashes` is merge_slashes, `escapedSlashes` is
 * path_with_escaped_slashes_action (IMPLEMENTATION_SPECIFIC_DEFAULT is KEEP_UNCHANGED).
 */
export interface PathNormalization {
  normalize: boolean;
  mergeSlashes: boolean;
  escapedSlashes: 'KEEP_UNCHANGED' | 'REJECT_REQUEST' | 'UNESCAPE_AND_REDIRECT' | 'UNESCAPE_AND_FORWARD';
}

export interface TcpProxyConfig {
  kind: 'tcp';
  statPrefix: string;
  targets: readonly { cluster: string; weight: number }[];
  totalWeight: number;
  idleTimeoutMs: number;
  accessLogs: readonly AccessLogConfig[];
  /** Network RBAC filters ahead of the TCP proxy, in chain order. */
  rbac?: readonly NetworkRbacFilter[];
}

export type NetworkFilterConfig = HttpConnectionManagerConfig | TcpProxyConfig;

export interface FilterChainConfig {
  name: string;
  destinationPort?: number;
  /** filter_chain_match.server_names (SNI, lower case); absent or empty: any. */
  serverNames?: readonly string[];
  /** filter_chain_match.transport_protocol: `tls` or `raw_buffer`; absent: any. */
  transportProtocol?: string;
  /** filter_chain_match.application_protocols: ALPN values the ClientHello offers; absent: any. */
  applicationProtocols?: readonly string[];
  /** The chain terminates TLS (a DownstreamTlsContext transport socket). */
  tls?: DownstreamTlsConfig;
  filter: NetworkFilterConfig;
}

/** DownstreamTlsContext: certificates and the client CA by SDS name, resolved per connection. */
export interface DownstreamTlsConfig extends PeerCertificateChecks {
  /** tls_certificate_sds_secret_configs: one or more (e.g. RSA and ECDSA) certificates. */
  certificateSecrets: readonly SecretRef[];
  /** validation_context_sds_secret_config: the CA client certificates must chain to. */
  validationSecret?: SecretRef;
  requireClientCertificate: boolean;
  /** alpn_protocols, in preference order; empty: no ALPN (HTTP/1.1). */
  alpn: readonly string[];
  minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  /** OpenSSL cipher list (tls_params.cipher_suites joined by ':'). */
  ciphers?: string;
}

/** match_typed_subject_alt_names / match_subject_alt_names: a StringMatcher per SAN type. */
export interface SubjectAltNameMatch {
  type?: 'DNS' | 'URI' | 'IP Address' | 'email';
  matcher: StringMatcherConfig;
}

// ---- secrets ----

/** An SDS Secret, validated (PEM parsed, key matching its certificate). */
export type SecretConfig =
  | { kind: 'tls_certificate'; name: string; certificateChain: string; privateKey: string }
  | { kind: 'validation_context'; name: string; trustedCa: string };

export interface ListenerConfig {
  name: string;
  address: string;
  port: number;
  /** traffic_direction: inbound listeners report metrics as the destination. */
  direction?: 'INBOUND' | 'OUTBOUND';
  filterChains: readonly FilterChainConfig[];
}

// ---- the snapshot ----

/** One accepted resource as received, for the config dump. */
export interface RawResource {
  name: string;
  resource: AnyMessage;
  version: string;
  lastUpdatedMs: number;
}

export interface ProxyConfigSnapshot {
  readonly clusters: ReadonlyMap<string, ClusterConfig>;
  /** ClusterLoadAssignments by name (cluster name or eds service_name). */
  readonly endpoints: ReadonlyMap<string, EndpointSet>;
  readonly listeners: ReadonlyMap<string, ListenerConfig>;
  readonly routes: ReadonlyMap<string, RouteTable>;
  /** SDS Secrets by name. */
  readonly secrets: ReadonlyMap<string, SecretConfig>;
  readonly raw: Readonly<Record<XdsShortType, ReadonlyMap<string, RawResource>>>;
  readonly versions: Readonly<Record<XdsShortType, string>>;
  /** Which types have been accepted at least once. */
  readonly received: ReadonlySet<XdsShortType>;
}

export const EMPTY_MUTATION: HeaderMutation = Object.freeze({ add: [], remove: [] });

export function emptySnapshot(): ProxyConfigSnapshot {
  return {
    clusters: new Map(),
    endpoints: new Map(),
    listeners: new Map(),
    routes: new Map(),
    secrets: new Map(),
    raw: { CDS: new Map(), EDS: new Map(), LDS: new Map(), RDS: new Map(), SDS: new Map() },
    versions: { CDS: '', EDS: '', LDS: '', RDS: '', SDS: '' },
    received: new Set(),
  };
}

/** The endpoints a cluster routes to right now, wherever they come from. */
export function clusterEndpoints(
  snapshot: ProxyConfigSnapshot,
  cluster: ClusterConfig,
): EndpointSet | undefined {
  if (cluster.type === 'EDS') return snapshot.endpoints.get(cluster.edsServiceName ?? cluster.name);
  return cluster.staticEndpoints;
}
