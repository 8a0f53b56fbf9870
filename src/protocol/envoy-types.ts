/**
 * Envoy's v3 messages as TypeScript types, under short names: aliases of the types
 * scripts/gen-envoy-types.mjs generates into ./generated (never edited by hand).
 *
 * Each message has two types, as @grpc/proto-loader generates them:
 * - `X` (input): what the control plane builds and `encodeMessage`/`packAny` accept: fields
 *   optional, enums as names (or numbers), 64-bit integers as number | string | Long.
 * - `X__Output`: what `decodeMessage`/`unpackAny` return (protos.ts CONVERSION): enums as names,
 *   longs as numbers, bytes as Buffer, absent fields undefined, and a virtual field naming the
 *   member set in each oneof. The proxy reads these.
 *
 * A message not listed here is reachable as a property type (`NonNullable<Cluster['x']>`), or
 * add it (and, if it is new to the generator, its root in scripts/gen-envoy-types.mjs).
 */
import type { TYPE } from './protos.js';

export type { Listener, Listener__Output } from './generated/envoy/config/listener/v3/Listener.js';
export type { FilterChain, FilterChain__Output } from './generated/envoy/config/listener/v3/FilterChain.js';
export type {
  FilterChainMatch,
  FilterChainMatch__Output,
} from './generated/envoy/config/listener/v3/FilterChainMatch.js';
export type {
  Filter as NetworkFilter,
  Filter__Output as NetworkFilter__Output,
} from './generated/envoy/config/listener/v3/Filter.js';
export type {
  RouteConfiguration,
  RouteConfiguration__Output,
} from './generated/envoy/config/route/v3/RouteConfiguration.js';
export type { VirtualHost, VirtualHost__Output } from './generated/envoy/config/route/v3/VirtualHost.js';
export type { Route, Route__Output } from './generated/envoy/config/route/v3/Route.js';
export type { RouteMatch, RouteMatch__Output } from './generated/envoy/config/route/v3/RouteMatch.js';
export type { RouteAction, RouteAction__Output } from './generated/envoy/config/route/v3/RouteAction.js';
export type {
  HeaderMatcher,
  HeaderMatcher__Output,
} from './generated/envoy/config/route/v3/HeaderMatcher.js';
export type {
  QueryParameterMatcher,
  QueryParameterMatcher__Output,
} from './generated/envoy/config/route/v3/QueryParameterMatcher.js';
export type {
  WeightedCluster,
  WeightedCluster__Output,
} from './generated/envoy/config/route/v3/WeightedCluster.js';
export type { RetryPolicy, RetryPolicy__Output } from './generated/envoy/config/route/v3/RetryPolicy.js';
export type {
  RedirectAction,
  RedirectAction__Output,
} from './generated/envoy/config/route/v3/RedirectAction.js';
export type {
  DirectResponseAction,
  DirectResponseAction__Output,
} from './generated/envoy/config/route/v3/DirectResponseAction.js';
export type {
  RateLimit as RouteRateLimit,
  RateLimit__Output as RouteRateLimit__Output,
} from './generated/envoy/config/route/v3/RateLimit.js';
export type { Address, Address__Output } from './generated/envoy/config/core/v3/Address.js';
export type { SocketAddress, SocketAddress__Output } from './generated/envoy/config/core/v3/SocketAddress.js';
export type { ConfigSource, ConfigSource__Output } from './generated/envoy/config/core/v3/ConfigSource.js';
export type {
  HeaderValueOption,
  HeaderValueOption__Output,
} from './generated/envoy/config/core/v3/HeaderValueOption.js';
export type { Metadata, Metadata__Output } from './generated/envoy/config/core/v3/Metadata.js';
export type {
  RuntimeFractionalPercent,
  RuntimeFractionalPercent__Output,
} from './generated/envoy/config/core/v3/RuntimeFractionalPercent.js';
export type {
  TransportSocket,
  TransportSocket__Output,
} from './generated/envoy/config/core/v3/TransportSocket.js';
export type { DataSource, DataSource__Output } from './generated/envoy/config/core/v3/DataSource.js';
export type { Locality, Locality__Output } from './generated/envoy/config/core/v3/Locality.js';
export type {
  Http2ProtocolOptions,
  Http2ProtocolOptions__Output,
} from './generated/envoy/config/core/v3/Http2ProtocolOptions.js';
export type { TcpKeepalive, TcpKeepalive__Output } from './generated/envoy/config/core/v3/TcpKeepalive.js';
export type { Cluster, Cluster__Output } from './generated/envoy/config/cluster/v3/Cluster.js';
export type {
  CircuitBreakers,
  CircuitBreakers__Output,
} from './generated/envoy/config/cluster/v3/CircuitBreakers.js';
export type {
  OutlierDetection,
  OutlierDetection__Output,
} from './generated/envoy/config/cluster/v3/OutlierDetection.js';
export type {
  ClusterLoadAssignment,
  ClusterLoadAssignment__Output,
} from './generated/envoy/config/endpoint/v3/ClusterLoadAssignment.js';
export type {
  LocalityLbEndpoints,
  LocalityLbEndpoints__Output,
} from './generated/envoy/config/endpoint/v3/LocalityLbEndpoints.js';
export type { LbEndpoint, LbEndpoint__Output } from './generated/envoy/config/endpoint/v3/LbEndpoint.js';
export type { Secret, Secret__Output } from './generated/envoy/extensions/transport_sockets/tls/v3/Secret.js';
export type {
  DownstreamTlsContext,
  DownstreamTlsContext__Output,
} from './generated/envoy/extensions/transport_sockets/tls/v3/DownstreamTlsContext.js';
export type {
  UpstreamTlsContext,
  UpstreamTlsContext__Output,
} from './generated/envoy/extensions/transport_sockets/tls/v3/UpstreamTlsContext.js';
export type {
  CommonTlsContext,
  CommonTlsContext__Output,
} from './generated/envoy/extensions/transport_sockets/tls/v3/CommonTlsContext.js';
export type {
  TlsCertificate,
  TlsCertificate__Output,
} from './generated/envoy/extensions/transport_sockets/tls/v3/TlsCertificate.js';
export type {
  CertificateValidationContext,
  CertificateValidationContext__Output,
} from './generated/envoy/extensions/transport_sockets/tls/v3/CertificateValidationContext.js';
export type {
  SdsSecretConfig,
  SdsSecretConfig__Output,
} from './generated/envoy/extensions/transport_sockets/tls/v3/SdsSecretConfig.js';
export type {
  TlsParameters,
  TlsParameters__Output,
} from './generated/envoy/extensions/transport_sockets/tls/v3/TlsParameters.js';
export type {
  HttpConnectionManager,
  HttpConnectionManager__Output,
} from './generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpConnectionManager.js';
export type {
  HttpFilter,
  HttpFilter__Output,
} from './generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpFilter.js';
export type {
  TcpProxy,
  TcpProxy__Output,
} from './generated/envoy/extensions/filters/network/tcp_proxy/v3/TcpProxy.js';
export type { Router, Router__Output } from './generated/envoy/extensions/filters/http/router/v3/Router.js';
export type {
  HTTPFault,
  HTTPFault__Output,
} from './generated/envoy/extensions/filters/http/fault/v3/HTTPFault.js';
export type { Cors, Cors__Output } from './generated/envoy/extensions/filters/http/cors/v3/Cors.js';
// Dynamic forward proxy: HTTP to hosts outside the registry, resolved by DNS (ALLOW_ANY).
export type {
  FilterConfig as DynamicForwardProxyFilter,
  FilterConfig__Output as DynamicForwardProxyFilter__Output,
} from './generated/envoy/extensions/filters/http/dynamic_forward_proxy/v3/FilterConfig.js';
export type {
  ClusterConfig as DynamicForwardProxyCluster,
  ClusterConfig__Output as DynamicForwardProxyCluster__Output,
} from './generated/envoy/extensions/clusters/dynamic_forward_proxy/v3/ClusterConfig.js';
export type {
  ClusterConfig as AggregateCluster,
  ClusterConfig__Output as AggregateCluster__Output,
} from './generated/envoy/extensions/clusters/aggregate/v3/ClusterConfig.js';
export type {
  DnsCacheConfig,
  DnsCacheConfig__Output,
} from './generated/envoy/extensions/common/dynamic_forward_proxy/v3/DnsCacheConfig.js';
export type {
  CorsPolicy,
  CorsPolicy__Output,
} from './generated/envoy/extensions/filters/http/cors/v3/CorsPolicy.js';
export type {
  LocalRateLimit,
  LocalRateLimit__Output,
} from './generated/envoy/extensions/filters/http/local_ratelimit/v3/LocalRateLimit.js';
export type {
  RateLimit as RateLimitFilter,
  RateLimit__Output as RateLimitFilter__Output,
} from './generated/envoy/extensions/filters/http/ratelimit/v3/RateLimit.js';
export type {
  FileAccessLog,
  FileAccessLog__Output,
} from './generated/envoy/extensions/access_loggers/file/v3/FileAccessLog.js';
export type {
  StdoutAccessLog,
  StdoutAccessLog__Output,
} from './generated/envoy/extensions/access_loggers/stream/v3/StdoutAccessLog.js';
export type {
  HttpProtocolOptions,
  HttpProtocolOptions__Output,
} from './generated/envoy/extensions/upstreams/http/v3/HttpProtocolOptions.js';
export type {
  FractionalPercent,
  FractionalPercent__Output,
} from './generated/envoy/type/v3/FractionalPercent.js';
export type { Percent, Percent__Output } from './generated/envoy/type/v3/Percent.js';
export type {
  OpenTelemetryConfig,
  OpenTelemetryConfig__Output,
} from './generated/envoy/config/trace/v3/OpenTelemetryConfig.js';
export type { CustomTag, CustomTag__Output } from './generated/envoy/type/tracing/v3/CustomTag.js';
export type {
  StringMatcher,
  StringMatcher__Output,
} from './generated/envoy/type/matcher/v3/StringMatcher.js';
export type { RegexMatcher, RegexMatcher__Output } from './generated/envoy/type/matcher/v3/RegexMatcher.js';
export type {
  DiscoveryResponse,
  DiscoveryResponse__Output,
} from './generated/envoy/service/discovery/v3/DiscoveryResponse.js';
export type { Duration, Duration__Output } from './generated/google/protobuf/Duration.js';
export type { Struct, Struct__Output } from './generated/google/protobuf/Struct.js';
export type { Value, Value__Output } from './generated/google/protobuf/Value.js';

