/**
 * Envoy config for the effective telemetry of one side of a proxy, in the shapes Istio writes
 * (pilot/pkg/networking/core/tracing.go, accesslog.go; pilot/pkg/model/telemetry_logging.go,
 * telemetry.go generateStatsConfig):
 *
 * - HCM `tracing`: provider `envoy.tracers.opentelemetry` with an OpenTelemetryConfig naming the
 *   collector's outbound cluster (`outbound|PORT||HOST`, gRPC `envoy_grpc` or `http_service`),
 *   `service_name` the node's cluster; random / client / overall sampling; Istio's literal tags
 *   (canonical service and revision, mesh, namespace, cluster) and the Telemetry's custom tags,
 *   sorted by tag; `spawn_upstream_span` on gateways; `max_path_tag_length` from the provider.
 * - `access_log`: `envoy.access_loggers.file` with a text or JSON format, and the Telemetry's
 *   filter as `envoy.access_loggers.extension_filters.cel`.
 * - `istio.stats` (protocol/trellis/istio-stats.ts): reporter and metric overrides.
 */
import type {
  MeshTelemetry,
  OpenTelemetryProvider,
  FileAccessLogProvider,
} from '../../../api/telemetry/mesh-telemetry.js';
import type { CustomTag } from '../../../api/telemetry/types.js';
import { packAny, TYPE, type AnyMessage } from '../../../protocol/protos.js';
import {
  ISTIO_STATS_FILTER_NAME,
  ISTIO_STATS_TYPE_URL,
  STATS_METRICS,
  type StatsMetricConfig,
  type StatsPluginFields,
} from '../../../protocol/trellis/istio-stats.js';
import type { Service } from '../../../registry/types.js';
import { outboundCluster } from '../names.js';
import type { LoggingSpec, MetricsSpec, TracingSpec } from './effective.js';

export const OTEL_TRACER = 'envoy.tracers.opentelemetry';
export const FILE_ACCESS_LOG = 'envoy.access_loggers.file';
export const CEL_FILTER = 'envoy.access_loggers.extension_filters.cel';

/** Istio's default text access log format (EnvoyTextLogFormat, Istio 1.9 onwards). */
export const ISTIO_TEXT_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% ' +
  '%RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" ' +
  '%BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" ' +
  '"%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% ' +
  '%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n';

/** Istio's default JSON access log fields (EnvoyJSONLogFormatIstio). */
export const ISTIO_JSON_FORMAT: Readonly<Record<string, string>> = Object.freeze({
  start_time: '%START_TIME%',
  route_name: '%ROUTE_NAME%',
  method: '%REQ(:METHOD)%',
  path: '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%',
  protocol: '%PROTOCOL%',
  response_code: '%RESPONSE_CODE%',
  response_flags: '%RESPONSE_FLAGS%',
  response_code_details: '%RESPONSE_CODE_DETAILS%',
  connection_termination_details: '%CONNECTION_TERMINATION_DETAILS%',
  bytes_received: '%BYTES_RECEIVED%',
  bytes_sent: '%BYTES_SENT%',
  duration: '%DURATION%',
  upstream_service_time: '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%',
  x_forwarded_for: '%REQ(X-FORWARDED-FOR)%',
  user_agent: '%REQ(USER-AGENT)%',
  request_id: '%REQ(X-REQUEST-ID)%',
  authority: '%REQ(:AUTHORITY)%',
  upstream_host: '%UPSTREAM_HOST%',
  upstream_cluster: '%UPSTREAM_CLUSTER_RAW%',
  upstream_local_address: '%UPSTREAM_LOCAL_ADDRESS%',
  downstream_local_address: '%DOWNSTREAM_LOCAL_ADDRESS%',
  downstream_remote_address: '%DOWNSTREAM_REMOTE_ADDRESS%',
  requested_server_name: '%REQUESTED_SERVER_NAME%',
  upstream_transport_failure_reason: '%UPSTREAM_TRANSPORT_FAILURE_REASON%',
});

/** Where a provider's collector is: its service in the registry, and the cluster for it. */
export interface Collector {
  cluster: string;
  hostname: string;
  port: number;
  service: Service;
}

