/** `trellis graph`'s table: one row per edge of a ServiceGraph (pure). */
import type { GraphEdge, ServiceGraph } from '../controlplane/graph/types.js';
import { formatTable } from './table.js';

function label(id: string): string {
  return id === 'unknown' ? 'unknown (outside the mesh)' : id.replace(/^(workload|app|service):/, '');
}

function fixed(n: number | undefined, digits: number): string {
  return n === undefined ? '-' : n.toFixed(digits);
}

function traffic(e: GraphEdge): string {
  return e.protocol === 'tcp' ? `${fixed(e.bytesPerSecond, 0)} B/s` : `${fixed(e.requestsPerSecond, 2)}/s`;
}

export function graphTable(g: ServiceGraph): string {
  if (g.edges.length === 0)
    return `no traffic in the last ${g.windowSeconds}s (${g.type} graph from ${g.source}): send some requests, or widen --window\n`;
  return formatTable(
    ['SOURCE', 'DESTINATION', 'PROTOCOL', 'TRAFFIC', 'ERRORS', 'P50', 'P99', 'MTLS'],
    g.edges.map((e) => [
      label(e.source),
      label(e.target),
      e.protocol,
      traffic(e),
      e.protocol === 'tcp' ? '-' : `${(e.errorRatio * 100).toFixed(1)}%`,
      e.p50Ms === undefined ? '-' : `${fixed(e.p50Ms, 1)}ms`,
      e.p99Ms === undefined ? '-' : `${fixed(e.p99Ms, 1)}ms`,
      e.mtls,
    ]),
  );
}
