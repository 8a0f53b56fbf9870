/**
 * The service graph's JSON (issue #14), as `GET /v1/graph` serves it and the console draws it:
 * Kiali's graph types (workload, app, versionedApp, service) over a time window, built from the
 * proxies' Istio metrics (scraped by the control plane, or read from Prometheus). One definition
 * for the control plane that builds it and the console that draws it.
 */
export type GraphType = 'workload' | 'app' | 'versionedApp' | 'service';

export interface GraphNode {
  /** Stable within a graph type: `workload:NS/NAME`, `app:NS/APP`, `app:NS/APP/VERSION`, `service:HOST`. */
  id: string;
  kind: 'workload' | 'app' | 'service' | 'unknown';
  namespace: string;
  /** The workload, app or service name (the host for services). */
  name: string;
  app?: string;
  version?: string;
  workload?: string;
  /** A node seen only as a source with no identity (traffic from outside the mesh). */
  unknown?: boolean;
}

export interface GraphEdge {
  /** `SOURCE_ID->TARGET_ID`. */
  id: string;
  source: string;
  target: string;
  protocol: 'http' | 'grpc' | 'tcp';
  /** Requests per second over the window (HTTP/gRPC); 0 for TCP. */
  requestsPerSecond: number;
  /** Share of requests answered 5xx or with a response flag, 0..1. */
  errorRatio: number;
  /** Latency percentiles over the window, from the duration histogram's buckets (ms). */
  p50Ms?: number;
  p99Ms?: number;
  /** TCP bytes per second, both directions (TCP edges). */
  bytesPerSecond?: number;
  /** Responses by status code over the window (`"200": 12.5` per second). */
  responseCodes: Record<string, number>;
  /** What the reports said about mTLS on this edge (`connection_security_policy`). */
  mtls: 'mutual_tls' | 'none' | 'mixed' | 'unknown';
}

export interface ServiceGraph {
  type: GraphType;
  /** ISO time the graph was built. */
  generatedAt: string;
  /** The window rates are computed over, in seconds. */
  windowSeconds: number;
  /** Where the numbers came from. */
  source: 'scrape' | 'prometheus';
  nodes: GraphNode[];
  edges: GraphEdge[];
}
