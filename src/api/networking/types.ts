/**
 * Istio `networking.istio.io` resource specs, with the field names exactly as Istio's YAML
 * writes them (camelCase, see https://istio.io/latest/docs/reference/config/networking/).
 * Numbers are `number`, durations are Istio duration strings (`1.5s`), enums are string
 * unions. Every field is optional unless Istio requires it; validation (validate-*.ts) is what
 * guarantees the required ones are present, so a value typed here has been validated.
 */
import type { Resource } from '../resource.js';

// ---------------------------------------------------------------------------------------------
// Shared building blocks
// ---------------------------------------------------------------------------------------------

/** Exactly one of the three is set (validation enforces it). */
export type StringMatch = { exact: string } | { prefix: string } | { regex: string };

/** A percentage as Istio writes it: `{ value: 12.5 }`, 0..100. */
export interface Percent {
  value: number;
}

export interface PortSelector {
  number: number;
}

/** Where traffic goes: a service host (short name or FQDN), optional subset and port. */
export interface Destination {
  host: string;
  subset?: string;
  port?: PortSelector;
}

export interface WorkloadSelector {
  labels?: Record<string, string>;
}

/**
 * A DestinationRule's selector: Istio's `istio.type.v1beta1.WorkloadSelector`, whose field is
 * `matchLabels`; `labels` (the other kinds' spelling) is read too, with a warning.
 */
export interface DestinationRuleSelector {
  matchLabels?: Record<string, string>;
  labels?: Record<string, string>;
}

/**
 * The labels a DestinationRule's workloadSelector selects, or undefined when it has none. An
 * empty selector (`{}`) selects every workload of the rule's namespace, as in Istio.
 */
export function destinationRuleSelectorLabels(spec: {
  workloadSelector?: DestinationRuleSelector | null;
}): Record<string, string> | undefined {
  const sel = spec.workloadSelector;
  if (sel === undefined || sel === null) return undefined;
  return sel.matchLabels ?? sel.labels ?? {};
}

/** A port as Gateway servers, ServiceEntry and Sidecar listeners declare it. */
export interface Port {
  number: number;
  /** HTTP, HTTPS, GRPC, GRPC-WEB, HTTP2, MONGO, TCP, TLS (case-insensitive in Istio). */
  protocol?: string;
  name?: string;
  targetPort?: number;
}

// ---------------------------------------------------------------------------------------------
// VirtualService
// ---------------------------------------------------------------------------------------------

export interface VirtualServiceSpec {
  /** Absent or empty for a delegate VirtualService (referenced from another one's `delegate`). */
  hosts?: string[];
  /** `mesh`, `name` or `namespace/name`; empty means `mesh`. */
  gateways?: string[];
  http?: HTTPRoute[];
  tls?: TLSRoute[];
  tcp?: TCPRoute[];
  exportTo?: string[];
}

export interface HTTPRoute {
  name?: string;
  match?: HTTPMatchRequest[];
  route?: HTTPRouteDestination[];
  redirect?: HTTPRedirect;
  directResponse?: HTTPDirectResponse;
  delegate?: Delegate;
  rewrite?: HTTPRewrite;
  timeout?: string;
  retries?: HTTPRetry;
  fault?: HTTPFaultInjection;
  mirror?: Destination;
  mirrorPercentage?: Percent;
  /** Deprecated integer percentage; use mirrorPercentage. */
  mirrorPercent?: number;
  /** mirrorPercent under its proto field name, as protojson (istioctl, Istio's file source) reads it. */
  mirror_percent?: number;
  mirrors?: HTTPMirrorPolicy[];
  corsPolicy?: CorsPolicy;
  headers?: Headers;
}

export interface HTTPMatchRequest {
  name?: string;
  uri?: StringMatch;
  scheme?: StringMatch;
  method?: StringMatch;
  authority?: StringMatch;
  /** Keys are header names (lower case); `{}` as a value means "present". */
  headers?: Record<string, StringMatch>;
  withoutHeaders?: Record<string, StringMatch>;
  queryParams?: Record<string, StringMatch>;
  port?: number;
  sourceLabels?: Record<string, string>;
  sourceNamespace?: string;
  gateways?: string[];
  ignoreUriCase?: boolean;
  statPrefix?: string;
}

