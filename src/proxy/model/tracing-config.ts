/**
 * The compiled form of an HTTP connection manager's `tracing` field with Envoy's OpenTelemetry
 * tracer (`envoy.tracers.opentelemetry`): how requests are sampled, what each span carries and
 * where spans are exported (convert-tracing.ts builds it, proxy/tracing/ uses it).
 */

/** Envoy's operation name, from the listener's traffic direction: OUTBOUND is egress. */
export type TraceOperation = 'ingress' | 'egress';

/** Where spans go: OTLP over gRPC or HTTP/protobuf to a cluster of this proxy, or nowhere. */
export type OtlpExportTarget =
  | {
      kind: 'grpc';
      cluster: string;
      /** grpc_service.envoy_grpc.authority; the cluster name when empty (as Envoy). */
      authority: string;
      /** grpc_service.timeout; 0: none. */
      timeoutMs: number;
      /** grpc_service.initial_metadata, sent with every export. */
      metadata: readonly (readonly [string, string])[];
    }
  | {
      kind: 'http';
      cluster: string;
      /** The Host of http_uri.uri. */
      authority: string;
      /** The path of http_uri.uri (`/v1/traces`). */
      path: string;
      timeoutMs: number;
      /** request_headers_to_add, as written (no formatting, as Envoy). */
      headers: readonly (readonly [string, string])[];
    }
  /** Neither grpc_service nor http_service: spans are made (and propagated) but not reported. */
  | { kind: 'none' };

export type CustomTagConfig =
  | { tag: string; kind: 'literal'; value: string }
  /** `environment`: read once when the config is converted, as Envoy reads it at load. */
  | { tag: string; kind: 'environment'; value: string }
  | { tag: string; kind: 'request_header'; name: string; defaultValue: string }
  /** `metadata` of kind `request`: the request's dynamic metadata (filter namespace, then path). */
  | {
      tag: string;
      kind: 'request_metadata';
      namespace: string;
      path: readonly string[];
      defaultValue: string;
    };

export interface TracingConfig {
  operation: TraceOperation;
  /** OpenTelemetryConfig.service_name (`unknown_service:envoy` when empty, as Envoy). */
  serviceName: string;
  export: OtlpExportTarget;
  /** Percentages 0-100 (envoy.type.v3.Percent); Envoy's defaults are 100 for all three. */
  randomSampling: number;
  clientSampling: number;
  overallSampling: number;
  customTags: readonly CustomTagConfig[];
  /** spawn_upstream_span: a CLIENT child span for the upstream request; the main span is SERVER. */
  spawnUpstreamSpan: boolean;
  /** max_path_tag_length (http.url's path is cut there); Envoy's default 256. */
  maxPathTagLength: number;
}
