/**
 * Test support for the translator (imported by *.test.ts only): tiny in-memory config and
 * service snapshots, proxies, and checks that generated resources encode, hold to Envoy's
 * validate rules, and pass the proxyless gRPC client's own validators.
 */
import { createRequire } from 'node:module';
import type { Resource } from '../../api/resource.js';
import { FrozenSnapshot } from '../../config/snapshot.js';
import type { ConfigSnapshot } from '../../config/types.js';
import { encodeMessage, packAny, type ResourceTypeUrl } from '../../protocol/protos.js';
import type { Endpoint, Service, ServiceIndexSnapshot, ServicePort } from '../../registry/types.js';
import { validateRules } from '../../protocol/validate-rules.js';
import type { ProxyNode } from '../proxy-node.js';

/**
 * Generated JSON as tests read it: untyped, like a parsed config dump (JSON.parse's own result
 * type), so assertions can walk it freely. Only tests use it.
 */
export type Loose = ReturnType<typeof JSON.parse>;

let created = 0;

/** A resource as a config store would hold it; creation times increase in call order. */
export function res<S>(
  kind: string,
  namespace: string,
  name: string,
  spec: S,
  extra: { creationTimestamp?: string } = {},
): Resource<S> {
  created++;
  return {
    apiVersion: 'networking.istio.io/v1',
    kind,
    metadata: {
      name,
      namespace,
      resourceVersion: '1',
      creationTimestamp:
        extra.creationTimestamp ?? new Date(Date.UTC(2026, 0, 1, 0, 0, created)).toISOString(),
    },
    spec,
  };
}

export function config(resources: readonly Resource[], revision = 1): ConfigSnapshot {
  return new FrozenSnapshot(
    revision,
    resources.map((r) => structuredClone(r)),
  );
}

export function service(hostname: string, ports: ServicePort[], extra: Partial<Service> = {}): Service {
  const namespace = extra.namespace ?? hostname.split('.')[1] ?? 'default';
  return Object.freeze({
    hostname,
    namespace,
    ports,
    resolution: 'STATIC',
    location: 'MESH_INTERNAL',
    addresses: [],
    labels: {},
    source: 'test',
    ...extra,
  });
}

export const http = (number: number, name = `http-${number}`): ServicePort => ({
  name,
  number,
  protocol: 'HTTP',
});
export const grpc = (number: number, name = `grpc-${number}`): ServicePort => ({
  name,
  number,
  protocol: 'GRPC',
});
export const tcp = (number: number, name = `tcp-${number}`): ServicePort => ({
  name,
  number,
  protocol: 'TCP',
});

export function endpoint(hostname: string, address: string, extra: Partial<Endpoint> = {}): Endpoint {
  return Object.freeze({
    hostname,
    namespace: hostname.split('.')[1] ?? 'default',
    address,
    ports: {},
    labels: {},
    locality: '',
    weight: 1,
    healthy: true,
    ...extra,
  });
}

export function registry(
  services: readonly Service[],
  endpoints: readonly Endpoint[] = [],
  version = 1,
): ServiceIndexSnapshot {
  const byHost = new Map(services.map((s) => [s.hostname, s]));
  const eps = new Map<string, Endpoint[]>();
  for (const e of endpoints) eps.set(e.hostname, [...(eps.get(e.hostname) ?? []), e]);
  return {
    version,
    services,
    service: (h) => byHost.get(h),
    endpoints: (h) => eps.get(h) ?? [],
  };
}

export function proxy(extra: Partial<ProxyNode> = {}): ProxyNode {
  const type = extra.type ?? 'sidecar';
  return {
    id: `${type}~10.0.0.1~app.default~default.svc.cluster.local`,
    type,
    namespace: 'default',
    labels: { app: 'app' },
    workloadName: 'app',
    ipAddresses: ['10.0.0.1'],
    locality: '',
    cluster: 'app.default',
    metadata: {},
    ...extra,
  };
}

/**
 * Every resource encodes and Envoy's validate rules (protoc-gen-validate annotations in its
 * protos) hold. Field and enum names need no check here: the generated types make a misspelt
 * one a compile error.
 */
export function checkEncodes(typeUrl: ResourceTypeUrl, resources: ReadonlyMap<string, object>): void {
  for (const [name, r] of resources) {
    encodeMessage(typeUrl, r);
    const findings = validateRules(typeUrl, r);
    if (findings.length > 0)
      throw new Error(`${name}: ${findings.map((f) => `${f.path}: ${f.rule}: ${f.message}`).join('; ')}`);
  }
}

interface GrpcResourceType {
  decode(
    context: unknown,
    resource: { type_url: string; value: Uint8Array },
  ): { name: string; error?: string };
}

const requireCjs = createRequire(import.meta.url);
let grpcTypes: Record<string, GrpcResourceType> | undefined;

function loadGrpcTypes(): Record<string, GrpcResourceType> {
  if (grpcTypes) return grpcTypes;
  // The client's validators live in its build output; register() installs its filters/LBs.
  const base = '@grpc/grpc-js-xds/build/src/xds-resource-type/';
  (requireCjs('@grpc/grpc-js-xds') as { register(): void }).register();
  const get = (file: string, cls: string): GrpcResourceType =>
    (requireCjs(base + file) as Record<string, { get(): GrpcResourceType }>)[cls]!.get();
  grpcTypes = {
    'type.googleapis.com/envoy.config.listener.v3.Listener': get(
      'listener-resource-type.js',
      'ListenerResourceType',
    ),
    'type.googleapis.com/envoy.config.route.v3.RouteConfiguration': get(
      'route-config-resource-type.js',
      'RouteConfigurationResourceType',
    ),
    'type.googleapis.com/envoy.config.cluster.v3.Cluster': get(
      'cluster-resource-type.js',
      'ClusterResourceType',
    ),
    'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment': get(
      'endpoint-resource-type.js',
      'EndpointResourceType',
    ),
  };
  return grpcTypes;
}

/** Runs grpc-js-xds's own resource validation; returns its errors (empty = it would ACK). */
export function grpcClientErrors(typeUrl: ResourceTypeUrl, resources: ReadonlyMap<string, object>): string[] {
  const type = loadGrpcTypes()[typeUrl];
  if (type === undefined) return [];
  const context = { server: {}, bootstrap: { certificateProviders: {} } };
  const errors: string[] = [];
  for (const r of resources.values()) {
    const result = type.decode(context, packAny(typeUrl, r));
    if (result.error !== undefined) errors.push(`${result.name}: ${result.error}`);
  }
  return errors;
}