export interface HTTPRouteDestination {
  destination: Destination;
  /** 0..100; absent on a lone destination means all traffic. */
  weight?: number;
  headers?: Headers;
}

/** TCP and TLS routes carry no header operations. */
export interface RouteDestination {
  destination: Destination;
  weight?: number;
}

export interface HTTPRedirect {
  uri?: string;
  /** Replaces the matched URI prefix in the redirect (all uri matches must be prefixes). */
  prefixRewrite?: string;
  authority?: string;
  port?: number;
  derivePort?: 'FROM_PROTOCOL_DEFAULT' | 'FROM_REQUEST_PORT';
  scheme?: string;
  /** Defaults to 301. */
  redirectCode?: number;
}

export interface HTTPDirectResponse {
  status: number;
  body?: { string: string } | { bytes: string };
}

export interface Delegate {
  name: string;
  /** Defaults to the namespace of the VirtualService that delegates. */
  namespace?: string;
}

export interface RegexRewrite {
  match: string;
  rewrite: string;
}

export interface HTTPRewrite {
  uri?: string;
  authority?: string;
  uriRegexRewrite?: RegexRewrite;
}

export interface HTTPRetry {
  attempts?: number;
  perTryTimeout?: string;
  /** Comma-separated Envoy retry conditions, e.g. `5xx,gateway-error,connect-failure`. */
  retryOn?: string;
  retryRemoteLocalities?: boolean;
  retryIgnorePreviousHosts?: boolean;
  /** Base interval of Envoy's retry backoff. */
  backoff?: string;
}

export interface HTTPFaultInjection {
  delay?: HTTPFaultDelay;
  abort?: HTTPFaultAbort;
}

export interface HTTPFaultDelay {
  fixedDelay?: string;
  percentage?: Percent;
  /** Deprecated integer percentage; use percentage. */
  percent?: number;
}

export interface HTTPFaultAbort {
  httpStatus?: number;
  /** A gRPC status name, e.g. `UNAVAILABLE`. */
  grpcStatus?: string;
  percentage?: Percent;
}

export interface HTTPMirrorPolicy {
  destination: Destination;
  percentage?: Percent;
}

export interface CorsPolicy {
  allowOrigins?: StringMatch[];
  /** Deprecated exact origins; use allowOrigins. */
  allowOrigin?: string[];
  allowMethods?: string[];
  allowHeaders?: string[];
  exposeHeaders?: string[];
  maxAge?: string;
  allowCredentials?: boolean;
  unmatchedPreflights?: 'UNSPECIFIED' | 'FORWARD' | 'IGNORE';
}

export interface HeaderOperations {
  set?: Record<string, string>;
  add?: Record<string, string>;
  remove?: string[];
}

export interface Headers {
  request?: HeaderOperations;
  response?: HeaderOperations;
}

export interface TLSMatchAttributes {
  sniHosts: string[];
  destinationSubnets?: string[];
  port?: number;
  sourceLabels?: Record<string, string>;
  gateways?: string[];
  sourceNamespace?: string;
}

export interface TLSRoute {
  match: TLSMatchAttributes[];
  route?: RouteDestination[];
}

export interface L4MatchAttributes {
  destinationSubnets?: string[];
  port?: number;
  sourceSubnet?: string;
  sourceLabels?: Record<string, string>;
  gateways?: string[];
  sourceNamespace?: string;
}

export interface TCPRoute {
  match?: L4MatchAttributes[];
  route?: RouteDestination[];
}

// ---------------------------------------------------------------------------------------------
// DestinationRule
// ---------------------------------------------------------------------------------------------

export interface DestinationRuleSpec {
  host: string;
  trafficPolicy?: TrafficPolicy;
  subsets?: Subset[];
  exportTo?: string[];
  workloadSelector?: DestinationRuleSelector;
}

export interface Subset {
  name: string;
  labels?: Record<string, string>;
  trafficPolicy?: TrafficPolicy;
}

export interface TrafficPolicy {
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTLSSettings;
  portLevelSettings?: PortTrafficPolicy[];
}

