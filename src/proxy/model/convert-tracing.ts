/**
 * HttpConnectionManager.tracing -> TracingConfig, for Envoy's OpenTelemetry tracer only. Every
 * field the proxy does not honour (another tracer, verbose annotations, resource detectors, a
 * sampler extension, google_grpc, route/cluster/host metadata tags) is NACKed with its path.
 */
import type { Problems } from '../../core/errors.js';
import { TYPE, unpackAny } from '../../protocol/protos.js';
import type {
  CustomTag__Output,
  HttpConnectionManager__Output,
  OpenTelemetryConfig__Output,
  Percent__Output,
} from '../../protocol/envoy-types.js';
import { checkFields, durationMs, fieldSet, bool, u32 } from './convert-common.js';
import type { CustomTagConfig, OtlpExportTarget, TraceOperation, TracingConfig } from './tracing-config.js';

export const OPENTELEMETRY_TRACER = 'envoy.tracers.opentelemetry';
const DEFAULT_SERVICE_NAME = 'unknown_service:envoy';
const DEFAULT_MAX_PATH_TAG_LENGTH = 256;
/** An export with no timeout configured still ends: a stuck collector must not hold a batch forever. */
export const DEFAULT_EXPORT_TIMEOUT_MS = 10_000;

const TRACING_FIELDS = fieldSet(
  'provider',
  'random_sampling',
  'client_sampling',
  'overall_sampling',
  'custom_tags',
  'spawn_upstream_span',
  'max_path_tag_length',
  'verbose',
);
const OTEL_FIELDS = fieldSet('grpc_service', 'http_service', 'service_name');
const GRPC_FIELDS = fieldSet('envoy_grpc', 'timeout', 'initial_metadata');
const ENVOY_GRPC_FIELDS = fieldSet('cluster_name', 'authority');
const HTTP_SERVICE_FIELDS = fieldSet('http_uri', 'request_headers_to_add');
const HTTP_URI_FIELDS = fieldSet('uri', 'cluster', 'timeout');
const TAG_FIELDS = fieldSet('tag', 'literal', 'environment', 'request_header', 'metadata');

type Tracing__Output = NonNullable<HttpConnectionManager__Output['tracing']>;

/**
 * The tracing of a connection manager; undefined when it has none (or on problems, which are
 * recorded). `operation` comes from the listener's traffic_direction, as in Envoy.
 */
export function convertTracing(
  msg: Tracing__Output | undefined,
  operation: TraceOperation,
  path: string,
  problems: Problems,
  env: Readonly<Record<string, string | undefined>> = process.env,
): TracingConfig | undefined {
  if (msg === undefined) return undefined;
  checkFields(msg, path, TRACING_FIELDS, problems);
  if (msg.verbose === true)
    problems.error(`${path}.verbose`, 'verbose span annotations are not supported; remove the field');
  const provider = msg.provider;
  if (provider === undefined) {
    problems.error(`${path}.provider`, `a tracer is required (${OPENTELEMETRY_TRACER})`);
    return undefined;
  }
  const typeUrl = provider.typed_config?.type_url;
  if (typeUrl !== TYPE.openTelemetryTracer) {
    problems.error(
      `${path}.provider`,
      `tracer ${JSON.stringify(provider.name ?? typeUrl ?? '')} is not supported; the Trellis proxy implements ${OPENTELEMETRY_TRACER} (${TYPE.openTelemetryTracer})`,
    );
    return undefined;
  }
  const otel = unpackAny<OpenTelemetryConfig__Output>(provider.typed_config!);
  const tpath = `${path}.provider.typed_config`;
  checkFields(otel, tpath, OTEL_FIELDS, problems);
  const out: TracingConfig = {
    operation,
    serviceName: otel.service_name || DEFAULT_SERVICE_NAME,
    export: exportTarget(otel, tpath, problems),
    randomSampling: percent(msg.random_sampling, `${path}.random_sampling`, problems),
    clientSampling: percent(msg.client_sampling, `${path}.client_sampling`, problems),
    overallSampling: percent(msg.overall_sampling, `${path}.overall_sampling`, problems),
    customTags: customTags(msg.custom_tags ?? [], `${path}.custom_tags`, problems, env),
    spawnUpstreamSpan: bool(msg.spawn_upstream_span, false),
    maxPathTagLength: u32(msg.max_path_tag_length, DEFAULT_MAX_PATH_TAG_LENGTH),
  };
  return problems.ok ? Object.freeze(out) : undefined;
}

/** envoy.type.v3.Percent: absent is 100 (Envoy's default for all three samplings). */
function percent(p: Percent__Output | undefined, path: string, problems: Problems): number {
  if (p === undefined) return 100;
  const v = p.value ?? 0;
  if (!(v >= 0 && v <= 100)) {
    problems.error(`${path}.value`, `must be between 0 and 100, got ${v}`);
    return 0;
  }
  return v;
}

