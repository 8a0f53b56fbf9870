/**
 * Test wiring for mesh mTLS (imported by tests only): workload certificates from a real CA
 * (src/ca), and the Envoy resources Istio's control plane sends for it, shaped as Istio shapes
 * them: inbound listeners with a TLS inspector and filter chains by transport protocol and
 * Istio's ALPN values (STRICT: TLS only; PERMISSIVE: also plain text), outbound clusters with
 * transport_socket_matches on `tlsMode: istio`, secrets `default` / `ROOTCA` through `sds-grpc`.
 */
import { X509Certificate } from 'node:crypto';
import { CertificateAuthority } from '../../ca/authority.js';
import { generateKeyAndCsr } from '../../ca/workload.js';
import { TYPE, packAny } from '../../protocol/protos.js';
import type { WorkloadCertificate } from '../identity/workload-certificate.js';

/** A workload certificate for `ns/<namespace>/sa/<serviceAccount>` signed by `ca`. */
export async function workloadCertificate(
  ca: CertificateAuthority,
  serviceAccount: string,
  opts: { namespace?: string; ttlSeconds?: number; trustBundle?: string[] } = {},
): Promise<WorkloadCertificate> {
  const identity = { namespace: opts.namespace ?? 'default', serviceAccount };
  const { privateKeyPem, csrPem } = await generateKeyAndCsr({ identity });
  const signed = await ca.signCsr(csrPem, {
    identity,
    ...(opts.ttlSeconds ? { ttlSeconds: opts.ttlSeconds } : {}),
  });
  const leaf = new X509Certificate(signed.certChainPem[0]!);
  return {
    certChainPem: signed.certChainPem.join(''),
    privateKeyPem,
    rootCertsPem: (opts.trustBundle ?? ca.trustBundle()).join(''),
    identity: `spiffe://${ca.trustDomain}/ns/${identity.namespace}/sa/${serviceAccount}`,
    notBefore: new Date(leaf.validFrom),
    notAfter: new Date(leaf.validTo),
  };
}

export const spiffe = (sa: string, ns = 'default') => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;

/** Istio's SDS config source for the workload's own secrets. */
export function sdsGrpc(name: string, cluster = 'sds-grpc'): object {
  return {
    name,
    sds_config: {
      api_config_source: {
        api_type: 'GRPC',
        transport_api_version: 'V3',
        grpc_services: [{ envoy_grpc: { cluster_name: cluster } }],
        set_node_on_first_message_only: true,
      },
      initial_fetch_timeout: {},
      resource_api_version: 'V3',
    },
  };
}

export const ISTIO_MTLS_ALPN = [
  'istio-peer-exchange',
  'istio',
  'istio-http/1.0',
  'istio-http/1.1',
  'istio-h2',
];

function downstreamMtls(extra: { alpn?: string[] } = {}): object {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: packAny(TYPE.downstreamTls, {
      common_tls_context: {
        tls_certificate_sds_secret_configs: [sdsGrpc('default')],
        combined_validation_context: {
          default_validation_context: {},
          validation_context_sds_secret_config: sdsGrpc('ROOTCA'),
        },
        alpn_protocols: extra.alpn ?? ['h2', 'http/1.1'],
      },
      require_client_certificate: { value: true },
    }),
  };
}

/** The network filter of an inbound chain: an HCM routing everything to `cluster`, or a TCP proxy. */
function inboundFilter(
  cluster: string,
  kind: 'http' | 'tcp',
  accessLog?: { path: string; format: string },
  hcm: Record<string, unknown> = {},
): object {
  const access_log = accessLog
    ? [
        {
          name: 'envoy.access_loggers.file',
          typed_config: packAny(TYPE.fileAccessLog, {
            path: accessLog.path,
            log_format: { text_format_source: { inline_string: accessLog.format } },
          }),
        },
      ]
    : [];
  if (kind === 'tcp')
    return {
      name: 'envoy.filters.network.tcp_proxy',
      typed_config: packAny(TYPE.tcpProxy, { stat_prefix: cluster, cluster, access_log }),
    };
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: packAny(TYPE.hcm, {
      stat_prefix: `inbound_${cluster}`,
      route_config: {
        name: cluster,
        virtual_hosts: [
          { name: 'inbound', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster } }] },
        ],
      },
      http_filters: [{ name: 'envoy.filters.http.router', typed_config: packAny(TYPE.router, {}) }],
      access_log,
      ...hcm,
    }),
  };
}

/**
 * A sidecar's inbound listener on `port` (Istio's shape): STRICT serves only mTLS chains,
 * PERMISSIVE also plain text. Traffic goes to `cluster` (the app).
 */