export interface PortTrafficPolicy {
  port: PortSelector;
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTLSSettings;
}

export type SimpleLB =
  'UNSPECIFIED' | 'LEAST_CONN' | 'RANDOM' | 'PASSTHROUGH' | 'ROUND_ROBIN' | 'LEAST_REQUEST';

export interface LoadBalancerSettings {
  /** Exactly one of simple / consistentHash (validation enforces it). */
  simple?: SimpleLB;
  consistentHash?: ConsistentHashLB;
  localityLbSetting?: LocalityLoadBalancerSetting;
  /** Slow-start window, an Istio duration. */
  warmupDurationSecs?: string;
}

export interface HTTPCookie {
  name: string;
  path?: string;
  ttl?: string;
}

export interface ConsistentHashLB {
  /** Exactly one hash key: httpHeaderName / httpCookie / useSourceIp / httpQueryParameterName. */
  httpHeaderName?: string;
  httpCookie?: HTTPCookie;
  useSourceIp?: boolean;
  httpQueryParameterName?: string;
  /** At most one of ringHash / maglev; neither means ring hash with defaults. */
  ringHash?: { minimumRingSize?: number };
  maglev?: { tableSize?: number };
  /** Deprecated; use ringHash.minimumRingSize. */
  minimumRingSize?: number;
}

export interface LocalityLoadBalancerSetting {
  /** `from` / keys of `to` are `region/zone/subzone` with `*` wildcards; `to` weights sum to 100. */
  distribute?: { from: string; to: Record<string, number> }[];
  failover?: { from: string; to: string }[];
  /** Label keys, e.g. `topology.kubernetes.io/region`. */
  failoverPriority?: string[];
  enabled?: boolean;
}

export interface TcpKeepalive {
  probes?: number;
  time?: string;
  interval?: string;
}

export interface TCPSettings {
  maxConnections?: number;
  connectTimeout?: string;
  tcpKeepalive?: TcpKeepalive;
  maxConnectionDuration?: string;
  idleTimeout?: string;
}

export interface HTTPSettings {
  http1MaxPendingRequests?: number;
  http2MaxRequests?: number;
  maxRequestsPerConnection?: number;
  maxRetries?: number;
  idleTimeout?: string;
  h2UpgradePolicy?: 'DEFAULT' | 'DO_NOT_UPGRADE' | 'UPGRADE';
  useClientProtocol?: boolean;
  maxConcurrentStreams?: number;
}

export interface ConnectionPoolSettings {
  tcp?: TCPSettings;
  http?: HTTPSettings;
}

export interface OutlierDetection {
  /** Deprecated: Istio maps it to consecutive gateway errors (502/503/504). */
  consecutiveErrors?: number;
  consecutive5xxErrors?: number;
  consecutiveGatewayErrors?: number;
  consecutiveLocalOriginFailures?: number;
  splitExternalLocalOriginErrors?: boolean;
  interval?: string;
  baseEjectionTime?: string;
  maxEjectionPercent?: number;
  minHealthPercent?: number;
}

export type ClientTLSMode = 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';

export interface ClientTLSSettings {
  mode?: ClientTLSMode;
  clientCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  credentialName?: string;
  subjectAltNames?: string[];
  sni?: string;
  insecureSkipVerify?: boolean;
  caCrl?: string;
}

// ---------------------------------------------------------------------------------------------
// Gateway
// ---------------------------------------------------------------------------------------------

export interface GatewaySpec {
  servers: Server[];
  /** Labels of the gateway workloads this applies to, e.g. `{ istio: ingressgateway }`. */
  selector?: Record<string, string>;
}

export interface Server {
  port: Port;
  bind?: string;
  /** `[namespace/]dnsName`, `*` wildcards allowed. */
  hosts: string[];
  tls?: ServerTLSSettings;
  defaultEndpoint?: string;
  name?: string;
}

export type ServerTLSMode =
  'PASSTHROUGH' | 'SIMPLE' | 'MUTUAL' | 'AUTO_PASSTHROUGH' | 'ISTIO_MUTUAL' | 'OPTIONAL_MUTUAL';

