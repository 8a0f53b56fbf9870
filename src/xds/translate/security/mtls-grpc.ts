/**
 * Mesh mTLS for proxyless gRPC clients, Istio's arrangement (pilot/pkg/networking/grpcgen,
 * buildCommonTLSContext; gRFC A29): the client has no SDS agent, so its certificate and trust
 * bundle come from a certificate provider in its own bootstrap (`certificate_providers.default`,
 * `file_watcher` over PEM files), referred to by CertificateProviderPluginInstance: instance
 * `default`, certificate `default` (chain and key) and `ROOTCA` (trust bundle).
 *
 * As in Istio, proxyless clients get mTLS only when a DestinationRule says ISTIO_MUTUAL, never
 * by auto mTLS: the control plane cannot tell whether the client uses xDS credentials (without
 * them the settings are ignored), and gRPC cannot offer Istio's ALPN values, so PERMISSIVE
 * sidecars would not recognise its mTLS. A client whose bootstrap lacks the `default` provider
 * NACKs such a cluster (grpc-js-xds checks the instance name).
 */
import type { ClientTLSSettings } from '../../../api/networking/types.js';
import type { TransportSocket, UpstreamTlsContext } from '../../../protocol/envoy-types.js';
import { TYPE } from '../../../protocol/protos.js';
import { FILTER, pack } from '../envoy.js';
import { SDS_ROOT_CA, SDS_WORKLOAD_CERT } from './mtls.js';

/** The certificate provider instance name a proxyless bootstrap must define (Istio's). */
export const GRPC_CERTIFICATE_PROVIDER = 'default';

export function grpcUpstreamTlsSocket(
  tls: ClientTLSSettings | undefined,
  identities: readonly string[],
): TransportSocket | undefined {
  // SIMPLE and MUTUAL name files or credentials a proxyless client cannot load through xDS.
  if (tls?.mode !== 'ISTIO_MUTUAL') return undefined;
  const listed = tls.subjectAltNames ?? [];
  const sans = listed.length > 0 ? listed : identities;
  const ctx: UpstreamTlsContext = {
    common_tls_context: {
      tls_certificate_provider_instance: {
        instance_name: GRPC_CERTIFICATE_PROVIDER,
        certificate_name: SDS_WORKLOAD_CERT,
      },
      // A plain validation_context: a combined one must name an SDS secret (Envoy's rule),
      // which a proxyless client has none of.
      validation_context: {
        ca_certificate_provider_instance: {
          instance_name: GRPC_CERTIFICATE_PROVIDER,
          certificate_name: SDS_ROOT_CA,
        },
        ...(sans.length > 0 ? { match_subject_alt_names: sans.map((exact) => ({ exact })) } : {}),
      },
    },
  };
  if (tls.sni !== undefined) ctx.sni = tls.sni;
  return { name: FILTER.tls, typed_config: pack(TYPE.upstreamTls, ctx) };
}
