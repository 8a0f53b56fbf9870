/**
 * The tags of a request's span, as Envoy's HttpTracerUtility sets them (finalizeDownstreamSpan and
 * setCommonTags), then the configured custom tags (which may overwrite them, as in Envoy).
 */
import type { Attributes } from '@opentelemetry/api';
import type { TracingConfig } from '../model/tracing-config.js';
import { flagsText } from '../connection-manager/response-flags.js';
import type { StreamInfo } from '../connection-manager/stream-info.js';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export function spanAttributes(
  config: TracingConfig,
  node: { id: string; zone: string },
  req: { headers: Headers; scheme: string; authority: string },
  info: StreamInfo,
  metadata?: Readonly<Record<string, unknown>>,
): Attributes {
  const h = req.headers;
  // http.url: scheme, Host and the path as the client sent it (x-envoy-original-path), cut.
  const path = (first(h['x-envoy-original-path']) ?? info.path).slice(0, config.maxPathTagLength);
  const scheme = first(h['x-forwarded-proto']) ?? req.scheme;
  const a: Attributes = {
    node_id: node.id,
    zone: node.zone,
    'http.url': `${scheme}://${req.authority}${path}`,
    'http.method': info.method,
    downstream_cluster: first(h['x-envoy-downstream-service-cluster']) ?? '-',
    user_agent: info.userAgent || '-',
    'http.protocol': info.protocol,
    'peer.address': info.downstreamRemote,
    request_size: String(info.bytesReceived),
    response_size: String(info.bytesSent),
    component: 'proxy',
    'http.status_code': String(info.status),
    response_flags: flagsText(info.flags),
  };
  if (info.requestId) a['guid:x-request-id'] = info.requestId;
  const clientTraceId = first(h['x-client-trace-id']);
  if (clientTraceId !== undefined) a['guid:x-client-trace-id'] = clientTraceId;
  if (info.upstreamCluster) {
    a.upstream_cluster = info.upstreamCluster;
    a['upstream_cluster.name'] = info.upstreamCluster;
  }
  if (info.upstreamHost) a.upstream_address = info.upstreamHost;
  if (info.grpcStatus !== undefined) a['grpc.status_code'] = info.grpcStatus;
  if (info.status === 0 || info.status >= 500 || (info.grpcStatus !== undefined && info.grpcStatus !== '0'))
    a.error = 'true';
  for (const t of config.customTags) {
    let v: string | undefined;
    switch (t.kind) {
      case 'literal':
      case 'environment':
        v = t.value;
        break;
      case 'request_header':
        v = first(h[t.name]) ?? t.defaultValue;
        break;
      case 'request_metadata':
        v = metadataValue(metadata?.[t.namespace], t.path) ?? t.defaultValue;
        break;
    }
    // Envoy sets no tag for an empty value.
    if (v !== undefined && v !== '') a[t.tag] = v;
  }
  return a;
}

/** A dynamic metadata value as Envoy's MetadataCustomTag prints it (JSON for lists and structs). */
export function metadataValue(root: unknown, path: readonly string[]): string | undefined {
  let v = root;
  for (const k of path) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}
