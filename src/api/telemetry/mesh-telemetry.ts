/**
 * The mesh config's telemetry fields (mesh/v1alpha1/config.proto): `extensionProviders` of the
 * telemetry kinds (opentelemetry, envoyFileAccessLog, prometheus, zipkin), `defaultProviders`,
 * the legacy `accessLogFile` / `accessLogFormat` / `accessLogEncoding`, `enableTracing` and
 * `defaultConfig.tracing.sampling`. The ext_authz providers of the same list are read by
 * api/security/extension-providers.ts (which also checks names are unique across the list).
 *
 * As in Istio's default mesh config, providers named `envoy` (a file access log to /dev/stdout)
 * and `prometheus` exist unless the file defines those names itself, and metrics default to
 * `prometheus`.
 */
import type { Problems } from '../../core/errors.js';
import { fieldPath, isAbsent, SpecCheck, type Obj } from '../fields.js';

export interface OpenTelemetryProvider {
  name: string;
  kind: 'opentelemetry';
  /** `host` or `namespace/host`. */
  service: string;
  port: number;
  maxTagLength?: number;
  /** Export over OTLP/HTTP; absent: OTLP/gRPC. */
  http?: { path: string; timeoutMs?: number; headers: { name: string; value: string }[] };
  grpc?: { timeoutMs?: number; initialMetadata: { name: string; value: string }[] };
}

export interface FileAccessLogProvider {
  name: string;
  kind: 'envoyFileAccessLog';
  path: string;
  /** Text (Envoy's format string) or JSON labels (key -> command operator); absent: Istio's text. */
  format?: { text: string } | { labels: Record<string, string> };
}

export interface PrometheusProvider {
  name: string;
  kind: 'prometheus';
}

/** Accepted so Istio's files load; Trellis proxies export spans only over OpenTelemetry. */
export interface ZipkinProvider {
  name: string;
  kind: 'zipkin';
  service: string;
  port: number;
}

export type TelemetryProvider =
  OpenTelemetryProvider | FileAccessLogProvider | PrometheusProvider | ZipkinProvider;

export interface MeshTelemetry {
  providers: readonly TelemetryProvider[];
  defaultProviders: {
    tracing: readonly string[];
    accessLogging: readonly string[];
    metrics: readonly string[];
  };
  /** Legacy mesh-wide access log (used where no Telemetry/default provider says): '' is off. */
  accessLogFile: string;
  accessLogFormat: string;
  accessLogEncoding: 'TEXT' | 'JSON';
  /** Legacy switch; Trellis has no built-in collector, so it needs a provider to do anything. */
  enableTracing: boolean;
  /** `defaultConfig.tracing.sampling`, percent; Istio's default 1. */
  tracingSampling: number;
  /** Whether the file set `defaultConfig.tracing.sampling` (shortcuts keep what it says). */
  tracingSamplingSet?: boolean;
}

export const BUILTIN_PROVIDERS: readonly TelemetryProvider[] = Object.freeze([
  { name: 'envoy', kind: 'envoyFileAccessLog', path: '/dev/stdout' },
  { name: 'prometheus', kind: 'prometheus' },
]);

export const DEFAULT_MESH_TELEMETRY: MeshTelemetry = Object.freeze({
  providers: BUILTIN_PROVIDERS,
  defaultProviders: Object.freeze({ tracing: [], accessLogging: [], metrics: ['prometheus'] }),
  accessLogFile: '',
  accessLogFormat: '',
  accessLogEncoding: 'TEXT',
  enableTracing: true,
  tracingSampling: 1,
});

/** Top-level mesh config fields this module reads. */
export const MESH_TELEMETRY_FIELDS = [
  'defaultProviders',
  'accessLogFile',
  'accessLogFormat',
  'accessLogEncoding',
  'enableTracing',
] as const;

const OTEL_FIELDS = [
  'service',
  'port',
  'maxTagLength',
  'http',
  'grpc',
  'resourceDetectors',
  'serviceAttributeEnrichment',
];

function headerList(c: SpecCheck, o: Obj, key: string, path: string): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = [];
  for (const item of c.list(o, key, path) ?? []) {
    const h = c.object(item.value, item.path, ['name', 'value', 'envName']);
    if (h === undefined) continue;
    const name = c.string(h, 'name', item.path, { required: true });
    const value = c.string(h, 'value', item.path);
    if (!isAbsent(h.envName))
      c.error(
        fieldPath(item.path, 'envName'),
        'header values from the environment are not supported; write the value',
      );
    if (name !== undefined && name !== '') out.push({ name, value: value ?? '' });
  }
  return out;
}

