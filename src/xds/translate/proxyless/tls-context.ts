/**
 * TLS contexts in the form proxyless gRPC understands (gRFC A29): certificates come from the
 * certificate provider instances of the bootstrap, never from SDS. Istio's arrangement: one
 * `file_watcher` instance named `default` over the files its agent writes (cert-chain.pem,
 * key.pem, root-cert.pem), with the certificate names `default` (the workload chain and key)
 * and `ROOTCA` (the trust bundle), the same names SDS uses for Envoy.
 *
 * Validation uses a plain `validation_context` holding `ca_certificate_provider_instance`:
 * grpc-js-xds 1.14 reads the CA instance only there (Istio's
 * `combined_validation_context.validation_context_certificate_provider_instance` is deprecated
 * and rejected by it), and Envoy's validate rules require an SDS config in a combined context.
 */
import type {
  CertificateValidationContext,
  CommonTlsContext,
  DownstreamTlsContext,
  StringMatcher,
  TransportSocket,
} from '../../../protocol/envoy-types.js';
import { TYPE } from '../../../protocol/protos.js';
import { FILTER, pack } from '../envoy.js';

/** The bootstrap's certificate provider instance (Istio's name). */
export const CERT_PROVIDER_INSTANCE = 'default';
/** Certificate names inside that instance, as in SDS. */
export const WORKLOAD_CERT_NAME = 'default';
export const ROOT_CERT_NAME = 'ROOTCA';

export function proxylessValidationContext(
  sans: readonly StringMatcher[] = [],
): CertificateValidationContext {
  return {
    ca_certificate_provider_instance: {
      instance_name: CERT_PROVIDER_INSTANCE,
      certificate_name: ROOT_CERT_NAME,
    },
    ...(sans.length > 0 ? { match_subject_alt_names: [...sans] } : {}),
  };
}

/** The workload certificate and the mesh roots, both from the bootstrap's `default` instance. */
export function proxylessCommonTlsContext(sans: readonly StringMatcher[] = []): CommonTlsContext {
  return {
    tls_certificate_provider_instance: {
      instance_name: CERT_PROVIDER_INSTANCE,
      certificate_name: WORKLOAD_CERT_NAME,
    },
    validation_context: proxylessValidationContext(sans),
  };
}

/**
 * The server side of mesh mTLS: the workload certificate, and a client certificate required and
 * verified against the mesh roots. No SAN check: who may call is AuthorizationPolicy's business
 * (as in Istio, whose grpcgen notes that servers do not honour match_subject_alt_names).
 */
export function serverMtlsTransportSocket(): TransportSocket {
  const ctx: DownstreamTlsContext = {
    common_tls_context: proxylessCommonTlsContext(),
    require_client_certificate: { value: true },
  };
  return { name: FILTER.tls, typed_config: pack(TYPE.downstreamTls, ctx) };
}