export type { AccessLog, AccessLog__Output } from './generated/envoy/config/accesslog/v3/AccessLog.js';
export type { UInt32Value, UInt32Value__Output } from './generated/google/protobuf/UInt32Value.js';
export type { BoolValue, BoolValue__Output } from './generated/google/protobuf/BoolValue.js';
import type { CircuitBreakers__Output } from './generated/envoy/config/cluster/v3/CircuitBreakers.js';
/** One CircuitBreakers.Thresholds entry, as decoded. */
export type CircuitThresholds__Output = NonNullable<CircuitBreakers__Output['thresholds']>[number];

import type { HttpConnectionManager } from './generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpConnectionManager.js';
import type { TcpProxy } from './generated/envoy/extensions/filters/network/tcp_proxy/v3/TcpProxy.js';
import type { Router } from './generated/envoy/extensions/filters/http/router/v3/Router.js';
import type { HTTPFault } from './generated/envoy/extensions/filters/http/fault/v3/HTTPFault.js';
import type { Cors } from './generated/envoy/extensions/filters/http/cors/v3/Cors.js';
import type { FilterConfig as DfpFilterMsg } from './generated/envoy/extensions/filters/http/dynamic_forward_proxy/v3/FilterConfig.js';
import type { ClusterConfig as DfpClusterMsg } from './generated/envoy/extensions/clusters/dynamic_forward_proxy/v3/ClusterConfig.js';
import type { ClusterConfig as AggregateClusterMsg } from './generated/envoy/extensions/clusters/aggregate/v3/ClusterConfig.js';
import type { CorsPolicy } from './generated/envoy/extensions/filters/http/cors/v3/CorsPolicy.js';
import type { LocalRateLimit } from './generated/envoy/extensions/filters/http/local_ratelimit/v3/LocalRateLimit.js';
import type { RateLimit as RateLimitFilter } from './generated/envoy/extensions/filters/http/ratelimit/v3/RateLimit.js';
import type { DownstreamTlsContext } from './generated/envoy/extensions/transport_sockets/tls/v3/DownstreamTlsContext.js';
import type { UpstreamTlsContext } from './generated/envoy/extensions/transport_sockets/tls/v3/UpstreamTlsContext.js';
import type { FileAccessLog } from './generated/envoy/extensions/access_loggers/file/v3/FileAccessLog.js';
// Security: RBAC (HTTP and network), JWT authentication, external authorization, TLS inspection.
export type {
  RBAC as RbacConfig,
  RBAC__Output as RbacConfig__Output,
} from './generated/envoy/config/rbac/v3/RBAC.js';
export type {
  Policy as RbacPolicy,
  Policy__Output as RbacPolicy__Output,
} from './generated/envoy/config/rbac/v3/Policy.js';
export type {
  Permission as RbacPermission,
  Permission__Output as RbacPermission__Output,
} from './generated/envoy/config/rbac/v3/Permission.js';
export type {
  Principal as RbacPrincipal,
  Principal__Output as RbacPrincipal__Output,
} from './generated/envoy/config/rbac/v3/Principal.js';
export type {
  RBAC as HttpRbac,
  RBAC__Output as HttpRbac__Output,
} from './generated/envoy/extensions/filters/http/rbac/v3/RBAC.js';
export type {
  RBAC as NetworkRbac,
  RBAC__Output as NetworkRbac__Output,
} from './generated/envoy/extensions/filters/network/rbac/v3/RBAC.js';
export type {
  JwtAuthentication,
  JwtAuthentication__Output,
} from './generated/envoy/extensions/filters/http/jwt_authn/v3/JwtAuthentication.js';
export type {
  JwtProvider,
  JwtProvider__Output,
} from './generated/envoy/extensions/filters/http/jwt_authn/v3/JwtProvider.js';
export type {
  ExtAuthz as HttpExtAuthz,
  ExtAuthz__Output as HttpExtAuthz__Output,
} from './generated/envoy/extensions/filters/http/ext_authz/v3/ExtAuthz.js';
export type {
  ExtAuthz as NetworkExtAuthz,
  ExtAuthz__Output as NetworkExtAuthz__Output,
} from './generated/envoy/extensions/filters/network/ext_authz/v3/ExtAuthz.js';
export type {
  TlsInspector,
  TlsInspector__Output,
} from './generated/envoy/extensions/filters/listener/tls_inspector/v3/TlsInspector.js';
export type { CheckRequest, CheckRequest__Output } from './generated/envoy/service/auth/v3/CheckRequest.js';
export type {
  CheckResponse,
  CheckResponse__Output,
} from './generated/envoy/service/auth/v3/CheckResponse.js';

