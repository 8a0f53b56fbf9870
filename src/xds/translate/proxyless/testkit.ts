/**
 * Test support for the proxyless translation (imported by *.test.ts only): grpc-js-xds's own
 * validation of Listeners and Clusters with a bootstrap that has (or lacks) certificate
 * provider instances, since its TLS checks look them up by name.
 */
import { createRequire } from 'node:module';
import { packAny, TYPE } from '../../../protocol/protos.js';
import { CERT_PROVIDER_INSTANCE } from './tls-context.js';

interface GrpcResourceType {
  decode(
    context: unknown,
    resource: { type_url: string; value: Uint8Array },
  ): { name: string; error?: string };
}

const requireCjs = createRequire(import.meta.url);
const base = '@grpc/grpc-js-xds/build/src/xds-resource-type/';

function resourceType(file: string, cls: string): GrpcResourceType {
  // Validate as a server started with RBAC enabled would (grpc-js-xds reads the switch once,
  // when it loads; without it an RBAC filter is unknown and the Listener is rejected).
  process.env.GRPC_XDS_EXPERIMENTAL_RBAC ??= 'true';
  // register() installs the filters the validators look up (router, fault, RBAC if enabled).
  (requireCjs('@grpc/grpc-js-xds') as { register(): void }).register();
  return (requireCjs(base + file) as Record<string, { get(): GrpcResourceType }>)[cls]!.get();
}

/**
 * grpc-js-xds's errors for each resource (empty: it would ACK), against a bootstrap with the
 * given certificate provider instances (Istio's `default` unless told otherwise).
 */
export function grpcErrors(
  typeUrl: typeof TYPE.listener | typeof TYPE.cluster,
  resources: ReadonlyMap<string, object>,
  providers: readonly string[] = [CERT_PROVIDER_INSTANCE],
): string[] {
  const type =
    typeUrl === TYPE.listener
      ? resourceType('listener-resource-type.js', 'ListenerResourceType')
      : resourceType('cluster-resource-type.js', 'ClusterResourceType');
  const certificateProviders = Object.fromEntries(providers.map((p) => [p, {}]));
  const context = { server: {}, bootstrap: { certificateProviders } };
  const errors: string[] = [];
  for (const r of resources.values()) {
    const result = type.decode(context, packAny(typeUrl, r));
    if (result.error !== undefined) errors.push(`${result.name}: ${result.error}`);
  }
  return errors;
}

/** A call as grpc-js-xds's RBAC filter sees it. */
export interface RbacRequest {
  path: string;
  headers?: Record<string, string>;
  /** The caller's URI SAN (mTLS); absent for plaintext. */
  principal?: string;
  sourceIp?: string;
}

interface RbacEngine {
  apply(info: object): boolean;
}

/**
 * Whether grpc-js-xds's own RBAC engine lets `request` through `filters` (each in order, as the
 * server's filter chain runs them). Throws when gRPC cannot parse a filter (it would NACK).
 */
export function grpcRbacAllows(
  filters: readonly { typed_config?: unknown }[],
  request: RbacRequest,
): boolean {
  resourceType('listener-resource-type.js', 'ListenerResourceType'); // loads and registers
  const httpFilter = requireCjs('@grpc/grpc-js-xds/build/src/http-filter.js') as {
    parseTopLevelFilterConfig(any: unknown, client: boolean): { config: RbacEngine } | null;
  };
  const grpcJs = requireCjs('@grpc/grpc-js') as { Metadata: new () => { set(k: string, v: string): void } };
  const headers = new grpcJs.Metadata();
  for (const [k, v] of Object.entries({
    ...request.headers,
    ':method': 'POST',
    ':authority': 'server',
    ':path': request.path,
  }))
    headers.set(k, v);
  const tls = request.principal !== undefined;
  const info = {
    destinationIp: '10.0.0.7',
    destinationPort: 7070,
    sourceIp: request.sourceIp ?? '10.0.0.9',
    headers,
    tls,
    peerCertificate: tls ? { subjectaltname: `URI:${request.principal}`, subject: {} } : null,
    urlPath: request.path,
  };
  return filters.every((f) => {
    const parsed = httpFilter.parseTopLevelFilterConfig(f.typed_config, false);
    if (parsed === null) throw new Error('gRPC cannot parse this filter');
    return parsed.config.apply(info);
  });
}
