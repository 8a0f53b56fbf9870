/**
 * The gRPC xDS bootstrap the agent writes for proxyless gRPC (`--grpc-bootstrap FILE`, read by
 * the app through GRPC_XDS_BOOTSTRAP), as Istio's agent writes it (pkg/istio-agent/grpcxds):
 * the control plane as the xDS server, the node with GENERATOR=grpc and the workload's
 * namespace and labels, `server_listener_resource_name_template` for xDS-enabled servers, and a
 * `default` file_watcher certificate provider over the agent's PEM files (gRFC A29), which the
 * control plane's TLS contexts name.
 */
import type { CertFilePaths } from './cert-files.js';
import { localityOf, nodeIdFor, nodeMetadata, type WorkloadNode } from './workload-node.js';

export const SERVER_LISTENER_TEMPLATE = 'xds.istio.io/grpc/lds/inbound/%s';
/** Istio's refresh interval; shorter for short-lived certificates (refreshIntervalFor). */
export const DEFAULT_REFRESH_SECONDS = 900;

export interface GrpcBootstrapOptions {
  workload: WorkloadNode;
  /** Default `grpc~IP~workload.ns~ns.svc.cluster.local`. */
  nodeId?: string;
  /** The control plane's xDS address, `host:port`. */
  xdsAddress: string;
  /** The agent's PEM files; no certificate provider without them. */
  certFiles?: CertFilePaths;
  refreshSeconds?: number;
}

/**
 * How often gRPC should re-read the files: a tenth of the certificate's lifetime (so a renewal at
 * half life is picked up long before expiry), between 1 s and Istio's 15 minutes.
 */
export function refreshIntervalFor(lifetimeMs: number): number {
  return Math.min(DEFAULT_REFRESH_SECONDS, Math.max(1, Math.floor(lifetimeMs / 10_000)));
}

export function grpcBootstrap(o: GrpcBootstrapOptions): Record<string, unknown> {
  const w = o.workload;
  return {
    xds_servers: [
      { server_uri: o.xdsAddress, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] },
    ],
    node: {
      id: o.nodeId ?? nodeIdFor('grpc', w),
      // grpc-js-xds needs a locality, even an empty one.
      locality: localityOf(w),
      metadata: nodeMetadata(w, { GENERATOR: 'grpc' }),
    },
    server_listener_resource_name_template: SERVER_LISTENER_TEMPLATE,
    ...(o.certFiles
      ? {
          certificate_providers: {
            default: {
              plugin_name: 'file_watcher',
              config: {
                certificate_file: o.certFiles.certificateFile,
                private_key_file: o.certFiles.privateKeyFile,
                ca_certificate_file: o.certFiles.caCertificateFile,
                refresh_interval: `${o.refreshSeconds ?? DEFAULT_REFRESH_SECONDS}s`,
              },
            },
          },
        }
      : {}),
  };
}
