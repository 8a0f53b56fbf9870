/**
 * Proxyless gRPC workloads against a test control plane: the Istio YAML that registers a
 * workload's port, node ids, and what the control plane reports about a proxy's xDS state.
 */
import type { TestMesh } from './mesh.js';

/** A MESH_INTERNAL ServiceEntry `NAME.default.svc.cluster.local:50051` served at 127.0.0.1:`port`. */
export function serviceAt(name: string, port: number): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name} }
spec:
  hosts: [${name}.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 50051, name: grpc, protocol: GRPC }]
  endpoints:
  - { address: 127.0.0.1, ports: { grpc: ${port} }, labels: { app: ${name} } }
`;
}

export function nodeId(workload: string): string {
  return `grpc~127.0.0.1~${workload}.default~default.svc.cluster.local`;
}

interface TypeStatus {
  status: string;
  lastNack?: { message: string };
}

/** Per type (LDS, CDS, ...) the control plane's view of what `proxy` ACKed or NACKed. */
export async function syncOf(mesh: TestMesh, proxy: string): Promise<Record<string, TypeStatus>> {
  const rows = (await (await fetch(`${mesh.httpUrl}/debug/syncz`)).json()) as {
    proxy: string;
    types: Record<string, TypeStatus>;
  }[];
  const mine = rows.filter((r) => r.proxy === proxy);
  if (mine.length === 0) return {};
  return Object.assign({}, ...mine.map((r) => r.types)) as Record<string, TypeStatus>;
}

/** Every NACK `proxy` sent that the control plane still holds, as `TYPE: message`. */
export async function nacksOf(mesh: TestMesh, proxy: string): Promise<string[]> {
  return Object.entries(await syncOf(mesh, proxy))
    .filter(([, t]) => t.lastNack !== undefined)
    .map(([type, t]) => `${type}: ${t.lastNack?.message ?? ''}`);
}