function opentelemetry(c: SpecCheck, name: string, o: Obj, path: string): OpenTelemetryProvider | undefined {
  const service = c.string(o, 'service', path, { required: true });
  const port = c.port(o, 'port', path, { required: true });
  const maxTagLength = c.int(o, 'maxTagLength', path, { min: 0 });
  const http = c.child(o, 'http', path, ['path', 'timeout', 'headers']);
  const grpc = c.child(o, 'grpc', path, ['timeout', 'initialMetadata']);
  if (http !== undefined && grpc !== undefined) c.error(path, 'only one of http, grpc may be set');
  const out: OpenTelemetryProvider | undefined =
    service !== undefined && port !== undefined ? { name, kind: 'opentelemetry', service, port } : undefined;
  if (out !== undefined && maxTagLength !== undefined && maxTagLength > 0) out.maxTagLength = maxTagLength;
  if (http !== undefined) {
    const hp = fieldPath(path, 'http');
    const p = c.string(http, 'path', hp) ?? '';
    const timeoutMs = c.duration(http, 'timeout', hp);
    const headers = headerList(c, http, 'headers', hp);
    if (out !== undefined)
      out.http = { path: p === '' ? '/v1/traces' : p, headers, ...(timeoutMs ? { timeoutMs } : {}) };
  }
  if (grpc !== undefined) {
    const gp = fieldPath(path, 'grpc');
    const timeoutMs = c.duration(grpc, 'timeout', gp);
    const initialMetadata = headerList(c, grpc, 'initialMetadata', gp);
    if (out !== undefined) out.grpc = { initialMetadata, ...(timeoutMs ? { timeoutMs } : {}) };
  }
  if (!isAbsent(o.resourceDetectors))
    c.warning(
      fieldPath(path, 'resourceDetectors'),
      "accepted but ignored: spans carry the proxy's own service.name",
    );
  if (!isAbsent(o.serviceAttributeEnrichment))
    c.warning(
      fieldPath(path, 'serviceAttributeEnrichment'),
      "accepted but ignored: spans carry the proxy's own service.name",
    );
  return out;
}

function fileAccessLog(c: SpecCheck, name: string, o: Obj, path: string): FileAccessLogProvider {
  const p = c.string(o, 'path', path) ?? '';
  const out: FileAccessLogProvider = { name, kind: 'envoyFileAccessLog', path: p === '' ? '/dev/stdout' : p };
  const lf = c.child(o, 'logFormat', path, ['text', 'labels']);
  if (!isAbsent(o.omitEmptyValues))
    c.error(
      fieldPath(path, 'omitEmptyValues'),
      'not supported by Trellis proxies; remove it (empty values print as "-")',
    );
  if (lf === undefined) return out;
  const lp = fieldPath(path, 'logFormat');
  if (!isAbsent(lf.text) && !isAbsent(lf.labels)) {
    c.error(lp, 'only one of text, labels may be set');
    return out;
  }
  const text = c.string(lf, 'text', lp);
  if (text !== undefined && text !== '') out.format = { text: text.endsWith('\n') ? text : `${text}\n` };
  const labels = c.map(lf, 'labels', lp);
  if (labels !== undefined) {
    const rec: Record<string, string> = {};
    for (const [k, v] of Object.entries(lf.labels as Obj)) {
      if (typeof v !== 'string')
        c.error(
          fieldPath(fieldPath(lp, 'labels'), k),
          'expected a string (a command operator such as %RESPONSE_CODE%)',
        );
      else rec[k] = v;
    }
    out.format = { labels: rec };
  }
  return out;
}

/**
 * Reads the telemetry providers of `extensionProviders` (the other kinds are left to their
 * readers) and the mesh config's telemetry fields from `root`, the mesh config as a mapping.
 */
