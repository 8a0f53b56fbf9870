/**
 * Kiali's graphs from Istio metric rates (pure): workload, app, versionedApp and service graphs.
 *
 * Which reports count (Kiali's rule, so nothing is counted twice): requests and TCP bytes come
 * from reporter="source" when a source proxy exists, and from reporter="destination" only where
 * the source is unknown (traffic from outside the mesh, which no sidecar reported). mTLS comes
 * from reporter="destination" (the side that saw the handshake: connection_security_policy).
 * A destination without a workload (no sidecar, an external host) is a service node.
 */
import type { GraphEdge, GraphNode, GraphType } from './types.js';
import { quantileFromBuckets } from './window.js';

/** One series' rate (per second) over the window. */
export interface Rate {
  name: string;
  labels: Readonly<Record<string, string>>;
  perSecond: number;
}

type L = Readonly<Record<string, string>>;
const UNKNOWN = 'unknown';

function known(v: string | undefined): v is string {
  return v !== undefined && v !== '' && v !== UNKNOWN;
}

/** The source node of a report, or the unknown node. */
function sourceNode(type: GraphType, l: L): GraphNode {
  const ns = l.source_workload_namespace ?? UNKNOWN;
  if (!known(l.source_workload))
    return { id: UNKNOWN, kind: 'unknown', namespace: UNKNOWN, name: UNKNOWN, unknown: true };
  const app = known(l.source_canonical_service) ? l.source_canonical_service : l.source_workload;
  const version = l.source_canonical_revision ?? UNKNOWN;
  return workloadSide(type, ns, l.source_workload, app, version);
}

function destinationNode(type: GraphType, l: L): GraphNode {
  const service = l.destination_service ?? UNKNOWN;
  if (type === 'service' || !known(l.destination_workload)) {
    const ns = known(l.destination_service_namespace) ? l.destination_service_namespace : UNKNOWN;
    return { id: `service:${service}`, kind: 'service', namespace: ns, name: service };
  }
  const ns = l.destination_workload_namespace ?? UNKNOWN;
  const app = known(l.destination_canonical_service)
    ? l.destination_canonical_service
    : l.destination_workload;
  const version = l.destination_canonical_revision ?? UNKNOWN;
  return workloadSide(type, ns, l.destination_workload, app, version);
}

function workloadSide(
  type: GraphType,
  ns: string,
  workload: string,
  app: string,
  version: string,
): GraphNode {
  switch (type) {
    case 'workload':
      return {
        id: `workload:${ns}/${workload}`,
        kind: 'workload',
        namespace: ns,
        name: workload,
        workload,
        app,
        version,
      };
    case 'versionedApp':
      return { id: `app:${ns}/${app}/${version}`, kind: 'app', namespace: ns, name: app, app, version };
    case 'app':
      return { id: `app:${ns}/${app}`, kind: 'app', namespace: ns, name: app, app };
    case 'service':
      // The service graph names callers by app: metrics do not say which service a caller is.
      return { id: `app:${ns}/${app}`, kind: 'app', namespace: ns, name: app, app };
  }
}

interface EdgeAcc {
  edge: Pick<GraphEdge, 'id' | 'source' | 'target' | 'protocol'>;
  requests: number;
  errors: number;
  codes: Map<string, number>;
  buckets: Map<number, number>;
  bytes: number;
  mtls: Set<string>;
}

/** Whether a report counts for traffic (Kiali's rule above). */
function counts(l: L): boolean {
  if (l.reporter === 'source') return true;
  return l.reporter === 'destination' && !known(l.source_workload);
}

function isError(l: L): boolean {
  const code = Number(l.response_code ?? '0');
  return (
    code >= 500 ||
    code === 0 ||
    (l.response_flags !== undefined && l.response_flags !== '-' && l.response_flags !== '')
  );
}

