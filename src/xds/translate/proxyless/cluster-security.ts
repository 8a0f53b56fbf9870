/**
 * Client-side mesh mTLS for proxyless gRPC (gRFC A29). The translation writes a cluster's
 * UpstreamTlsContext for Envoy: the workload certificate and the roots as SDS secrets `default`
 * and `ROOTCA`. gRPC has no SDS; it takes both from the certificate provider instance of its
 * bootstrap (tls-context.ts), so the same context is rewritten into that form here.
 *
 * - Only the mesh shape (ISTIO_MUTUAL: SDS `default` + `ROOTCA`, whatever config source) is
 *   rewritten, keeping its SAN matchers; SNI and ALPN go (gRPC sets neither from the context).
 *   Other TLS contexts (SIMPLE/MUTUAL with files or credentialName) are left as they are, and
 *   gRPC rejects them rather than silently talking plaintext.
 * - transport_socket_matches (auto mTLS, chosen per endpoint by its tlsMode metadata) are
 *   dropped: grpc-js-xds ignores them, and Istio gives proxyless clients mTLS only when a
 *   DestinationRule says ISTIO_MUTUAL, setting the cluster's transport socket directly.
 */
import type { ClientTLSSettings } from '../../../api/networking/types.js';
import type {
  Cluster,
  CommonTlsContext__Output,
  StringMatcher,
  TransportSocket,
  UpstreamTlsContext,
  UpstreamTlsContext__Output,
} from '../../../protocol/envoy-types.js';
import { TYPE, unpackAny, type AnyLike } from '../../../protocol/protos.js';
import { FILTER, pack } from '../envoy.js';
import { upstreamTlsSocket } from '../upstream-tls.js';
import { proxylessCommonTlsContext, ROOT_CERT_NAME, WORKLOAD_CERT_NAME } from './tls-context.js';

/** The SAN matchers of an Envoy mesh context, or undefined when it is not the mesh shape. */
function meshSans(common: CommonTlsContext__Output | undefined): StringMatcher[] | undefined {
  if (common === undefined) return undefined;
  const certs = common.tls_certificate_sds_secret_configs ?? [];
  if (certs.length !== 1 || certs[0]?.name !== WORKLOAD_CERT_NAME) return undefined;
  if ((common.tls_certificates ?? []).length > 0 || common.tls_certificate_provider_instance)
    return undefined;
  const combined = common.combined_validation_context;
  if (combined?.validation_context_sds_secret_config?.name !== ROOT_CERT_NAME) return undefined;
  const validation = combined.default_validation_context ?? {};
  // Anything but SAN matchers in the validation context is not ISTIO_MUTUAL's: leave it be.
  const { match_subject_alt_names: sans = [], ...rest } = validation;
  if (Object.keys(rest).length > 0) return undefined;
  return sans as StringMatcher[];
}

/** The socket rewritten for gRPC when it is the mesh's; undefined when it is not. */
function proxylessSocket(socket: TransportSocket): TransportSocket | undefined {
  // The translation packs Anys as { type_url, value } (envoy.ts pack), never proto-loader's form.
  const any = socket.typed_config as AnyLike | null | undefined;
  if (socket.name !== FILTER.tls || any?.type_url !== TYPE.upstreamTls) return undefined;
  const ctx = unpackAny<UpstreamTlsContext__Output>(any);
  const sans = meshSans(ctx.common_tls_context);
  if (sans === undefined) return undefined;
  const rewritten: UpstreamTlsContext = { common_tls_context: proxylessCommonTlsContext(sans) };
  return { name: FILTER.tls, typed_config: pack(TYPE.upstreamTls, rewritten) };
}

/** The cluster as proxyless gRPC should get it (see the module comment). */
export function proxylessClusterSecurity(cluster: Cluster): Cluster {
  const socket = cluster.transport_socket ?? undefined;
  const rewritten = socket === undefined ? undefined : proxylessSocket(socket);
  if (cluster.transport_socket_matches === undefined && rewritten === undefined) return cluster;
  const { transport_socket_matches: _dropped, ...rest } = cluster;
  return rewritten === undefined ? rest : { ...rest, transport_socket: rewritten };
}

/**
 * A gRPC-flavor outbound cluster with its DestinationRule's mesh mTLS: cluster.ts writes no TLS
 * for proxyless clients, so ISTIO_MUTUAL's socket is added here (Istio's grpcgen supports that
 * mode only; SIMPLE/MUTUAL stay plaintext there too), then rewritten for gRPC.
 */
export function proxylessCluster(
  cluster: Cluster,
  tls: ClientTLSSettings | undefined,
  target: { host: string; port: number; subset: string },
): Cluster {
  const needsSocket =
    tls?.mode === 'ISTIO_MUTUAL' &&
    cluster.transport_socket == null &&
    cluster.transport_socket_matches === undefined;
  const socket = needsSocket ? upstreamTlsSocket(tls, { ...target, http2: true }) : undefined;
  return proxylessClusterSecurity(socket === undefined ? cluster : { ...cluster, transport_socket: socket });
}
