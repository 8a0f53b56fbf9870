/**
 * The mesh's own TLS, in Istio's shapes: the workload certificate (`default`) and trust bundle
 * (`ROOTCA`) are SDS secrets served by the workload's own agent through the `sds-grpc` cluster,
 * never by the control plane (the workload's key never leaves the workload). The Trellis proxy
 * serves both from its own certificate when a secret refers to that config source; Envoy gets
 * them from a local agent, as with Istio.
 *
 * Inbound (sidecar) contexts follow pilot/pkg/security/authn/utils BuildInboundTLS: client
 * certificate required, TLS 1.2..1.3 with Istio's cipher list, ALPN h2/http1.1 for HTTP chains
 * and istio-peer-exchange/h2/http1.1 for TCP chains.
 */
import type {
  CommonTlsContext,
  DownstreamTlsContext,
  SdsSecretConfig,
  TransportSocket,
} from '../../../protocol/envoy-types.js';
import { TYPE } from '../../../protocol/protos.js';
import { FILTER, pack } from '../envoy.js';

/** Istio's names of the workload's SDS resources and of the agent's SDS cluster. */
export const SDS_WORKLOAD_CERT = 'default';
export const SDS_ROOT_CA = 'ROOTCA';
export const SDS_GRPC_CLUSTER = 'sds-grpc';

/** A secret the workload's own agent serves (Istio's ConstructSdsSecretConfig). */
export function workloadSdsSecret(name: string): SdsSecretConfig {
  return {
    name,
    sds_config: {
      api_config_source: {
        api_type: 'GRPC',
        set_node_on_first_message_only: true,
        transport_api_version: 'V3',
        grpc_services: [{ envoy_grpc: { cluster_name: SDS_GRPC_CLUSTER } }],
      },
      resource_api_version: 'V3',
    },
  };
}

/** Istio's ALPN values a mesh client's TLS ClientHello carries (util.ALPN*). */
export const ALPN = Object.freeze({
  /** Outbound mesh clusters: HTTP/1.1 and TCP. */
  inMesh: Object.freeze(['istio-peer-exchange', 'istio']),
  /** Outbound mesh clusters speaking HTTP/2. */
  inMeshH2: Object.freeze(['istio-peer-exchange', 'istio', 'h2']),
  /** What a PERMISSIVE listener's mTLS chain matches: any of the values mesh clients send. */
  allIstioMtls: Object.freeze([
    'istio',
    'istio-peer-exchange',
    'istio-http/1.0',
    'istio-http/1.1',
    'istio-h2',
  ]),
  /** Offered by inbound HTTP chains (never `istio`: it would hide the real protocol). */
  http: Object.freeze(['h2', 'http/1.1']),
  /** Offered by inbound TCP chains. */
  tcp: Object.freeze(['istio-peer-exchange', 'h2', 'http/1.1']),
});

/** Istio's server cipher suites for mesh mTLS (authn/utils SupportedCiphers). */
export const MESH_CIPHER_SUITES = Object.freeze([
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'AES256-GCM-SHA384',
  'AES128-GCM-SHA256',
]);

/** The workload certificate, and peers checked against the trust bundle (SANs optional). */
export function meshCommonTlsContext(subjectAltNames: readonly string[] = []): CommonTlsContext {
  return {
    tls_certificate_sds_secret_configs: [workloadSdsSecret(SDS_WORKLOAD_CERT)],
    combined_validation_context: {
      default_validation_context:
        subjectAltNames.length > 0
          ? { match_subject_alt_names: subjectAltNames.map((exact) => ({ exact })) }
          : {},
      validation_context_sds_secret_config: workloadSdsSecret(SDS_ROOT_CA),
    },
  };
}

/** A sidecar inbound chain's mTLS context: the peer must present a mesh certificate. */
export function inboundMtlsContext(http: boolean): DownstreamTlsContext {
  return {
    common_tls_context: {
      ...meshCommonTlsContext(),
      alpn_protocols: [...(http ? ALPN.http : ALPN.tcp)],
      tls_params: {
        tls_minimum_protocol_version: 'TLSv1_2',
        tls_maximum_protocol_version: 'TLSv1_3',
        cipher_suites: [...MESH_CIPHER_SUITES],
      },
    },
    require_client_certificate: { value: true },
  };
}

export function inboundMtlsSocket(http: boolean): TransportSocket {
  return { name: FILTER.tls, typed_config: pack(TYPE.downstreamTls, inboundMtlsContext(http)) };
}
