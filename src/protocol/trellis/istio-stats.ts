/**
 * The stats filter's xDS shape (issue #14, the Telemetry API's metrics overrides): Istio's
 * `istio.stats` HTTP filter and network filter, configured with Istio's `stats.PluginConfig`
 * (istio/proxy extensions/stats/config.proto) carried in an `xds.type.v3.TypedStruct` with the
 * type URL below, field names in snake_case as that proto has them. Only proxies that list
 * `stats` in node metadata `TRELLIS_FILTERS` are sent it (upstream Envoy has no such filter).
 * Without the filter a Trellis proxy reports Istio's standard metrics with their standard labels;
 * with it, the overrides below apply. One definition for the control plane that writes it and the
 * proxy that reads it (and NACKs any field not listed here).
 */
export const ISTIO_STATS_FILTER_NAME = 'istio.stats';
export const ISTIO_STATS_TYPE_URL = 'type.googleapis.com/stats.PluginConfig';
/** The name the stats filter has in node metadata TRELLIS_FILTERS. */
export const STATS_CAPABILITY = 'stats';

/**
 * Istio's metric names as PluginConfig spells them (no `istio_` prefix), and the Telemetry API's
 * names for them (`metrics[].overrides[].match.metric`).
 */
export const STATS_METRICS = {
  REQUEST_COUNT: 'requests_total',
  REQUEST_DURATION: 'request_duration_milliseconds',
  REQUEST_SIZE: 'request_bytes',
  RESPONSE_SIZE: 'response_bytes',
  TCP_OPENED_CONNECTIONS: 'tcp_connections_opened_total',
  TCP_CLOSED_CONNECTIONS: 'tcp_connections_closed_total',
  TCP_SENT_BYTES: 'tcp_sent_bytes_total',
  TCP_RECEIVED_BYTES: 'tcp_received_bytes_total',
  GRPC_REQUEST_MESSAGES: 'request_messages_total',
  GRPC_RESPONSE_MESSAGES: 'response_messages_total',
} as const;

export interface StatsMetricConfig {
  /** The metric (a STATS_METRICS value); absent or '' means every metric. */
  name?: string;
  /** Labels to add or replace: label name -> a CEL expression (`request.host`, `'literal'`). */
  dimensions?: Record<string, string>;
  /** Labels to drop. */
  tags_to_remove?: string[];
  /** Do not report this metric at all. */
  drop?: boolean;
}

/** The TypedStruct's fields, as JSON. */
export interface StatsPluginFields {
  /** Istio's reporter: the proxy side this HCM reports as. */
  reporter?: 'CLIENT_SIDE' | 'SERVER_SIDE' | 'SERVER_GATEWAY';
  /** Applied in order; a later entry for the same metric and label wins. */
  metrics?: StatsMetricConfig[];
}