import type { StdoutAccessLog } from './generated/envoy/extensions/access_loggers/stream/v3/StdoutAccessLog.js';
import type { HttpProtocolOptions } from './generated/envoy/extensions/upstreams/http/v3/HttpProtocolOptions.js';
import type { Listener } from './generated/envoy/config/listener/v3/Listener.js';
import type { RouteConfiguration } from './generated/envoy/config/route/v3/RouteConfiguration.js';
import type { Cluster } from './generated/envoy/config/cluster/v3/Cluster.js';
import type { ClusterLoadAssignment } from './generated/envoy/config/endpoint/v3/ClusterLoadAssignment.js';
import type { Secret } from './generated/envoy/extensions/transport_sockets/tls/v3/Secret.js';
import type { RBAC as HttpRbacMsg } from './generated/envoy/extensions/filters/http/rbac/v3/RBAC.js';
import type { RBAC as NetworkRbacMsg } from './generated/envoy/extensions/filters/network/rbac/v3/RBAC.js';
import type { JwtAuthentication as JwtAuthenticationMsg } from './generated/envoy/extensions/filters/http/jwt_authn/v3/JwtAuthentication.js';
import type { ExtAuthz as HttpExtAuthzMsg } from './generated/envoy/extensions/filters/http/ext_authz/v3/ExtAuthz.js';
import type { ExtAuthz as NetworkExtAuthzMsg } from './generated/envoy/extensions/filters/network/ext_authz/v3/ExtAuthz.js';
import type { TlsInspector as TlsInspectorMsg } from './generated/envoy/extensions/filters/listener/tls_inspector/v3/TlsInspector.js';
import type { RawBuffer as RawBufferMsg } from './generated/envoy/extensions/transport_sockets/raw_buffer/v3/RawBuffer.js';
import type { OpenTelemetryConfig as OpenTelemetryConfigMsg } from './generated/envoy/config/trace/v3/OpenTelemetryConfig.js';