export interface ServerTLSSettings {
  httpsRedirect?: boolean;
  mode?: ServerTLSMode;
  serverCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  caCrl?: string;
  credentialName?: string;
  /** Several credentials (e.g. RSA and ECDSA) for one server. */
  credentialNames?: string[];
  subjectAltNames?: string[];
  verifyCertificateSpki?: string[];
  verifyCertificateHash?: string[];
  minProtocolVersion?: TLSProtocol;
  maxProtocolVersion?: TLSProtocol;
  cipherSuites?: string[];
}

export type TLSProtocol = 'TLS_AUTO' | 'TLSV1_0' | 'TLSV1_1' | 'TLSV1_2' | 'TLSV1_3';

// ---------------------------------------------------------------------------------------------
// ServiceEntry and WorkloadEntry
// ---------------------------------------------------------------------------------------------

export type ServiceEntryLocation = 'MESH_EXTERNAL' | 'MESH_INTERNAL';
export type ServiceEntryResolution = 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN';

export interface ServiceEntrySpec {
  hosts: string[];
  /** Virtual IPs / CIDRs of the service. */
  addresses?: string[];
  ports?: Port[];
  /** Defaults to MESH_EXTERNAL. */
  location?: ServiceEntryLocation;
  /** Defaults to NONE. */
  resolution?: ServiceEntryResolution;
  endpoints?: WorkloadEntrySpec[];
  workloadSelector?: WorkloadSelector;
  exportTo?: string[];
  subjectAltNames?: string[];
}

export interface WorkloadEntrySpec {
  /** IP, DNS name, or `unix://` socket path. Required on a WorkloadEntry resource. */
  address?: string;
  /** Port name -> workload port number, overriding the service port. */
  ports?: Record<string, number>;
  labels?: Record<string, string>;
  network?: string;
  /** `region/zone/subzone`. */
  locality?: string;
  /** Relative load-balancing weight, >= 0. */
  weight?: number;
  serviceAccount?: string;
}

// ---------------------------------------------------------------------------------------------
// Sidecar
// ---------------------------------------------------------------------------------------------

export type CaptureMode = 'DEFAULT' | 'IPTABLES' | 'NONE';

export interface IstioIngressListener {
  port: Port;
  bind?: string;
  captureMode?: CaptureMode;
  /** `127.0.0.1:PORT`, `0.0.0.0:PORT` or `unix://path`. */
  defaultEndpoint?: string;
  tls?: ServerTLSSettings;
  connectionPool?: ConnectionPoolSettings;
}

export interface IstioEgressListener {
  port?: Port;
  bind?: string;
  captureMode?: CaptureMode;
  /** `namespace/dnsName`: `./*`, `istio-system/*`, `*\/reviews.default.svc.cluster.local`, `~/*`. */
  hosts: string[];
}

export interface OutboundTrafficPolicy {
  mode?: 'REGISTRY_ONLY' | 'ALLOW_ANY';
  egressProxy?: Destination;
}

export interface SidecarSpec {
  workloadSelector?: WorkloadSelector;
  ingress?: IstioIngressListener[];
  egress?: IstioEgressListener[];
  outboundTrafficPolicy?: OutboundTrafficPolicy;
  inboundConnectionPool?: ConnectionPoolSettings;
}

// ---------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------

export type VirtualService = Resource<VirtualServiceSpec>;
export type DestinationRule = Resource<DestinationRuleSpec>;
export type Gateway = Resource<GatewaySpec>;
export type ServiceEntry = Resource<ServiceEntrySpec>;
export type WorkloadEntry = Resource<WorkloadEntrySpec>;
export type Sidecar = Resource<SidecarSpec>;

/** The kind names, for `ConfigSnapshot.list(KIND.VirtualService)`. */
export const KIND = {
  VirtualService: 'VirtualService',
  DestinationRule: 'DestinationRule',
  Gateway: 'Gateway',
  ServiceEntry: 'ServiceEntry',
  WorkloadEntry: 'WorkloadEntry',
  Sidecar: 'Sidecar',
} as const;

export const NETWORKING_GROUP = 'networking.istio.io';
