/**
 * What an xDS-enabled gRPC server can do with a port's PeerAuthentication mode. gRPC's filter
 * chain matching (gRFC A36) cannot tell TLS from plaintext on one port (the only transport
 * protocol it matches is `raw_buffer`), so a PERMISSIVE port cannot take both as a sidecar
 * does. Istio's grpcgen (pilot/pkg/networking/grpcgen/lds.go) serves PERMISSIVE as plaintext,
 * unless the workload carries the `security.istio.io/tlsMode: istio` label: then clients use
 * mTLS to reach it (auto mTLS) and the port is served as STRICT. Trellis does the same.
 */
export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

/** `mtls`: TLS required, client certificate required and verified; `plaintext`: no TLS. */
export type ServerTransport = 'mtls' | 'plaintext';

export const TLS_MODE_LABEL = 'security.istio.io/tlsMode';

export function serverTransport(mode: MtlsMode, labels: Readonly<Record<string, string>>): ServerTransport {
  switch (mode) {
    case 'STRICT':
      return 'mtls';
    case 'DISABLE':
      return 'plaintext';
    case 'PERMISSIVE':
      return labels[TLS_MODE_LABEL] === 'istio' ? 'mtls' : 'plaintext';
  }
}