export interface GraphParts {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export function buildGraph(type: GraphType, rates: readonly Rate[], namespace?: string): GraphParts {
  const nodes = new Map<string, GraphNode>();
  const edges = new Map<string, EdgeAcc>();
  const mtlsByEdge = new Map<string, Set<string>>();
  const edgeOf = (l: L, protocol: GraphEdge['protocol']): EdgeAcc => {
    const src = sourceNode(type, l);
    const dst = destinationNode(type, l);
    nodes.set(src.id, nodes.get(src.id) ?? src);
    nodes.set(dst.id, nodes.get(dst.id) ?? dst);
    const id = `${src.id}->${dst.id}`;
    const key = `${id}|${protocol}`;
    let acc = edges.get(key);
    if (!acc) {
      acc = {
        edge: { id, source: src.id, target: dst.id, protocol },
        requests: 0,
        errors: 0,
        codes: new Map(),
        buckets: new Map(),
        bytes: 0,
        mtls: new Set(),
      };
      edges.set(key, acc);
    }
    return acc;
  };
  for (const r of rates) {
    const l = r.labels;
    if (l.reporter === 'destination' && l.connection_security_policy !== undefined) {
      const id = `${sourceNode(type, l).id}->${destinationNode(type, l).id}`;
      let set = mtlsByEdge.get(id);
      if (!set) mtlsByEdge.set(id, (set = new Set()));
      if (r.perSecond > 0) set.add(l.connection_security_policy);
    }
    if (!counts(l)) continue;
    const protocol: GraphEdge['protocol'] =
      l.request_protocol === 'grpc' ? 'grpc' : l.request_protocol === 'tcp' ? 'tcp' : 'http';
    switch (r.name) {
      case 'istio_requests_total': {
        const acc = edgeOf(l, protocol);
        acc.requests += r.perSecond;
        if (isError(l)) acc.errors += r.perSecond;
        const code = l.response_code ?? '0';
        acc.codes.set(code, (acc.codes.get(code) ?? 0) + r.perSecond);
        break;
      }
      case 'istio_request_duration_milliseconds_bucket': {
        const le = l.le === '+Inf' ? Infinity : Number(l.le);
        if (Number.isNaN(le)) break;
        const acc = edgeOf(withoutLe(l), protocol);
        acc.buckets.set(le, (acc.buckets.get(le) ?? 0) + r.perSecond);
        break;
      }
      case 'istio_tcp_sent_bytes_total':
      case 'istio_tcp_received_bytes_total':
        edgeOf(l, 'tcp').bytes += r.perSecond;
        break;
      default:
        break;
    }
  }
  const out: GraphEdge[] = [];
  for (const acc of edges.values()) {
    const mtls = mtlsByEdge.get(acc.edge.id) ?? new Set<string>();
    const edge: GraphEdge = {
      ...acc.edge,
      requestsPerSecond: round(acc.requests),
      errorRatio: acc.requests > 0 ? round(acc.errors / acc.requests) : 0,
      responseCodes: Object.fromEntries([...acc.codes].map(([c, n]) => [c, round(n)])),
      mtls: mtlsState(mtls),
    };
    const p50 = quantileFromBuckets(0.5, acc.buckets);
    const p99 = quantileFromBuckets(0.99, acc.buckets);
    if (p50 !== undefined) edge.p50Ms = round(p50);
    if (p99 !== undefined) edge.p99Ms = round(p99);
    if (acc.edge.protocol === 'tcp') edge.bytesPerSecond = round(acc.bytes);
    out.push(edge);
  }
  let result: GraphParts = {
    nodes: [...nodes.values()],
    edges: out.filter((e) => e.requestsPerSecond > 0 || (e.bytesPerSecond ?? 0) > 0),
  };
  if (namespace !== undefined) result = inNamespace(result, namespace);
  const used = new Set(result.edges.flatMap((e) => [e.source, e.target]));
  result.nodes = result.nodes.filter((n) => used.has(n.id)).sort((a, b) => a.id.localeCompare(b.id));
  result.edges.sort((a, b) => a.id.localeCompare(b.id) || a.protocol.localeCompare(b.protocol));
  return result;
}

function withoutLe(l: L): L {
  const { le: _le, ...rest } = l;
  return rest;
}

function mtlsState(seen: ReadonlySet<string>): GraphEdge['mtls'] {
  const m = seen.has('mutual_tls');
  const n = seen.has('none');
  if (m && n) return 'mixed';
  if (m) return 'mutual_tls';
  if (n) return 'none';
  return 'unknown';
}

/** Edges with either end in the namespace (Kiali shows a namespace's nodes and their neighbours). */
function inNamespace(g: GraphParts, namespace: string): GraphParts {
  const nsOf = new Map(g.nodes.map((n) => [n.id, n.namespace]));
  return {
    nodes: g.nodes,
    edges: g.edges.filter((e) => nsOf.get(e.source) === namespace || nsOf.get(e.target) === namespace),
  };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
