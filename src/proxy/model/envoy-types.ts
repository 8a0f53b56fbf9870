/**
 * The subset of Envoy's v3 messages the proxy reads, as protobufjs decodes them (snake_case
 * fields, enums as strings, oneofs named by a virtual field, wrappers as `{ value }`, absent
 * fields undefined). Only what the converters read is typed; everything else stays unknown so
 * the converters can reject fields they do not implement instead of ignoring them.
 */
import type { AnyMessage } from '../../protocol/protos.js';

export interface ProtoDurationMsg {
  seconds?: number;
  nanos?: number;
}
export interface WrappedU32 {
  value?: number;
}
export interface WrappedBool {
  value?: boolean;
}

/** google.protobuf.Value: protobufjs's built-in well-known types use camelCase field names. */
export interface StructValue {
  nullValue?: string;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: StructMsg;
  listValue?: { values?: StructValue[] };
}
export interface StructMsg {
  fields?: Record<string, StructValue>;
}
export interface MetadataMsg {
  filter_metadata?: Record<string, StructMsg>;
}

export interface SocketAddressMsg {
  address?: string;
  port_value?: number;
  protocol?: string;
}
export interface AddressMsg {
  socket_address?: SocketAddressMsg;
  pipe?: unknown;
}

export interface DiscoveryResponseMsg {
  version_info?: string;
  resources?: AnyMessage[];
  type_url?: string;
  nonce?: string;
}

// ---- Cluster / ClusterLoadAssignment ----

export interface ClusterMsg {
  name?: string;
  type?: string;
  cluster_discovery_type?: string;
  eds_cluster_config?: { service_name?: string; eds_config?: unknown };
  connect_timeout?: ProtoDurationMsg;
  lb_policy?: string;
  load_assignment?: ClusterLoadAssignmentMsg;
  circuit_breakers?: { thresholds?: CircuitThresholdsMsg[] };
  outlier_detection?: OutlierDetectionMsg;
  http2_protocol_options?: unknown;
  typed_extension_protocol_options?: Record<string, AnyMessage>;
  transport_socket?: { name?: string; typed_config?: AnyMessage };
  metadata?: MetadataMsg;
  common_lb_config?: unknown;
  [field: string]: unknown;
}
export interface CircuitThresholdsMsg {
  priority?: string;
  max_connections?: WrappedU32;
  max_pending_requests?: WrappedU32;
  max_requests?: WrappedU32;
  max_retries?: WrappedU32;
}
export interface OutlierDetectionMsg {
  consecutive_5xx?: WrappedU32;
  consecutive_gateway_failure?: WrappedU32;
  interval?: ProtoDurationMsg;
  base_ejection_time?: ProtoDurationMsg;
  max_ejection_percent?: WrappedU32;
  [field: string]: unknown;
}
export interface HttpProtocolOptionsMsg {
  explicit_http_config?: { http_protocol_options?: unknown; http2_protocol_options?: unknown };
  use_downstream_protocol_config?: unknown;
  auto_config?: unknown;
  upstream_protocol_options?: string;
}

export interface ClusterLoadAssignmentMsg {
  cluster_name?: string;
  policy?: { overprovisioning_factor?: WrappedU32; [field: string]: unknown };
  endpoints?: LocalityLbEndpointsMsg[];
}
export interface LocalityLbEndpointsMsg {
  locality?: { region?: string; zone?: string; sub_zone?: string };
  lb_endpoints?: LbEndpointMsg[];
  load_balancing_weight?: WrappedU32;
  priority?: number;
}
export interface LbEndpointMsg {
  endpoint?: { address?: AddressMsg; hostname?: string };
  health_status?: string;
  metadata?: MetadataMsg;
  load_balancing_weight?: WrappedU32;
}

// ---- Listener ----

export interface ListenerMsg {
  name?: string;
  address?: AddressMsg;
  filter_chains?: FilterChainMsg[];
  default_filter_chain?: FilterChainMsg;
  listener_filters?: { name?: string }[];
  traffic_direction?: string;
  [field: string]: unknown;
}
export interface FilterChainMsg {
  name?: string;
  filter_chain_match?: {
    destination_port?: WrappedU32;
    server_names?: string[];
    transport_protocol?: string;
    [field: string]: unknown;
  };
  filters?: NetworkFilterMsg[];
  transport_socket?: { name?: string; typed_config?: AnyMessage };
}
export interface NetworkFilterMsg {
  name?: string;
  typed_config?: AnyMessage;
}

export interface HcmMsg {
  stat_prefix?: string;
  codec_type?: string;
  rds?: { route_config_name?: string; config_source?: unknown };
  route_config?: RouteConfigurationMsg;
  http_filters?: { name?: string; typed_config?: AnyMessage; is_optional?: boolean }[];
  access_log?: AccessLogMsg[];
  stream_idle_timeout?: ProtoDurationMsg;
  request_timeout?: ProtoDurationMsg;
  generate_request_id?: WrappedBool;
  upgrade_configs?: { upgrade_type?: string; filters?: unknown[]; enabled?: WrappedBool }[];
  normalize_path?: WrappedBool;
  merge_slashes?: boolean;
  path_with_escaped_slashes_action?: string | number;
  [field: string]: unknown;
}
export interface AccessLogMsg {
  name?: string;
  typed_config?: AnyMessage;
  filter?: unknown;
}
export interface FileAccessLogMsg {
  path?: string;
  format?: string;
  log_format?: { text_format_source?: { inline_string?: string }; text_format?: string };
}
export interface TcpProxyMsg {
  stat_prefix?: string;
  cluster?: string;
  weighted_clusters?: { clusters?: { name?: string; weight?: number }[] };
  idle_timeout?: ProtoDurationMsg;
  access_log?: AccessLogMsg[];
}

