/**
 * Resource names, following Istio so its config dumps read the same:
 * clusters `outbound|9080|v1|reviews.default.svc.cluster.local` and `inbound|9080||`,
 * listeners `0.0.0.0_9080`, sidecar route configs named by port (`9080`), gateway route
 * configs `http.8080`, virtual hosts `HOST:PORT`.
 */

export type Direction = 'outbound' | 'inbound';

export interface ClusterKey {
  direction: Direction;
  port: number;
  subset: string;
  host: string;
}

export function clusterName(direction: Direction, port: number, subset: string, host: string): string {
  return `${direction}|${port}|${subset}|${host}`;
}

export function outboundCluster(host: string, port: number, subset = ''): string {
  return clusterName('outbound', port, subset, host);
}

/** Inbound clusters carry no host: the sidecar's own workload behind it. */
export function inboundCluster(port: number): string {
  return clusterName('inbound', port, '', '');
}

/** Parses a cluster name written by clusterName; undefined for anything else. */
export function parseClusterName(name: string): ClusterKey | undefined {
  const parts = name.split('|');
  if (parts.length !== 4) return undefined;
  const [direction, port, subset, host] = parts as [string, string, string, string];
  if (direction !== 'outbound' && direction !== 'inbound') return undefined;
  if (!/^\d+$/.test(port)) return undefined;
  const n = Number(port);
  if (n < 1 || n > 65535) return undefined;
  return { direction, port: n, subset, host };
}

export function listenerName(address: string, port: number): string {
  return `${address}_${port}`;
}

export function sidecarRouteName(port: number): string {
  return String(port);
}

export function gatewayRouteName(port: number): string {
  return `http.${port}`;
}

export function virtualHostName(host: string, port: number): string {
  return `${host}:${port}`;
}

/** `host:port` as proxyless gRPC names listeners; IPv6 literals keep their brackets off. */
export function splitHostPort(name: string): { host: string; port: number } | undefined {
  const colon = name.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const portText = name.slice(colon + 1);
  if (!/^\d+$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  return { host: name.slice(0, colon), port };
}
