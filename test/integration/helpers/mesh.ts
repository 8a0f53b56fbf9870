/**
 * An in-process control plane for end-to-end tests: a memory config store fed with Istio
 * YAML (parsed and validated by src/api, exactly as files are), the ADS server on a free port,
 * and the HTTP API.
 */
import path from 'node:path';
import { parseAndValidate } from '../../../src/api/parse.js';
import { validateResource } from '../../../src/api/validate.js';
import { formatProblem } from '../../../src/core/errors.js';
import { MemoryConfigStore } from '../../../src/config/memory-store.js';
import { ControlPlane, type ControlPlaneOptions } from '../../../src/controlplane/control-plane.js';

export interface TestMesh {
  cp: ControlPlane;
  store: MemoryConfigStore;
  xdsPort: number;
  httpUrl: string;
  /** Applies Istio YAML (one or more documents); throws with file:doc: path: message on errors. */
  apply(yaml: string): void;
  remove(kind: string, name: string, namespace?: string): void;
  stop(): Promise<void>;
}

export async function startMesh(
  options: {
    debounceMs?: number;
    rateLimitService?: { host: string; port: number };
    /** Replaces the translation (to inject what a data plane must reject). */
    translator?: ControlPlaneOptions['translator'];
    /** Istio's mesh mTLS defaults (PERMISSIVE, auto mTLS); off by default, as without a CA. */
    meshMtls?: boolean;
    /** The console's tokens and audit file (controlplane/console/setup.ts). */
    console?: ControlPlaneOptions['console'];
  } = {},
): Promise<TestMesh> {
  const store = new MemoryConfigStore((r) => validateResource(r));
  const cp = new ControlPlane({
    config: store,
    debounce: { quietMs: options.debounceMs ?? 10, maxMs: 1000 },
    ...(options.rateLimitService ? { rateLimitService: options.rateLimitService } : {}),
    ...(options.translator ? { translator: options.translator } : {}),
    ...(options.meshMtls !== undefined ? { meshMtls: options.meshMtls } : {}),
    ...(options.console ? { console: options.console } : {}),
  });
  const bound = await cp.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 });
  return {
    cp,
    store,
    xdsPort: bound.xds.port,
    httpUrl: `http://127.0.0.1:${bound.http.port}`,
    apply(yaml) {
      for (const doc of parseAndValidate(yaml, 'test.yaml')) {
        const errors = doc.problems.filter((p) => p.severity === 'error');
        if (errors.length || !doc.resource) {
          throw new Error(`test.yaml:${doc.source.doc}: ${errors.map(formatProblem).join('; ')}`);
        }
        store.apply(doc.resource);
      }
    },
    remove(kind, name, namespace = 'default') {
      store.delete(kind, namespace, name);
    },
    stop: () => cp.stop(),
  };
}

/** What a proxyless workload's bootstrap adds beyond the xDS server and node. */
export interface GrpcBootstrapOptions {
  /**
   * A directory with Istio's proxyless agent files (cert-chain.pem, key.pem, root-cert.pem):
   * the bootstrap gets a `default` file_watcher certificate provider over them (gRFC A29).
   */
  certDir?: string;
  /** How often the file watcher re-reads them (a protobuf JSON duration). Default 1s. */
  refreshInterval?: string;
  /** INSTANCE_IPS node metadata: the addresses whose service instances the workload serves. */
  instanceIps?: string;
}

/**
 * Bootstrap JSON for a grpc-js-xds client or xDS-enabled server talking to this control plane,
 * as Istio's agent writes it for proxyless workloads (server_listener_resource_name_template
 * included: servers need it, clients ignore it).
 */
export function grpcBootstrap(
  xdsPort: number,
  nodeId = 'grpc~127.0.0.1~client.default~default.svc.cluster.local',
  labels: Record<string, string> = {},
  options: GrpcBootstrapOptions = {},
): string {
  const certificateProviders =
    options.certDir === undefined
      ? {}
      : {
          certificate_providers: {
            default: {
              plugin_name: 'file_watcher',
              config: {
                certificate_file: path.join(options.certDir, 'cert-chain.pem'),
                private_key_file: path.join(options.certDir, 'key.pem'),
                ca_certificate_file: path.join(options.certDir, 'root-cert.pem'),
                refresh_interval: options.refreshInterval ?? '1s',
              },
            },
          },
        };
  return JSON.stringify({
    xds_servers: [
      {
        server_uri: `127.0.0.1:${xdsPort}`,
        channel_creds: [{ type: 'insecure' }],
        server_features: ['xds_v3'],
      },
    ],
    node: {
      id: nodeId,
      locality: {},
      metadata: {
        GENERATOR: 'grpc',
        NAMESPACE: 'default',
        LABELS: labels,
        ...(options.instanceIps === undefined ? {} : { INSTANCE_IPS: options.instanceIps }),
      },
    },
    server_listener_resource_name_template: 'xds.istio.io/grpc/lds/inbound/%s',
    ...certificateProviders,
  });
}