export function inboundListener(
  port: number,
  cluster: string,
  opts: {
    mode: 'STRICT' | 'PERMISSIVE';
    kind?: 'http' | 'tcp';
    accessLog?: { path: string; format: string };
    /** More HttpConnectionManager fields (forward_client_cert_details...). */
    hcm?: Record<string, unknown>;
  },
): object {
  const kind = opts.kind ?? 'http';
  const chains: object[] = [
    {
      name: `${port}-mtls`,
      filter_chain_match: { transport_protocol: 'tls', application_protocols: ISTIO_MTLS_ALPN },
      filters: [inboundFilter(cluster, kind, opts.accessLog, opts.hcm)],
      transport_socket: downstreamMtls(kind === 'tcp' ? { alpn: ['istio-peer-exchange', 'istio'] } : {}),
    },
  ];
  if (opts.mode === 'PERMISSIVE')
    chains.push({
      name: `${port}-plaintext`,
      filter_chain_match: { transport_protocol: 'raw_buffer' },
      filters: [inboundFilter(cluster, kind, opts.accessLog, opts.hcm)],
    });
  return {
    name: `virtualInbound_${port}`,
    address: { socket_address: { address: '0.0.0.0', port_value: port } },
    traffic_direction: 'INBOUND',
    listener_filters: [
      { name: 'envoy.filters.listener.tls_inspector', typed_config: packAny(TYPE.tlsInspector, {}) },
    ],
    filter_chains: chains,
  };
}

/** UpstreamTlsContext for ISTIO_MUTUAL: the workload certificate, ROOTCA, SAN of the server. */
export function istioMutual(
  opts: { sni?: string; sans?: object[]; http2?: boolean; sds?: (n: string) => object } = {},
): object {
  const sds = opts.sds ?? sdsGrpc;
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: packAny(TYPE.upstreamTls, {
      common_tls_context: {
        tls_certificate_sds_secret_configs: [sds('default')],
        combined_validation_context: {
          default_validation_context: opts.sans ? { match_subject_alt_names: opts.sans } : {},
          validation_context_sds_secret_config: sds('ROOTCA'),
        },
        alpn_protocols: opts.http2
          ? ['istio-peer-exchange', 'istio', 'h2']
          : ['istio-peer-exchange', 'istio'],
      },
      sni: opts.sni ?? 'outbound_.9080_._.reviews.default.svc.cluster.local',
    }),
  };
}

/** Istio's auto mTLS: mTLS to `tlsMode: istio` endpoints, plain text to the rest. */
export function autoMtls(tls: object = istioMutual()): Record<string, unknown> {
  return {
    transport_socket_matches: [
      {
        name: 'tlsMode-istio',
        match: { fields: { tlsMode: { stringValue: 'istio' } } },
        transport_socket: tls,
      },
      {
        name: 'tlsMode-disabled',
        match: {},
        transport_socket: { name: 'envoy.transport_sockets.raw_buffer' },
      },
    ],
  };
}

/** A ClusterLoadAssignment whose endpoints carry Istio's `tlsMode` label (sidecar or not). */
export function meshEndpoints(
  clusterName: string,
  addrs: { port: number; tlsMode?: 'istio' | 'disabled'; istio?: Record<string, string> }[],
): object {
  return {
    cluster_name: clusterName,
    endpoints: [
      {
        locality: {},
        load_balancing_weight: { value: 1 },
        lb_endpoints: addrs.map((a) => ({
          endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: a.port } } },
          health_status: 'HEALTHY',
          ...(a.tlsMode || a.istio
            ? {
                metadata: {
                  filter_metadata: {
                    ...(a.tlsMode
                      ? {
                          'envoy.transport_socket_match': { fields: { tlsMode: { stringValue: a.tlsMode } } },
                        }
                      : {}),
                    ...(a.istio
                      ? {
                          istio: {
                            fields: Object.fromEntries(
                              Object.entries(a.istio).map(([k, v]) => [k, { stringValue: v }]),
                            ),
                          },
                        }
                      : {}),
                  },
                },
              }
            : {}),
        })),
      },
    ],
  };
}

/** A STATIC cluster to the app on 127.0.0.1:port (what an inbound chain forwards to). */
export function appCluster(name: string, port: number, extra: object = {}): object {
  return {
    name,
    type: 'STATIC',
    connect_timeout: { seconds: 1 },
    load_assignment: {
      cluster_name: name,
      endpoints: [
        {
          lb_endpoints: [
            { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } },
          ],
        },
      ],
    },
    ...extra,
  };
}

export { CertificateAuthority };