/**
 * Istio's LookupCluster: `namespace/host` or a `host` the registry has once. Undefined when the
 * registry has no such service (Istio then configures no tracing and logs why).
 */
export function lookupCollector(
  spec: { service: string; port: number },
  find: (hostname: string) => Service | undefined,
): Collector | undefined {
  const slash = spec.service.indexOf('/');
  const host = slash < 0 ? spec.service : spec.service.slice(slash + 1);
  const service = find(host);
  if (service === undefined) return undefined;
  if (slash >= 0 && service.namespace !== spec.service.slice(0, slash)) return undefined;
  return {
    cluster: outboundCluster(service.hostname, spec.port),
    hostname: service.hostname,
    port: spec.port,
    service,
  };
}

/** What the proxy contributes to span tags and names. */
export interface TracingNode {
  /** Envoy's node.cluster (Istio: `service.namespace`); the spans' service.name. */
  cluster: string;
  namespace: string;
  labels: Readonly<Record<string, string>>;
  gateway: boolean;
}

function literal(tag: string, value: string): object {
  return { tag, literal: { value } };
}

function customTag(tag: string, t: CustomTag): object | undefined {
  if (t.literal !== undefined) return literal(tag, t.literal.value);
  if (t.environment !== undefined)
    return {
      tag,
      environment: { name: t.environment.name, default_value: t.environment.defaultValue ?? '' },
    };
  if (t.header !== undefined)
    return { tag, request_header: { name: t.header.name, default_value: t.header.defaultValue ?? '' } };
  return undefined;
}

function otelConfig(p: OpenTelemetryProvider, c: Collector, node: TracingNode): AnyMessage {
  const oc: Record<string, unknown> = { service_name: node.cluster };
  if (p.http !== undefined) {
    oc.http_service = {
      http_uri: {
        uri: `${c.hostname}${p.http.path.startsWith('/') ? '' : '/'}${p.http.path}`,
        cluster: c.cluster,
        // Envoy requires a timeout; Istio's API leaves it optional.
        timeout: msDuration(p.http.timeoutMs ?? 5000),
      },
      request_headers_to_add: p.http.headers.map((h) => ({ header: { key: h.name, value: h.value } })),
    };
  } else {
    oc.grpc_service = {
      envoy_grpc: { cluster_name: c.cluster, authority: c.hostname },
      ...(p.grpc?.timeoutMs !== undefined ? { timeout: msDuration(p.grpc.timeoutMs) } : {}),
      initial_metadata: (p.grpc?.initialMetadata ?? []).map((h) => ({ key: h.name, value: h.value })),
    };
  }
  return packAny(TYPE.openTelemetryTracer, oc);
}

function msDuration(ms: number): { seconds: number; nanos: number } {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

/**
 * The HCM `tracing` field, or undefined for none (disabled, no provider, a provider Trellis
 * proxies cannot export to, or a collector the registry does not have).
 */
export function buildTracing(
  spec: TracingSpec,
  mesh: MeshTelemetry,
  node: TracingNode,
  collector: Collector | undefined,
): object | undefined {
  const p = spec.provider;
  if (spec.disabled || p === undefined || p.kind !== 'opentelemetry' || collector === undefined)
    return undefined;
  const tags: object[] = [];
  if (spec.enableIstioTags) {
    tags.push(
      literal('istio.canonical_revision', node.labels['service.istio.io/canonical-revision'] ?? 'latest'),
      literal('istio.canonical_service', node.labels['service.istio.io/canonical-name'] ?? 'unknown'),
      literal('istio.mesh_id', 'unknown'),
      literal('istio.namespace', node.namespace || 'default'),
      literal('istio.cluster_id', 'unknown'),
    );
  }
  for (const [name, t] of Object.entries(spec.customTags ?? {})) {
    const tag = customTag(name, t);
    if (tag !== undefined) tags.push(tag);
  }
  tags.sort((a, b) => ((a as { tag: string }).tag < (b as { tag: string }).tag ? -1 : 1));
  const out: Record<string, unknown> = {
    client_sampling: { value: 100 },
    random_sampling: { value: spec.sampling ?? mesh.tracingSampling },
    overall_sampling: { value: 100 },
    custom_tags: tags,
    provider: { name: OTEL_TRACER, typed_config: otelConfig(p, collector, node) },
  };
  if (node.gateway) out.spawn_upstream_span = { value: true };
  if (p.maxTagLength !== undefined) out.max_path_tag_length = { value: p.maxTagLength };
  return out;
}

function jsonValue(v: string): object {
  return { stringValue: v };
}

/** One `envoy.access_loggers.file` entry. */
export function fileAccessLog(
  path: string,
  format: FileAccessLogProvider['format'] | undefined,
  filter?: string,
): object {
  let log_format: object;
  if (format !== undefined && 'labels' in format) {
    const labels = Object.keys(format.labels).length > 0 ? format.labels : ISTIO_JSON_FORMAT;
    log_format = {
      json_format: { fields: Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, jsonValue(v)])) },
    };
  } else {
    log_format = { text_format_source: { inline_string: format?.text ?? ISTIO_TEXT_FORMAT } };
  }
  const entry: Record<string, unknown> = {
    name: FILE_ACCESS_LOG,
    typed_config: packAny(TYPE.fileAccessLog, { path, log_format }),
  };
  if (filter !== undefined)
    entry.filter = {
      extension_filter: {
        name: CEL_FILTER,
        typed_config: packAny(TYPE.celAccessLogFilter, { expression: filter }),
      },
    };
  return entry;
}

