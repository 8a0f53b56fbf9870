/**
 * The labels of Istio's standard metrics (istio.io reference/config/metrics), computed from a
 * request's StreamInfo and the proxy's own node, per reporter:
 * - reporter="source" (a sidecar's or gateway's outbound): source_* are this proxy's workload;
 *   destination_* come from the chosen endpoint's `istio` metadata (unknown without it);
 *   principals and connection_security_policy are `unknown`, as Istio reports them client side.
 * - reporter="destination" (inbound): destination_* are this proxy's workload; source_* come from
 *   the caller's metadata exchange headers (unknown without them); the principals from the mTLS
 *   handshake; connection_security_policy `mutual_tls` or `none`.
 * Canonical service and revision follow Istio's label fallbacks (protocol/trellis/canonical-labels).
 */
import { canonicalLabels } from '../../protocol/trellis/canonical-labels.js';
import { flagsText } from '../connection-manager/response-flags.js';
import type { PeerMetadata } from '../connection-manager/peer-metadata.js';
import type { StreamInfo } from '../connection-manager/stream-info.js';
import type { ProxyBootstrap } from '../xds-client/bootstrap.js';

/** Istio's label names, in the order this proxy prints them. */
export const LABEL_NAMES = [
  'reporter',
  'source_workload',
  'source_workload_namespace',
  'source_version',
  'source_app',
  'source_canonical_service',
  'source_canonical_revision',
  'source_cluster',
  'destination_service',
  'destination_service_name',
  'destination_service_namespace',
  'destination_workload',
  'destination_workload_namespace',
  'destination_version',
  'destination_app',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_cluster',
  'request_protocol',
  'response_code',
  'response_flags',
  'grpc_response_status',
  'source_principal',
  'destination_principal',
  'connection_security_policy',
] as const;

export type LabelName = (typeof LABEL_NAMES)[number];

/** The labels TCP metrics leave out (Istio's TCP metrics have no HTTP status). */
export const HTTP_ONLY_LABELS: ReadonlySet<LabelName> = new Set(['response_code', 'grpc_response_status']);

export const LABEL_INDEX: Readonly<Record<LabelName, number>> = Object.fromEntries(
  LABEL_NAMES.map((n, i) => [n, i]),
) as Record<LabelName, number>;

/** One side of an edge, as the workload labels describe it. */
interface Workload {
  workload: string;
  namespace: string;
  version: string;
  app: string;
  canonicalService: string;
  canonicalRevision: string;
  cluster: string;
}

const UNKNOWN_WORKLOAD: Workload = Object.freeze({
  workload: 'unknown',
  namespace: 'unknown',
  version: 'unknown',
  app: 'unknown',
  canonicalService: 'unknown',
  canonicalRevision: 'unknown',
  cluster: 'unknown',
});

function workloadOf(name: string, namespace: string, labels: Readonly<Record<string, string>>): Workload {
  const c = canonicalLabels(labels, name || 'unknown');
  return {
    workload: name || 'unknown',
    namespace: namespace || 'unknown',
    version: c.version ?? 'unknown',
    app: c.app ?? 'unknown',
    canonicalService: c.canonicalService,
    canonicalRevision: c.canonicalRevision,
    cluster: c.cluster,
  };
}

/** This proxy's own workload labels (computed once per proxy). */
export function nodeWorkload(node: ProxyBootstrap): Workload {
  return workloadOf(node.workloadName, node.namespace, node.labels);
}

function peerWorkload(peer: PeerMetadata | undefined): Workload {
  if (peer === undefined) return UNKNOWN_WORKLOAD;
  const w = workloadOf(peer.workload ?? '', peer.namespace ?? '', peer.labels);
  return peer.cluster ? { ...w, cluster: peer.cluster } : w;
}

function endpointWorkload(id: StreamInfo['destinationIdentity']): Workload {
  if (id === undefined) return UNKNOWN_WORKLOAD;
  return {
    workload: id.workload ?? 'unknown',
    namespace: id.namespace ?? 'unknown',
    version: id.version ?? 'unknown',
    app: id.app ?? id.canonicalService ?? 'unknown',
    canonicalService: id.canonicalService ?? 'unknown',
    canonicalRevision: id.version ?? 'unknown',
    cluster: id.cluster ?? 'unknown',
  };
}

