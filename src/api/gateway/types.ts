/**
 * The Kubernetes Gateway API (`gateway.networking.k8s.io`), with field names exactly as its YAML
 * writes them (https://gateway-api.sigs.k8s.io/reference/spec/). Only what validation
 * (validate-*.ts) guarantees is typed as required. Trellis converts these into Istio Gateways and
 * VirtualServices (controllers/gateway-api), as Istio does.
 */
import type { Resource } from '../resource.js';

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';

/** The kind names as stored (the Gateway API's `Gateway` is stored as `KubernetesGateway`). */
export const GATEWAY_API_KIND = {
  GatewayClass: 'GatewayClass',
  Gateway: 'KubernetesGateway',
  HTTPRoute: 'HTTPRoute',
  GRPCRoute: 'GRPCRoute',
  TCPRoute: 'TCPRoute',
  TLSRoute: 'TLSRoute',
  ReferenceGrant: 'ReferenceGrant',
} as const;

/** `group` and `kind` as the API defaults them: a reference with neither names a core Service. */
export interface LocalObjectReference {
  group?: string;
  kind?: string;
  name: string;
}

export interface ObjectReference extends LocalObjectReference {
  namespace?: string;
}

export interface GatewayClassSpec {
  controllerName: string;
  description?: string;
  parametersRef?: ObjectReference;
}

export type ListenerProtocol = 'HTTP' | 'HTTPS' | 'TLS' | 'TCP' | 'UDP';

export interface RouteGroupKind {
  group?: string;
  kind: string;
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: {
    key: string;
    operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
    values?: string[];
  }[];
}

export interface AllowedRoutes {
  namespaces?: { from?: 'All' | 'Same' | 'Selector'; selector?: LabelSelector };
  kinds?: RouteGroupKind[];
}

export interface GatewayTLSConfig {
  /** Defaults to Terminate. */
  mode?: 'Terminate' | 'Passthrough';
  certificateRefs?: ObjectReference[];
  options?: Record<string, string>;
}

export interface Listener {
  name: string;
  hostname?: string;
  port: number;
  protocol: string;
  tls?: GatewayTLSConfig;
  allowedRoutes?: AllowedRoutes;
}

export interface GatewaySpec {
  gatewayClassName: string;
  listeners: Listener[];
  addresses?: { type?: string; value: string }[];
  infrastructure?: { labels?: Record<string, string>; annotations?: Record<string, string> };
}

export interface ParentReference {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

export interface BackendRef extends ObjectReference {
  port?: number;
  /** 0..1000000; defaults to 1. */
  weight?: number;
}

export type MatchType = 'Exact' | 'PathPrefix' | 'RegularExpression';

export interface HTTPPathMatch {
  /** Defaults to PathPrefix. */
  type?: MatchType;
  /** Defaults to `/`. */
  value?: string;
}

export interface NameValueMatch {
  /** Defaults to Exact. */
  type?: 'Exact' | 'RegularExpression';
  name: string;
  value: string;
}

export interface HTTPRouteMatch {
  path?: HTTPPathMatch;
  headers?: NameValueMatch[];
  queryParams?: NameValueMatch[];
  method?: string;
}

export interface HTTPHeader {
  name: string;
  value: string;
}

export interface HeaderModifier {
  set?: HTTPHeader[];
  add?: HTTPHeader[];
  remove?: string[];
}

export interface PathModifier {
  type: 'ReplaceFullPath' | 'ReplacePrefixMatch';
  replaceFullPath?: string;
  replacePrefixMatch?: string;
}

export interface RequestRedirect {
  scheme?: 'http' | 'https';
  hostname?: string;
  path?: PathModifier;
  port?: number;
  /** 301, 302 (the default), 303, 307, 308. */
  statusCode?: number;
}

export interface URLRewrite {
  hostname?: string;
  path?: PathModifier;
}

export interface RequestMirror {
  backendRef: BackendRef;
  percent?: number;
  fraction?: { numerator: number; denominator?: number };
}

export type HTTPFilterType =
  | 'RequestHeaderModifier'
  | 'ResponseHeaderModifier'
  | 'RequestRedirect'
  | 'URLRewrite'
  | 'RequestMirror'
  | 'ExtensionRef';

export interface HTTPRouteFilter {
  type: HTTPFilterType;
  requestHeaderModifier?: HeaderModifier;
  responseHeaderModifier?: HeaderModifier;
  requestRedirect?: RequestRedirect;
  urlRewrite?: URLRewrite;
  requestMirror?: RequestMirror;
  extensionRef?: LocalObjectReference;
}

export interface HTTPBackendRef extends BackendRef {
  filters?: HTTPRouteFilter[];
}

export interface HTTPRouteRule {
  name?: string;
  matches?: HTTPRouteMatch[];
  filters?: HTTPRouteFilter[];
  backendRefs?: HTTPBackendRef[];
  timeouts?: { request?: string; backendRequest?: string };
  retry?: { codes?: number[]; attempts?: number; backoff?: string };
}

export interface HTTPRouteSpec {
  parentRefs?: ParentReference[];
  hostnames?: string[];
  rules?: HTTPRouteRule[];
}

export interface GRPCMethodMatch {
  type?: 'Exact' | 'RegularExpression';
  service?: string;
  method?: string;
}

export interface GRPCRouteMatch {
  method?: GRPCMethodMatch;
  headers?: NameValueMatch[];
}

export interface GRPCRouteRule {
  name?: string;
  matches?: GRPCRouteMatch[];
  filters?: HTTPRouteFilter[];
  backendRefs?: HTTPBackendRef[];
}

export interface GRPCRouteSpec {
  parentRefs?: ParentReference[];
  hostnames?: string[];
  rules?: GRPCRouteRule[];
}

export interface L4RouteRule {
  name?: string;
  backendRefs?: BackendRef[];
}

export interface TCPRouteSpec {
  parentRefs?: ParentReference[];
  rules: L4RouteRule[];
}

export interface TLSRouteSpec {
  parentRefs?: ParentReference[];
  hostnames?: string[];
  rules: L4RouteRule[];
}

export interface ReferenceGrantSpec {
  from: { group: string; kind: string; namespace: string }[];
  to: { group: string; kind: string; name?: string }[];
}

/** A condition as Kubernetes writes it in `status.conditions`. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

export interface RouteParentStatus {
  parentRef: ParentReference;
  controllerName: string;
  conditions: Condition[];
}

export interface RouteStatus {
  parents: RouteParentStatus[];
}

export interface ListenerStatus {
  name: string;
  attachedRoutes: number;
  supportedKinds: RouteGroupKind[];
  conditions: Condition[];
}

export interface GatewayStatus {
  conditions: Condition[];
  listeners: ListenerStatus[];
}

export type GatewayClass = Resource<GatewayClassSpec>;
export type KubernetesGateway = Resource<GatewaySpec>;
export type HTTPRouteResource = Resource<HTTPRouteSpec>;
export type GRPCRouteResource = Resource<GRPCRouteSpec>;
export type TCPRouteResource = Resource<TCPRouteSpec>;
export type TLSRouteResource = Resource<TLSRouteSpec>;
export type ReferenceGrant = Resource<ReferenceGrantSpec>;
