/**
 * Istio's `telemetry.istio.io` Telemetry (v1 and v1alpha1), with field names as Istio's YAML
 * writes them (https://istio.io/latest/docs/reference/config/telemetry/). Every field is optional
 * unless Istio requires it; validate.ts guarantees the rest. Providers are named by the mesh
 * config's `extensionProviders` (api/telemetry/providers.ts).
 */
import type { PolicyTargetReference, WorkloadSelector } from '../security/types.js';

export const TELEMETRY_GROUP = 'telemetry.istio.io';
export const TELEMETRY_VERSIONS = ['v1', 'v1alpha1'] as const;
export const TELEMETRY_KIND = 'Telemetry';

export const WORKLOAD_MODES = ['CLIENT', 'SERVER', 'CLIENT_AND_SERVER'] as const;
export type WorkloadMode = (typeof WORKLOAD_MODES)[number];

/** `metrics[].overrides[].match.metric`: Istio's standard metrics, or all of them. */
export const METRIC_NAMES = [
  'ALL_METRICS',
  'REQUEST_COUNT',
  'REQUEST_DURATION',
  'REQUEST_SIZE',
  'RESPONSE_SIZE',
  'TCP_OPENED_CONNECTIONS',
  'TCP_CLOSED_CONNECTIONS',
  'TCP_SENT_BYTES',
  'TCP_RECEIVED_BYTES',
  'GRPC_REQUEST_MESSAGES',
  'GRPC_RESPONSE_MESSAGES',
] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

export interface ProviderRef {
  name: string;
}

export interface CustomTag {
  literal?: { value: string };
  environment?: { name: string; defaultValue?: string };
  header?: { name: string; defaultValue?: string };
}

export interface TelemetryTracing {
  match?: { mode?: WorkloadMode };
  providers?: ProviderRef[];
  /** 0..100; absent: the mesh config's `defaultConfig.tracing.sampling` (Istio: 1%). */
  randomSamplingPercentage?: number;
  disableSpanReporting?: boolean;
  customTags?: Record<string, CustomTag>;
  useRequestIdForTraceSampling?: boolean;
  enableIstioTags?: boolean;
}

export interface TelemetryAccessLogging {
  match?: { mode?: WorkloadMode };
  providers?: ProviderRef[];
  disabled?: boolean;
  /** A CEL expression over Envoy's attributes; only matching requests are logged. */
  filter?: { expression?: string };
}

export interface TagOverride {
  /** Absent: UPSERT. */
  operation?: 'UPSERT' | 'REMOVE';
  /** A CEL expression (UPSERT only). */
  value?: string;
}

export interface MetricsOverride {
  match?: { metric?: MetricName; customMetric?: string; mode?: WorkloadMode };
  disabled?: boolean;
  tagOverrides?: Record<string, TagOverride>;
}

export interface TelemetryMetrics {
  providers?: ProviderRef[];
  overrides?: MetricsOverride[];
  /** A duration as written (`15s`); Trellis proxies report on scrape, so it is accepted only. */
  reportingInterval?: string;
}

export interface TelemetrySpec {
  selector?: WorkloadSelector;
  targetRef?: PolicyTargetReference;
  targetRefs?: PolicyTargetReference[];
  tracing?: TelemetryTracing[];
  accessLogging?: TelemetryAccessLogging[];
  metrics?: TelemetryMetrics[];
}