export function parseMeshTelemetry(root: Obj, problems: Problems): MeshTelemetry {
  const c = new SpecCheck(problems);
  const providers: TelemetryProvider[] = [];
  const list = Array.isArray(root.extensionProviders) ? (root.extensionProviders as unknown[]) : [];
  list.forEach((item, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return;
    const p = item as Obj;
    const name = typeof p.name === 'string' ? p.name : '';
    const ip = `extensionProviders[${i}]`;
    const otel = c.child(p, 'opentelemetry', ip, OTEL_FIELDS);
    if (otel !== undefined) {
      const o = opentelemetry(c, name, otel, fieldPath(ip, 'opentelemetry'));
      if (o !== undefined) providers.push(o);
    }
    const file = c.child(p, 'envoyFileAccessLog', ip, ['path', 'logFormat', 'omitEmptyValues']);
    if (file !== undefined) providers.push(fileAccessLog(c, name, file, fieldPath(ip, 'envoyFileAccessLog')));
    if (!isAbsent(p.prometheus)) {
      c.object(p.prometheus, fieldPath(ip, 'prometheus'), []);
      providers.push({ name, kind: 'prometheus' });
    }
    const zipkin = isAbsent(p.zipkin)
      ? undefined
      : c.object(p.zipkin, fieldPath(ip, 'zipkin'), [
          'service',
          'port',
          'maxTagLength',
          'enable64bitTraceId',
          'path',
          'traceContextOption',
          'timeout',
          'headers',
        ]);
    if (zipkin !== undefined) {
      const zp = fieldPath(ip, 'zipkin');
      const service = c.string(zipkin, 'service', zp, { required: true });
      const port = c.port(zipkin, 'port', zp, { required: true });
      c.warning(
        zp,
        'zipkin is not supported by Trellis proxies: spans are not sent to it; use an opentelemetry provider (most collectors accept OTLP)',
      );
      if (service !== undefined && port !== undefined)
        providers.push({ name, kind: 'zipkin', service, port });
    }
    for (const k of [
      'lightstep',
      'datadog',
      'stackdriver',
      'opencensus',
      'skywalking',
      'envoyHttpAls',
      'envoyTcpAls',
      'envoyOtelAls',
    ]) {
      if (!isAbsent(p[k]))
        c.warning(
          fieldPath(ip, k),
          `${k} providers are not supported by Trellis; a Telemetry naming "${name}" has no effect`,
        );
    }
  });
  for (const b of BUILTIN_PROVIDERS)
    if (!providers.some((p) => p.name === b.name) && !list.some((p) => (p as Obj | null)?.name === b.name))
      providers.push(b);

  const dp = c.child(root, 'defaultProviders', '', ['tracing', 'accessLogging', 'metrics']);
  const names = (key: string): string[] | undefined => {
    if (dp === undefined) return undefined;
    const items = c.stringList(dp, key, 'defaultProviders');
    if (items === undefined) return undefined;
    for (const i of items)
      if (!providers.some((p) => p.name === i.value))
        c.error(
          i.path,
          `no extension provider named ${JSON.stringify(i.value)}; define it in extensionProviders`,
        );
    return items.map((i) => i.value);
  };
  const tracing = names('tracing') ?? [];
  const accessLogging = names('accessLogging') ?? [];
  const metrics = names('metrics') ?? ['prometheus'];
  const accessLogFile = c.string(root, 'accessLogFile', '') ?? '';
  const accessLogFormat = c.string(root, 'accessLogFormat', '') ?? '';
  const accessLogEncoding = c.enumValue(root, 'accessLogEncoding', '', ['TEXT', 'JSON']) ?? 'TEXT';
  if (accessLogEncoding === 'JSON' && accessLogFormat !== '') {
    try {
      const parsed: unknown = JSON.parse(accessLogFormat);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not an object');
    } catch {
      c.error(
        'accessLogFormat',
        'with accessLogEncoding JSON, expected a JSON object of field -> command operator',
      );
    }
  }
  const enableTracing = c.bool(root, 'enableTracing', '') ?? true;
  let tracingSampling = 1;
  let tracingSamplingSet = false;
  const dc = isAbsent(root.defaultConfig) ? undefined : (root.defaultConfig as Obj);
  if (dc !== undefined && typeof dc === 'object' && !isAbsent(dc.tracing) && typeof dc.tracing === 'object') {
    const s = c.number(dc.tracing as Obj, 'sampling', 'defaultConfig.tracing', { min: 0 });
    // Istio reads a value over 100 as 1 (proxyConfigSamplingValue) and 0 as "unset".
    if (s !== undefined && s !== 0) {
      tracingSampling = s > 100 ? 1 : s;
      tracingSamplingSet = true;
    }
  }
  return {
    providers,
    defaultProviders: { tracing, accessLogging, metrics },
    accessLogFile,
    accessLogFormat,
    accessLogEncoding,
    enableTracing,
    tracingSampling,
    ...(tracingSamplingSet ? { tracingSamplingSet } : {}),
  };
}