// ---- RouteConfiguration ----

export interface RouteConfigurationMsg {
  name?: string;
  virtual_hosts?: VirtualHostMsg[];
  validate_clusters?: WrappedBool;
  response_headers_to_add?: HeaderValueOptionMsg[];
  response_headers_to_remove?: string[];
  request_headers_to_add?: HeaderValueOptionMsg[];
  request_headers_to_remove?: string[];
  [field: string]: unknown;
}
export interface VirtualHostMsg {
  name?: string;
  domains?: string[];
  routes?: RouteMsg[];
  request_headers_to_add?: HeaderValueOptionMsg[];
  request_headers_to_remove?: string[];
  response_headers_to_add?: HeaderValueOptionMsg[];
  response_headers_to_remove?: string[];
  retry_policy?: RetryPolicyMsg;
  cors?: unknown;
  typed_per_filter_config?: Record<string, AnyMessage>;
  include_request_attempt_count?: boolean;
  [field: string]: unknown;
}
export interface HeaderValueOptionMsg {
  header?: { key?: string; value?: string };
  append?: WrappedBool;
  append_action?: string;
}
export interface StringMatcherMsg {
  exact?: string;
  prefix?: string;
  suffix?: string;
  contains?: string;
  safe_regex?: { regex?: string };
  ignore_case?: boolean;
}
export interface HeaderMatcherMsg {
  name?: string;
  exact_match?: string;
  safe_regex_match?: { regex?: string };
  range_match?: { start?: number; end?: number };
  present_match?: boolean;
  prefix_match?: string;
  suffix_match?: string;
  contains_match?: string;
  string_match?: StringMatcherMsg;
  invert_match?: boolean;
}
export interface QueryParamMatcherMsg {
  name?: string;
  string_match?: StringMatcherMsg;
  present_match?: boolean;
}
export interface RouteMatchMsg {
  prefix?: string;
  path?: string;
  safe_regex?: { regex?: string };
  path_separated_prefix?: string;
  case_sensitive?: WrappedBool;
  headers?: HeaderMatcherMsg[];
  query_parameters?: QueryParamMatcherMsg[];
  runtime_fraction?: unknown;
  grpc?: unknown;
  [field: string]: unknown;
}
export interface RetryPolicyMsg {
  retry_on?: string;
  num_retries?: WrappedU32;
  per_try_timeout?: ProtoDurationMsg;
  retry_back_off?: { base_interval?: ProtoDurationMsg; max_interval?: ProtoDurationMsg };
  retriable_status_codes?: number[];
  host_selection_retry_max_attempts?: number;
  retry_host_predicate?: unknown[];
  [field: string]: unknown;
}
export interface WeightedClusterMsg {
  clusters?: {
    name?: string;
    weight?: WrappedU32;
    request_headers_to_add?: HeaderValueOptionMsg[];
    request_headers_to_remove?: string[];
    response_headers_to_add?: HeaderValueOptionMsg[];
    response_headers_to_remove?: string[];
  }[];
  total_weight?: WrappedU32;
}
export interface RouteActionMsg {
  cluster?: string;
  weighted_clusters?: WeightedClusterMsg;
  cluster_header?: string;
  prefix_rewrite?: string;
  regex_rewrite?: { pattern?: { regex?: string }; substitution?: string };
  host_rewrite_literal?: string;
  auto_host_rewrite?: WrappedBool;
  timeout?: ProtoDurationMsg;
  idle_timeout?: ProtoDurationMsg;
  retry_policy?: RetryPolicyMsg;
  request_mirror_policies?: { cluster?: string; runtime_fraction?: unknown; [field: string]: unknown }[];
  hash_policy?: unknown[];
  rate_limits?: unknown[];
  max_stream_duration?: {
    max_stream_duration?: ProtoDurationMsg;
    grpc_timeout_header_max?: ProtoDurationMsg;
    grpc_timeout_header_offset?: ProtoDurationMsg;
  };
  max_grpc_timeout?: ProtoDurationMsg;
  cluster_not_found_response_code?: 'SERVICE_UNAVAILABLE' | 'NOT_FOUND' | 'INTERNAL_SERVER_ERROR';
  cors?: unknown;
  [field: string]: unknown;
}
export interface RedirectActionMsg {
  https_redirect?: boolean;
  scheme_redirect?: string;
  host_redirect?: string;
  port_redirect?: number;
  path_redirect?: string;
  prefix_rewrite?: string;
  response_code?: string;
  strip_query?: boolean;
}
export interface DirectResponseMsg {
  status?: number;
  body?: { inline_string?: string; inline_bytes?: Buffer };
}
export interface RouteMsg {
  name?: string;
  match?: RouteMatchMsg;
  route?: RouteActionMsg;
  redirect?: RedirectActionMsg;
  direct_response?: DirectResponseMsg;
  filter_action?: unknown;
  non_forwarding_action?: unknown;
  decorator?: { operation?: string };
  request_headers_to_add?: HeaderValueOptionMsg[];
  request_headers_to_remove?: string[];
  response_headers_to_add?: HeaderValueOptionMsg[];
  response_headers_to_remove?: string[];
  typed_per_filter_config?: Record<string, AnyMessage>;
  metadata?: MetadataMsg;
  [field: string]: unknown;
}