/** The message each type URL Trellis packs into an Any carries (input side). */
export interface PackedMessages {
  [TYPE.listener]: Listener;
  [TYPE.route]: RouteConfiguration;
  [TYPE.cluster]: Cluster;
  [TYPE.endpoint]: ClusterLoadAssignment;
  [TYPE.secret]: Secret;
  [TYPE.hcm]: HttpConnectionManager;
  [TYPE.tcpProxy]: TcpProxy;
  [TYPE.router]: Router;
  [TYPE.fault]: HTTPFault;
  [TYPE.cors]: Cors;
  [TYPE.dynamicForwardProxy]: DfpFilterMsg;
  [TYPE.dynamicForwardProxyCluster]: DfpClusterMsg;
  [TYPE.aggregateCluster]: AggregateClusterMsg;
  [TYPE.corsPolicy]: CorsPolicy;
  [TYPE.localRateLimit]: LocalRateLimit;
  [TYPE.rateLimit]: RateLimitFilter;
  [TYPE.downstreamTls]: DownstreamTlsContext;
  [TYPE.upstreamTls]: UpstreamTlsContext;
  [TYPE.fileAccessLog]: FileAccessLog;
  [TYPE.stdoutAccessLog]: StdoutAccessLog;
  [TYPE.http2Options]: HttpProtocolOptions;
  [TYPE.rbac]: HttpRbacMsg;
  [TYPE.networkRbac]: NetworkRbacMsg;
  [TYPE.jwtAuthn]: JwtAuthenticationMsg;
  [TYPE.extAuthz]: HttpExtAuthzMsg;
  [TYPE.networkExtAuthz]: NetworkExtAuthzMsg;
  [TYPE.tlsInspector]: TlsInspectorMsg;
  [TYPE.rawBuffer]: RawBufferMsg;
  [TYPE.openTelemetryTracer]: OpenTelemetryConfigMsg;
}
export type PackedTypeUrl = keyof PackedMessages;