function exportTarget(otel: OpenTelemetryConfig__Output, path: string, problems: Problems): OtlpExportTarget {
  if ((otel.resource_detectors ?? []).length > 0)
    problems.error(`${path}.resource_detectors`, 'resource detectors are not supported; remove them');
  if (otel.sampler !== undefined)
    problems.error(
      `${path}.sampler`,
      'sampler extensions are not supported; sample with random_sampling instead',
    );
  const grpc = otel.grpc_service;
  const http = otel.http_service;
  if (grpc !== undefined && http !== undefined) {
    problems.error(path, 'grpc_service and http_service are mutually exclusive; keep one');
    return { kind: 'none' };
  }
  if (grpc !== undefined) {
    const gpath = `${path}.grpc_service`;
    checkFields(grpc, gpath, GRPC_FIELDS, problems);
    const eg = grpc.envoy_grpc;
    if (eg === undefined) {
      problems.error(
        `${gpath}.envoy_grpc`,
        'required (google_grpc is not supported): name the collector cluster',
      );
      return { kind: 'none' };
    }
    checkFields(eg, `${gpath}.envoy_grpc`, ENVOY_GRPC_FIELDS, problems);
    if (!eg.cluster_name) problems.error(`${gpath}.envoy_grpc.cluster_name`, 'must be non-empty');
    return {
      kind: 'grpc',
      cluster: eg.cluster_name ?? '',
      authority: eg.authority || (eg.cluster_name ?? ''),
      timeoutMs: durationMs(grpc.timeout, DEFAULT_EXPORT_TIMEOUT_MS),
      metadata: Object.freeze(
        (grpc.initial_metadata ?? []).map((h) =>
          Object.freeze([(h.key ?? '').toLowerCase(), h.value ?? ''] as const),
        ),
      ),
    };
  }
  if (http !== undefined) {
    const hpath = `${path}.http_service`;
    checkFields(http, hpath, HTTP_SERVICE_FIELDS, problems);
    const uri = http.http_uri;
    if (uri === undefined) {
      problems.error(`${hpath}.http_uri`, 'required: the collector URI and cluster');
      return { kind: 'none' };
    }
    checkFields(uri, `${hpath}.http_uri`, HTTP_URI_FIELDS, problems);
    if (!uri.cluster) problems.error(`${hpath}.http_uri.cluster`, 'must be non-empty');
    const parsed = splitUri(uri.uri ?? '');
    if (parsed === undefined)
      problems.error(
        `${hpath}.http_uri.uri`,
        `expected [http[s]://]host[:port]/path, got ${JSON.stringify(uri.uri ?? '')}`,
      );
    return {
      kind: 'http',
      cluster: uri.cluster ?? '',
      authority: parsed?.authority ?? '',
      path: parsed?.path ?? '/',
      timeoutMs: durationMs(uri.timeout, DEFAULT_EXPORT_TIMEOUT_MS),
      headers: Object.freeze(
        (http.request_headers_to_add ?? []).map((h) =>
          Object.freeze([(h.header?.key ?? '').toLowerCase(), h.header?.value ?? ''] as const),
        ),
      ),
    };
  }
  return { kind: 'none' };
}

/**
 * Host and path of an http_uri. Istio writes it without a scheme
 * (`otel-collector.observability.svc.cluster.local/v1/traces`); Envoy accepts both forms.
 */
export function splitUri(uri: string): { authority: string; path: string } | undefined {
  const rest = uri.replace(/^https?:\/\//i, '');
  const slash = rest.indexOf('/');
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '/' : rest.slice(slash);
  if (authority === '' || /[\s@]/.test(authority) || /\s/.test(path)) return undefined;
  return { authority, path };
}

function customTags(
  tags: CustomTag__Output[],
  path: string,
  problems: Problems,
  env: Readonly<Record<string, string | undefined>>,
): readonly CustomTagConfig[] {
  const out: CustomTagConfig[] = [];
  tags.forEach((t, i) => {
    const p = `${path}[${i}]`;
    checkFields(t, p, TAG_FIELDS, problems);
    const tag = t.tag ?? '';
    if (tag === '') problems.error(`${p}.tag`, 'must be non-empty');
    const c = customTag(t, tag, p, problems, env);
    if (c) out.push(Object.freeze(c));
  });
  return Object.freeze(out);
}

function customTag(
  t: CustomTag__Output,
  tag: string,
  p: string,
  problems: Problems,
  env: Readonly<Record<string, string | undefined>>,
): CustomTagConfig | undefined {
  if (t.literal !== undefined) return { tag, kind: 'literal', value: t.literal.value ?? '' };
  if (t.environment !== undefined) {
    const name = t.environment.name ?? '';
    if (name === '') problems.error(`${p}.environment.name`, 'must be non-empty');
    return { tag, kind: 'environment', value: env[name] ?? t.environment.default_value ?? '' };
  }
  if (t.request_header !== undefined) {
    const name = (t.request_header.name ?? '').toLowerCase();
    if (name === '') problems.error(`${p}.request_header.name`, 'must be non-empty');
    return { tag, kind: 'request_header', name, defaultValue: t.request_header.default_value ?? '' };
  }
  if (t.metadata !== undefined) {
    const kind = t.metadata.kind;
    if (kind?.request === undefined) {
      problems.error(
        `${p}.metadata.kind`,
        'only request (dynamic) metadata is supported for custom tags; route, cluster and host metadata are not',
      );
      return undefined;
    }
    const key = t.metadata.metadata_key;
    if (!key?.key) problems.error(`${p}.metadata.metadata_key.key`, 'must be non-empty');
    return {
      tag,
      kind: 'request_metadata',
      namespace: key?.key ?? '',
      path: Object.freeze((key?.path ?? []).map((s) => s.key ?? '')),
      defaultValue: t.metadata.default_value ?? '',
    };
  }
  problems.error(p, 'expected one of literal, environment, request_header, metadata');
  return undefined;
}
