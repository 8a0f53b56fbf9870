/**
 * Istio's HTTP metadata exchange, the request half: a sidecar sends its own workload metadata on
 * requests to mesh services (`x-envoy-peer-metadata`, a base64 google.protobuf.Struct with Istio's
 * keys NAMESPACE, WORKLOAD_NAME, LABELS, CLUSTER_ID, NAME; `x-envoy-peer-metadata-id`, the node
 * id), and the destination sidecar reads it for the source_* labels of its metrics and removes it
 * before the app sees it. The metadata itself proves nothing, so a destination reads it only on a
 * mutual TLS connection (a plaintext caller could name any workload and mint a series per name),
 * and only when its NAMESPACE is the namespace of the certificate's SPIFFE identity
 * (source_principal comes from the handshake alone).
 */
import { decodeMessage, encodeMessage } from '../../protocol/protos.js';
import type { ProxyBootstrap } from '../xds-client/bootstrap.js';
import type { ConnectionSecurity } from './downstream.js';
import { first } from './headers.js';

export const PEER_METADATA_HEADER = 'x-envoy-peer-metadata';
export const PEER_METADATA_ID_HEADER = 'x-envoy-peer-metadata-id';

export interface PeerMetadata {
  workload?: string;
  namespace?: string;
  cluster?: string;
  labels: Readonly<Record<string, string>>;
  /** Every field above as one string (the metrics' series key). */
  key: string;
}

interface StructValue {
  stringValue?: string;
  structValue?: { fields?: Record<string, StructValue> };
}

const str = (s: string): StructValue => ({ stringValue: s });

/** The header value a proxy sends about itself (computed once per proxy). */
export function encodePeerMetadata(node: ProxyBootstrap): string {
  const labels: Record<string, StructValue> = {};
  for (const [k, v] of Object.entries(node.labels)) labels[k] = str(v);
  const fields: Record<string, StructValue> = {
    NAMESPACE: str(node.namespace),
    WORKLOAD_NAME: str(node.workloadName),
    LABELS: { structValue: { fields: labels } },
  };
  const name = node.nodeId.split('~')[2]?.split('.')[0];
  if (name) fields.NAME = str(name);
  const cluster = node.labels['topology.istio.io/cluster'];
  if (cluster) fields.CLUSTER_ID = str(cluster);
  return Buffer.from(encodeMessage('google.protobuf.Struct', { fields })).toString('base64');
}

/** Decodes a peer's header; undefined when it is not a Struct in base64 (a bad header is ignored). */
export function decodePeerMetadata(value: string): PeerMetadata | undefined {
  let fields: Record<string, StructValue> | undefined;
  try {
    fields = decodeMessage<{ fields?: Record<string, StructValue> }>(
      'google.protobuf.Struct',
      Buffer.from(value, 'base64'),
    ).fields;
  } catch {
    return undefined;
  }
  if (fields === undefined) return undefined;
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields.LABELS?.structValue?.fields ?? {}))
    if (typeof v.stringValue === 'string') labels[k] = v.stringValue;
  const out: PeerMetadata = { labels: Object.freeze(labels), key: '' };
  const s = (k: string) => fields?.[k]?.stringValue;
  if (s('WORKLOAD_NAME')) out.workload = s('WORKLOAD_NAME');
  if (s('NAMESPACE')) out.namespace = s('NAMESPACE');
  if (s('CLUSTER_ID')) out.cluster = s('CLUSTER_ID');
  if (out.workload === undefined && out.namespace === undefined) return undefined;
  out.key = JSON.stringify([out.workload, out.namespace, out.cluster, labels]);
  return Object.freeze(out);
}

/**
 * Peers by header value, bounded: a destination sees few callers, and a repeated header must give
 * the same object (the metrics' fast path compares peers by identity).
 */
export class PeerMetadataCache {
  private readonly byValue = new Map<string, PeerMetadata | null>();
  constructor(private readonly max = 1000) {}

  /**
   * The caller's metadata, when the connection is mutual TLS and the metadata's namespace is the
   * peer certificate's (when its SPIFFE identity names one); otherwise undefined (ignored).
   */
  lookup(
    headers: Readonly<Record<string, string | string[] | undefined>>,
    security: ConnectionSecurity | undefined,
  ): PeerMetadata | undefined {
    if (security?.policy !== 'mutual_tls') return undefined;
    const peer = this.decode(headers);
    if (peer === undefined) return undefined;
    const ns = principalNamespace(security.peerPrincipal);
    return ns === undefined || ns === peer.namespace ? peer : undefined;
  }

  private decode(headers: Readonly<Record<string, string | string[] | undefined>>): PeerMetadata | undefined {
    const value = first(headers[PEER_METADATA_HEADER]);
    if (value === undefined || value === '') return undefined;
    let peer = this.byValue.get(value);
    if (peer === undefined) {
      peer = value.length > 8192 ? null : (decodePeerMetadata(value) ?? null);
      if (this.byValue.size >= this.max) this.byValue.clear();
      this.byValue.set(value, peer);
    }
    return peer ?? undefined;
  }
}

/** The namespace of a SPIFFE identity (`spiffe://TD/ns/NS/sa/SA`), else undefined. */
export function principalNamespace(principal: string | undefined): string | undefined {
  const m = principal === undefined ? null : /^spiffe:\/\/[^/]+\/ns\/([^/]+)\/sa\/[^/]+$/.exec(principal);
  return m?.[1];
}

/** Removes a caller's metadata headers and, toward a mesh service, adds this proxy's own. */
export function exchangePeerMetadata(
  headers: Record<string, string | string[] | undefined>,
  own: { id: string; metadata: string } | undefined,
): void {
  if (headers[PEER_METADATA_HEADER] !== undefined) delete headers[PEER_METADATA_HEADER];
  if (headers[PEER_METADATA_ID_HEADER] !== undefined) delete headers[PEER_METADATA_ID_HEADER];
  if (own === undefined) return;
  headers[PEER_METADATA_HEADER] = own.metadata;
  headers[PEER_METADATA_ID_HEADER] = own.id;
}
