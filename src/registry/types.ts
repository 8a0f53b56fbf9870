/**
 * The service index's model: what the mesh knows about services and their instances, whatever
 * the source (ServiceEntry/WorkloadEntry, the registration API, etcd, Kubernetes).
 */

import type { Protocol } from '../api/hosts.js';

/** Istio's port protocols (the prefix of a port name also selects one: `http-web`, `grpc-api`). */
export type PortProtocol = Protocol;

export interface ServicePort {
  /** Port name, e.g. `http`; the key that endpoint ports are looked up by. */
  name: string;
  number: number;
  protocol: PortProtocol;
  /** Port the workloads listen on, when it differs from `number`. */
  targetPort?: number;
}

export interface Service {
  /** Fully qualified host, e.g. `reviews.default.svc.cluster.local` or `api.example.com`. */
  hostname: string;
  namespace: string;
  ports: readonly ServicePort[];
  /** STATIC: endpoints by IP; DNS: endpoints are names resolved by the data plane; NONE: passthrough. */
  resolution: 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN' | 'NONE';
  location: 'MESH_INTERNAL' | 'MESH_EXTERNAL';
  /** Virtual IPs, when the service has any. */
  addresses: readonly string[];
  labels: Readonly<Record<string, string>>;
  /** Namespaces the service is visible to (Istio exportTo); `*` or absent means all. */
  exportTo?: readonly string[];
  /** Where the service came from, for debug output: `ServiceEntry/default/reviews`, `registration`. */
  source: string;
}

export interface Endpoint {
  /** Service hostname this instance belongs to. */
  hostname: string;
  namespace: string;
  /** IP address or (for DNS resolution) host name. */
  address: string;
  /** Port number by service port name. Missing names fall back to the service port number. */
  ports: Readonly<Record<string, number>>;
  labels: Readonly<Record<string, string>>;
  /** `region/zone/subzone`, any part may be empty. */
  locality: string;
  /** Load balancing weight, >= 1. */
  weight: number;
  healthy: boolean;
  /** Workload name for telemetry (`reviews-v1`). */
  workloadName?: string;
  serviceAccount?: string;
  network?: string;
}

/** An immutable view of the index at one version. */
export interface ServiceIndexSnapshot {
  readonly version: number;
  readonly services: readonly Service[];
  service(hostname: string): Service | undefined;
  endpoints(hostname: string): readonly Endpoint[];
}
