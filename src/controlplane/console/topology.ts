/**
 * The graph the console draws when there is no traffic to measure (or no `/v1/graph` yet): the
 * registry's services, each with edges to the versions of the workloads behind it, in the shape
 * of the service graph (graph/types.ts) with every rate 0. Versioned-app nodes are named as
 * Kiali names them: `app:NS/APP/VERSION` from the endpoint's `app` and `version` labels (the
 * workload name when there is no `app` label).
 */
import type { ServiceIndexSnapshot } from '../../registry/types.js';
import type { GraphEdge, GraphNode, ServiceGraph } from '../graph/types.js';

export type TopologyGraph = Omit<ServiceGraph, 'source'> & { source: 'registry' };

function protocolOf(protocols: readonly string[]): GraphEdge['protocol'] {
  if (protocols.some((p) => p === 'GRPC' || p === 'GRPC-WEB')) return 'grpc';
  if (protocols.some((p) => p.startsWith('HTTP'))) return 'http';
  return 'tcp';
}

export function registryTopology(registry: ServiceIndexSnapshot, now: Date): TopologyGraph {
  const nodes = new Map<string, GraphNode>();
  const edges = new Map<string, GraphEdge>();
  for (const svc of registry.services) {
    if (svc.location === 'MESH_EXTERNAL') continue;
    const serviceId = `service:${svc.hostname}`;
    nodes.set(serviceId, { id: serviceId, kind: 'service', namespace: svc.namespace, name: svc.hostname });
    const protocol = protocolOf(svc.ports.map((p) => p.protocol));
    for (const ep of registry.endpoints(svc.hostname)) {
      const app = ep.labels.app ?? ep.workloadName ?? ep.address;
      const version = ep.labels.version;
      const id =
        version === undefined ? `app:${ep.namespace}/${app}` : `app:${ep.namespace}/${app}/${version}`;
      if (!nodes.has(id))
        nodes.set(id, {
          id,
          kind: 'app',
          namespace: ep.namespace,
          name: app,
          app,
          ...(version !== undefined ? { version } : {}),
          ...(ep.workloadName !== undefined ? { workload: ep.workloadName } : {}),
        });
      const edgeId = `${serviceId}->${id}`;
      if (!edges.has(edgeId))
        edges.set(edgeId, {
          id: edgeId,
          source: serviceId,
          target: id,
          protocol,
          requestsPerSecond: 0,
          errorRatio: 0,
          responseCodes: {},
          mtls: 'unknown',
        });
    }
  }
  return {
    type: 'versionedApp',
    generatedAt: now.toISOString(),
    windowSeconds: 0,
    source: 'registry',
    nodes: [...nodes.values()],
    edges: [...edges.values()],
  };
}
