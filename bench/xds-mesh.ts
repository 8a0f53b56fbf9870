/**
 * The synthetic mesh the xDS benchmark serves: N services spread over a few namespaces, each a
 * MESH_INTERNAL ServiceEntry with three endpoints (v1/v2/v3), a DestinationRule with those
 * subsets and a VirtualService splitting 80/10/10; optionally one Sidecar per app that scopes it
 * to 10 dependencies. Proxies are the workloads behind those endpoints, so every simulated
 * sidecar also gets its inbound listener and cluster, as a real one would.
 */
import type { Resource } from '../src/api/resource.js';

export const DOMAIN = 'cluster.local';
export const SERVICE_PORT = 8080;
export const VERSIONS = ['v1', 'v2', 'v3'] as const;
/** Dependencies per app in scoped mode (each proxy sees exactly this many services). */
export const DEPENDENCIES = 10;

export interface MeshShape {
  services: number;
  namespaces: number;
  scoped: boolean;
}

export function namespaceOf(service: number, shape: MeshShape): string {
  return `ns-${service % shape.namespaces}`;
}

export function hostOf(service: number, shape: MeshShape): string {
  return `svc-${service}.${namespaceOf(service, shape)}.svc.${DOMAIN}`;
}

/** Endpoint address of (service, version): 10.V.HI.LO, unique per pair. */
export function endpointAddress(service: number, version: number): string {
  return `10.${version + 1}.${Math.floor(service / 256)}.${service % 256}`;
}

/** The services app `service` calls in scoped mode: the next DEPENDENCIES services, wrapping. */
export function dependenciesOf(service: number, shape: MeshShape): number[] {
  const n = Math.min(DEPENDENCIES, shape.services - 1);
  return Array.from({ length: n }, (_, i) => (service + 1 + i) % shape.services);
}

function meta(name: string, namespace: string): Resource['metadata'] {
  return { name, namespace };
}

export function serviceEntry(service: number, shape: MeshShape): Resource {
  const ns = namespaceOf(service, shape);
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: meta(`svc-${service}`, ns),
    spec: {
      hosts: [hostOf(service, shape)],
      location: 'MESH_INTERNAL',
      resolution: 'STATIC',
      ports: [{ number: SERVICE_PORT, name: 'http', protocol: 'HTTP' }],
      endpoints: VERSIONS.map((v, i) => ({
        address: endpointAddress(service, i),
        labels: { app: `svc-${service}`, version: v },
      })),
    },
  };
}

export function destinationRule(service: number, shape: MeshShape): Resource {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: meta(`svc-${service}`, namespaceOf(service, shape)),
    spec: {
      host: hostOf(service, shape),
      subsets: VERSIONS.map((v) => ({ name: v, labels: { version: v } })),
    },
  };
}

export function virtualService(service: number, shape: MeshShape, weights: readonly number[]): Resource {
  const host = hostOf(service, shape);
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: meta(`svc-${service}`, namespaceOf(service, shape)),
    spec: {
      hosts: [host],
      http: [
        {
          route: VERSIONS.map((v, i) => ({ destination: { host, subset: v }, weight: weights[i] ?? 0 })),
        },
      ],
    },
  };
}

export function sidecar(service: number, shape: MeshShape): Resource {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'Sidecar',
    metadata: meta(`svc-${service}`, namespaceOf(service, shape)),
    spec: {
      workloadSelector: { labels: { app: `svc-${service}` } },
      egress: [
        {
          hosts: dependenciesOf(service, shape).map((d) => `${namespaceOf(d, shape)}/${hostOf(d, shape)}`),
        },
      ],
    },
  };
}

export const INITIAL_WEIGHTS = [80, 10, 10] as const;

/** Every resource of the mesh, in dependency-free order. */
export function meshResources(shape: MeshShape): Resource[] {
  const out: Resource[] = [];
  for (let s = 0; s < shape.services; s++) {
    out.push(serviceEntry(s, shape), destinationRule(s, shape), virtualService(s, shape, INITIAL_WEIGHTS));
    if (shape.scoped) out.push(sidecar(s, shape));
  }
  return out;
}

/** The i-th weight change: v1 keeps the rest, v2 and v3 take turns growing. */
export function changedWeights(i: number): number[] {
  const v2 = 10 + ((i + 1) % 7) * 5;
  return [100 - v2 - 10, v2, 10];
}

/** Simulated proxy j: the workload behind one endpoint (apps first, then versions). */
export interface ProxyIdentity {
  id: string;
  namespace: string;
  app: string;
  version: string;
  ip: string;
  service: number;
}

export function proxyIdentity(j: number, shape: MeshShape): ProxyIdentity {
  const service = j % shape.services;
  const version = Math.floor(j / shape.services) % VERSIONS.length;
  const ns = namespaceOf(service, shape);
  const ip = endpointAddress(service, version);
  const app = `svc-${service}`;
  return {
    id: `sidecar~${ip}~${app}-${VERSIONS[version]}-${j}.${ns}~${ns}.svc.${DOMAIN}`,
    namespace: ns,
    app,
    version: VERSIONS[version] ?? 'v1',
    ip,
    service,
  };
}

/**
 * The service the benchmark edits: one whose dependents (apps c-10..c-1) have proxies even
 * with few proxies, so scoped mode shows a small, non-empty set of pushes.
 */
export function changedService(shape: MeshShape): number {
  return Math.min(DEPENDENCIES * 2, shape.services - 1);
}

/** Proxies (by index) that can see `service` in scoped mode; every proxy when unscoped. */
export function dependents(service: number, proxies: number, shape: MeshShape): number[] {
  const out: number[] = [];
  for (let j = 0; j < proxies; j++) {
    const app = j % shape.services;
    if (!shape.scoped || dependenciesOf(app, shape).includes(service)) out.push(j);
  }
  return out;
}