/** Every label value of one request, in LABEL_NAMES order. */
export function labelValues(self: Workload, info: StreamInfo, tcp: boolean, reporter?: string): string[] {
  const local = info.reporter === 'destination';
  const src = local ? peerWorkload(info.sourcePeer) : self;
  const dst = local ? self : endpointWorkload(info.destinationIdentity);
  const svc = destinationService(info, tcp, local ? self.namespace : undefined);
  const [srcPrincipal, dstPrincipal, policy] = securityLabels(info);
  return [
    reporter ?? info.reporter,
    src.workload,
    src.namespace,
    src.version,
    src.app,
    src.canonicalService,
    src.canonicalRevision,
    src.cluster,
    svc.service,
    svc.name,
    svc.namespace,
    dst.workload,
    dst.namespace,
    dst.version,
    dst.app,
    dst.canonicalService,
    dst.canonicalRevision,
    dst.cluster,
    tcp ? 'tcp' : info.grpcStatus !== undefined ? 'grpc' : 'http',
    String(info.status),
    flagsText(info.flags),
    info.grpcStatus ?? '',
    srcPrincipal,
    dstPrincipal,
    policy,
  ];
}

/**
 * destination_service and its name and namespace. Outbound: the cluster's host
 * (`outbound|9080|v1|reviews.default.svc.cluster.local`); traffic outside the registry as Istio's
 * stats count it (PassthroughCluster or BlackHoleCluster as the name, the Host as the service).
 * Inbound (`inbound|9080||`): the request's Host, completed in the proxy's namespace when short.
 */
function destinationService(
  info: StreamInfo,
  tcp: boolean,
  inboundNamespace: string | undefined,
): { service: string; name: string; namespace: string } {
  const passthrough = passthroughName(info);
  if (passthrough) {
    const host = (tcp ? '' : info.authority.replace(/:\d+$/, '')) || 'unknown';
    return { service: host, name: passthrough, namespace: info.destinationIdentity?.namespace ?? 'unknown' };
  }
  const cluster = info.upstreamCluster;
  if (inboundNamespace !== undefined && (cluster === undefined || cluster.startsWith('inbound|'))) {
    const host = info.authority.replace(/:\d+$/, '');
    if (host === '' || /^[\d.]+$/.test(host) || host.startsWith('['))
      return { service: 'unknown', name: 'unknown', namespace: inboundNamespace };
    const full = host.includes('.') ? host : `${host}.${inboundNamespace}.svc.cluster.local`;
    const [name, ns] = full.split('.');
    return { service: full, name: name || 'unknown', namespace: ns ?? inboundNamespace };
  }
  const service = serviceOfCluster(cluster, info.authority);
  const [name, ns] = service.split('.');
  return {
    service,
    name: name || 'unknown',
    namespace: info.destinationIdentity?.namespace ?? ns ?? 'unknown',
  };
}

/**
 * Istio's security labels. The destination side knows what the inbound connection's handshake
 * proved: `connection_security_policy` mutual_tls or none, the caller's principal, its own. The
 * source side reports `unknown` for all three, as Istio's stats filter does client side.
 */
function securityLabels(info: StreamInfo): [string, string, string] {
  if (info.reporter !== 'destination') return ['unknown', 'unknown', 'unknown'];
  const sec = info.downstreamSecurity;
  return [
    sec?.peerPrincipal ?? 'unknown',
    sec?.localPrincipal ?? 'unknown',
    sec?.policy === 'mutual_tls' ? 'mutual_tls' : 'none',
  ];
}

const PASSTHROUGH_ROUTES: ReadonlyMap<string, string> = new Map([
  ['allow_any', 'PassthroughCluster'],
  ['block_all', 'BlackHoleCluster'],
]);
const PASSTHROUGH_CLUSTERS: ReadonlySet<string> = new Set([
  'PassthroughCluster',
  'BlackHoleCluster',
  'InboundPassthroughClusterIpv4',
  'InboundPassthroughClusterIpv6',
]);

/**
 * Istio's stats name traffic to hosts outside the registry by the route that took it (Istio's
 * `allow_any` and `block_all`) or the cluster it went to (PassthroughCluster, BlackHoleCluster).
 */
export function passthroughName(info: Pick<StreamInfo, 'routeName' | 'upstreamCluster'>): string | undefined {
  const byRoute = info.routeName === undefined ? undefined : PASSTHROUGH_ROUTES.get(info.routeName);
  if (byRoute !== undefined) return byRoute;
  return info.upstreamCluster !== undefined && PASSTHROUGH_CLUSTERS.has(info.upstreamCluster)
    ? info.upstreamCluster
    : undefined;
}

/** `outbound|9080|v1|reviews.default.svc.cluster.local` -> the host; else the authority's host. */
export function serviceOfCluster(cluster: string | undefined, authority: string): string {
  if (cluster) {
    const parts = cluster.split('|');
    if (parts.length === 4 && parts[3]) return parts[3];
    return cluster;
  }
  return authority.replace(/:\d+$/, '') || 'unknown';
}
