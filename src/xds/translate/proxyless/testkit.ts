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
