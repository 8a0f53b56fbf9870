/**
 * DestinationRule `trafficPolicy.tls` -> the cluster's UpstreamTlsContext transport socket.
 * ISTIO_MUTUAL uses the mesh's own certificates over SDS (`default` and `ROOTCA`, Istio's
 * names); SIMPLE and MUTUAL use files or, with credentialName, SDS secrets of that name.
 */
import type {
  CertificateValidationContext,
  CommonTlsContext,
  SdsSecretConfig,
  TransportSocket,
  UpstreamTlsContext,
} from '../../protocol/envoy-types.js';
import type { ClientTLSSettings } from '../../api/networking/types.js';
import { TYPE } from '../../protocol/protos.js';
import { adsConfigSource, FILTER, pack } from './envoy.js';

export const SDS_WORKLOAD_CERT = 'default';
export const SDS_ROOT_CA = 'ROOTCA';

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
    common.tls_certificate_sds_secret_configs = [sdsSecret(SDS_WORKLOAD_CERT)];
    common.combined_validation_context = {
      default_validation_context: sans.length > 0 ? { match_subject_alt_names: sans } : {},
      validation_context_sds_secret_config: sdsSecret(SDS_ROOT_CA),
    };
    common.alpn_protocols = target.http2 ? ['istio', 'h2'] : ['istio'];
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
