/**
 * Auto mTLS: what an outbound cluster sends when its DestinationRule sets no `tls`, after
 * Istio's ClusterBuilder.buildUpstreamTLSSettings and applyUpstreamTLSSettings
 * (pilot/pkg/networking/core/cluster_tls.go):
 *
 * - a DestinationRule `tls` (any mode; a `tls` without a mode is DISABLE, the enum's zero) is the
 *   user's choice and is used as written, ISTIO_MUTUAL getting the mesh SNI and the destination's
 *   identities as SANs when it names none;
 * - otherwise, with auto mTLS on, for a mesh-internal service whose namespace/mesh
 *   PeerAuthentication (the client's best guess: it cannot know which workload it reaches) is not
 *   DISABLE: ISTIO_MUTUAL to endpoints labelled `security.istio.io/tlsMode: istio` and plaintext
 *   to the rest, chosen per endpoint by transport_socket_matches on the endpoint metadata EDS
 *   carries (endpoints.ts);
 * - passthrough (ORIGINAL_DST) clusters have no endpoint metadata to choose by: they get
 *   ISTIO_MUTUAL for every connection when every endpoint of the service has a sidecar, else
 *   plaintext (Istio's BestEffortInferServiceMTLSMode for passthrough services);
 * - otherwise plaintext.
 *
 * Pure: the inputs come from the push (see clusterMtlsInputs in cluster-mtls.ts).
 */
import type { ClientTLSSettings } from '../../../api/networking/types.js';
import type { EffectiveMtlsMode } from './peer-authn.js';

/** Istio's label on workloads that have a sidecar and accept mesh mTLS. */
export const TLS_MODE_LABEL = 'security.istio.io/tlsMode';
export const TLS_MODE_ISTIO = 'istio';
/** The endpoint metadata namespace transport_socket_matches read (Envoy's well-known name). */
export const TRANSPORT_SOCKET_MATCH_KEY = 'envoy.transport_socket_match';
/** The short key under it (Istio's model.TLSModeLabelShortname). */
export const TLS_MODE_SHORT = 'tlsMode';

export interface UpstreamMtlsFacts {
  /** Mesh config enableAutoMtls. */
  autoMtls: boolean;
  /** MESH_EXTERNAL services never get auto mTLS: they are not in the mesh. */
  meshExternal: boolean;
  /** The destination namespace's PeerAuthentication mode; undefined when no policy says. */
  serviceMode: EffectiveMtlsMode | undefined;
  /** The destination's SPIFFE identities (from its endpoints' service accounts), sorted. */
  identities: readonly string[];
  /** Whether the service has endpoints and every one is labelled tlsMode istio. */
  allEndpointsMeshed: boolean;
}

export interface UpstreamTlsDecision {
  /** The settings the transport socket is built from; undefined = plaintext. */
  tls: ClientTLSSettings | undefined;
  /** ISTIO_MUTUAL chosen by auto mTLS: per endpoint, by its tlsMode metadata. */
  auto: boolean;
}

/** Istio's BestEffortInferServiceMTLSMode. */
function inferredMode(facts: UpstreamMtlsFacts, passthrough: boolean): EffectiveMtlsMode | undefined {
  if (facts.meshExternal) return undefined;
  if (passthrough && !facts.allEndpointsMeshed) return 'DISABLE';
  return facts.serviceMode ?? 'PERMISSIVE';
}

/**
 * `passthrough`: the cluster forwards to the address dialled (ORIGINAL_DST); an auto decision
 * then applies to every connection, since there are no endpoints to match on.
 */
export function upstreamTlsDecision(
  userTls: ClientTLSSettings | undefined,
  facts: UpstreamMtlsFacts,
  passthrough = false,
): UpstreamTlsDecision {
  if (userTls !== undefined) {
    if (userTls.mode !== 'ISTIO_MUTUAL') return { tls: userTls, auto: false };
    const sans = userTls.subjectAltNames ?? [];
    return {
      tls: { ...userTls, subjectAltNames: sans.length > 0 ? sans : [...facts.identities] },
      auto: false,
    };
  }
  const mode = inferredMode(facts, passthrough);
  if (!facts.autoMtls || mode === undefined || mode === 'DISABLE') return { tls: undefined, auto: false };
  return { tls: { mode: 'ISTIO_MUTUAL', subjectAltNames: [...facts.identities] }, auto: true };
}

/** `spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/ACCOUNT`, Istio's workload identity URI. */
export function spiffeIdentity(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}
