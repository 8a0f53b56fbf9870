/**
 * DestinationRule `trafficPolicy.tls` -> the cluster's UpstreamTlsContext transport socket.
 * ISTIO_MUTUAL uses the workload's own certificate and trust bundle (`default` and `ROOTCA`,
 * Istio's names), served by the workload's agent through the `sds-grpc` cluster, never by the
 * control plane; SIMPLE and MUTUAL use files or, with credentialName, SDS secrets of that name
 * from the control plane (over ADS, as gateway credentials are).
 *
 * Auto mTLS (security/mtls-auto.ts) turns an ISTIO_MUTUAL socket into Istio's
 * transport_socket_matches: mTLS to endpoints whose metadata says `tlsMode: istio`, plaintext
 * to the rest.
 */
import type {
  CertificateValidationContext,
  Cluster,
  CommonTlsContext,
  SdsSecretConfig,
  TransportSocket,
  UpstreamTlsContext,
} from '../../protocol/envoy-types.js';
import type { ClientTLSSettings } from '../../api/networking/types.js';
import { TYPE } from '../../protocol/protos.js';
import { adsConfigSource, FILTER, pack } from './envoy.js';
import { TLS_MODE_ISTIO, TLS_MODE_SHORT } from './security/mtls-auto.js';
import { ALPN, meshCommonTlsContext } from './security/mtls.js';

/** A credentialName secret: the control plane serves it (Kubernetes Secrets, over ADS). */
function sdsSecret(name: string): SdsSecretConfig {
  return { name, sds_config: adsConfigSource() };
}

/** Istio's SNI for mesh mTLS: `outbound_.PORT_.SUBSET_.HOST`. */
export function meshSni(host: string, port: number, subset: string): string {
  return `outbound_.${port}_.${subset}_.${host}`;
}

export function upstreamTlsSocket(
  tls: ClientTLSSettings | undefined,
  target: { host: string; port: number; subset: string; http2: boolean },
): TransportSocket | undefined {
  if (tls === undefined || tls.mode === undefined || tls.mode === 'DISABLE') return undefined;
  const common: CommonTlsContext = {};
  const sans = (tls.subjectAltNames ?? []).map((exact) => ({ exact }));
  const ctx: UpstreamTlsContext = { common_tls_context: common };
  if (tls.mode === 'ISTIO_MUTUAL') {
    Object.assign(common, meshCommonTlsContext(tls.subjectAltNames ?? []));
    // Istio's defaultUpstreamCommonTLSContext: TLS 1.2 to 1.3.
    common.tls_params = { tls_minimum_protocol_version: 'TLSv1_2', tls_maximum_protocol_version: 'TLSv1_3' };
    common.alpn_protocols = [...(target.http2 ? ALPN.inMeshH2 : ALPN.inMesh)];
    ctx.sni = tls.sni ?? meshSni(target.host, target.port, target.subset);
  } else {
    if (tls.mode === 'MUTUAL') {
      if (tls.credentialName !== undefined) {
        common.tls_certificate_sds_secret_configs = [sdsSecret(tls.credentialName)];
      } else if (tls.clientCertificate !== undefined && tls.privateKey !== undefined) {
        common.tls_certificates = [
          {
            certificate_chain: { filename: tls.clientCertificate },
            private_key: { filename: tls.privateKey },
          },
        ];
      }
    }
    if (tls.insecureSkipVerify !== true) {
      const validation: CertificateValidationContext = {};
      if (sans.length > 0) validation.match_subject_alt_names = sans;
      if (tls.credentialName !== undefined) {
        common.combined_validation_context = {
          default_validation_context: validation,
          validation_context_sds_secret_config: sdsSecret(`${tls.credentialName}-cacert`),
        };
      } else {
        if (tls.caCertificates !== undefined) validation.trusted_ca = { filename: tls.caCertificates };
        common.validation_context = validation;
      }
    }
    if (target.http2) common.alpn_protocols = ['h2'];
    ctx.sni = tls.sni ?? target.host;
  }
  return { name: FILTER.tls, typed_config: pack(TYPE.upstreamTls, ctx) };
}

/** Istio's plaintext transport socket (the `tlsMode-disabled` match). */
export function rawBufferSocket(): TransportSocket {
  return { name: 'envoy.transport_sockets.raw_buffer', typed_config: pack(TYPE.rawBuffer, {}) };
}

/**
 * Istio's transport_socket_matches for auto mTLS: `mtls` to endpoints whose metadata
 * `envoy.transport_socket_match` says `tlsMode: istio`, plaintext to every other endpoint.
 */
export function autoMtlsSocketMatches(
  mtls: TransportSocket,
): NonNullable<Cluster['transport_socket_matches']> {
  return [
    {
      name: `tlsMode-${TLS_MODE_ISTIO}`,
      match: { fields: { [TLS_MODE_SHORT]: { stringValue: TLS_MODE_ISTIO } } },
      transport_socket: mtls,
    },
    { name: 'tlsMode-disabled', match: {}, transport_socket: rawBufferSocket() },
  ];
}