/** `access_log` entries: the Telemetry's providers, or the legacy `accessLogFile`. */
export function buildAccessLogs(specs: readonly LoggingSpec[] | undefined, mesh: MeshTelemetry): object[] {
  if (specs === undefined) {
    if (mesh.accessLogFile === '') return [];
    if (mesh.accessLogEncoding === 'JSON') {
      const labels =
        mesh.accessLogFormat === ''
          ? ISTIO_JSON_FORMAT
          : (JSON.parse(mesh.accessLogFormat) as Record<string, string>);
      return [
        fileAccessLog(mesh.accessLogFile, {
          labels: Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, String(v)])),
        }),
      ];
    }
    const text =
      mesh.accessLogFormat === ''
        ? undefined
        : mesh.accessLogFormat.endsWith('\n')
          ? mesh.accessLogFormat
          : `${mesh.accessLogFormat}\n`;
    return [fileAccessLog(mesh.accessLogFile, text === undefined ? undefined : { text })];
  }
  const out: object[] = [];
  for (const s of specs) {
    if (s.disabled || s.provider.kind !== 'envoyFileAccessLog') continue;
    out.push(fileAccessLog(s.provider.path, s.provider.format, s.filter));
  }
  return out;
}

const STANDARD_NAMES: Readonly<Record<string, string>> = STATS_METRICS;

/** The istio.stats fields for one side, or undefined when its metrics are off. */
export function buildStatsFields(
  specs: readonly MetricsSpec[],
  reporter: NonNullable<StatsPluginFields['reporter']>,
): StatsPluginFields | undefined {
  const spec = specs[0];
  if (spec === undefined || spec.disabled) return undefined;
  const metrics: StatsMetricConfig[] = spec.overrides.map((o) => {
    const m: StatsMetricConfig = { name: STANDARD_NAMES[o.metric] ?? o.metric };
    const dims = o.tags.filter((t) => t.value !== null);
    const removed = o.tags.filter((t) => t.value === null).map((t) => t.name);
    if (dims.length > 0) m.dimensions = Object.fromEntries(dims.map((t) => [t.name, t.value as string]));
    if (removed.length > 0) m.tags_to_remove = removed;
    if (o.disabled) m.drop = true;
    return m;
  });
  return metrics.length > 0 ? { reporter, metrics } : { reporter };
}

function structValue(v: unknown): object {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(structValue) } };
  return {
    structValue: {
      fields: Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, structValue(x)])),
    },
  };
}

/** The `istio.stats` HTTP filter carrying `fields`. */
export function statsHttpFilter(fields: StatsPluginFields): object {
  const value = { fields: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, structValue(v)])) };
  return {
    name: ISTIO_STATS_FILTER_NAME,
    typed_config: packAny(TYPE.typedStruct, { type_url: ISTIO_STATS_TYPE_URL, value }),
  };
}
