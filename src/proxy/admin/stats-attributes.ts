/**
 * Envoy's request attributes (envoy.io docs: advanced/attributes), as the `istio.stats` filter's
 * CEL dimensions read them: request.*, response.*, connection.*, source.*, destination.*, xds.*,
 * and Istio's upstream_peer / downstream_peer (`upstream_peer.labels['app'].value`). Built only
 * for connection managers whose stats filter has a dimension.
 */
import type { StreamInfo } from '../connection-manager/stream-info.js';
import type { PeerMetadata } from '../connection-manager/peer-metadata.js';

function headerMap(h: StreamInfo['requestHeaders']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.join(',') : v;
  }
  return out;
}

function peer(
  p: { workload?: string; namespace?: string; labels?: Readonly<Record<string, string>> } | undefined,
) {
  if (p === undefined) return undefined;
  const labels: Record<string, { value: string }> = {};
  for (const [k, v] of Object.entries(p.labels ?? {})) labels[k] = { value: v };
  return {
    workload: p.workload ?? '',
    namespace: p.namespace ?? '',
    labels,
  };
}

function upstreamPeer(info: StreamInfo): PeerMetadata | undefined {
  const id = info.destinationIdentity;
  if (id === undefined) return undefined;
  const labels: Record<string, string> = {};
  if (id.app ?? id.canonicalService) labels.app = (id.app ?? id.canonicalService)!;
  if (id.version) labels.version = id.version;
  if (id.canonicalService) labels['service.istio.io/canonical-name'] = id.canonicalService;
  if (id.version) labels['service.istio.io/canonical-revision'] = id.version;
  return {
    ...(id.workload ? { workload: id.workload } : {}),
    ...(id.namespace ? { namespace: id.namespace } : {}),
    labels,
    key: '',
  };
}

export function requestAttributes(info: StreamInfo): Record<string, unknown> {
  const [path = '', query = ''] = info.path.split('?', 2);
  const sec = info.downstreamSecurity;
  const out: Record<string, unknown> = {
    request: {
      host: info.authority,
      path: info.path,
      url_path: path,
      query,
      method: info.method,
      scheme: 'http',
      protocol: info.protocol,
      headers: headerMap(info.requestHeaders),
      id: info.requestId,
      useragent: info.userAgent,
      size: BigInt(info.bytesReceived),
      duration: BigInt(Math.round(info.durationMs)),
    },
    response: {
      code: BigInt(info.status),
      size: BigInt(info.bytesSent),
      grpc_status: info.grpcStatus ?? '',
      code_details: info.responseCodeDetails ?? '',
    },
    connection: {
      mtls: sec?.policy === 'mutual_tls',
      requested_server_name: sec?.sni ?? '',
      uri_san_peer_certificate: sec?.peerPrincipal ?? '',
      uri_san_local_certificate: sec?.localPrincipal ?? '',
    },
    source: { address: info.downstreamRemote },
    destination: {},
    xds: { cluster_name: info.upstreamCluster ?? '', route_name: info.routeName ?? '' },
  };
  const up = peer(info.reporter === 'source' ? upstreamPeer(info) : undefined);
  if (up !== undefined) out.upstream_peer = up;
  const down = peer(info.reporter === 'destination' ? info.sourcePeer : undefined);
  if (down !== undefined) out.downstream_peer = down;
  return out;
}
