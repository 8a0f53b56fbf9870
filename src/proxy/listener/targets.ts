/**
 * Which configuration handles a request, per listener kind (pure functions of the snapshot):
 * - outbound capture: the destination port (from Host / :authority, or an absolute-form URI)
 *   selects the Listener `ADDRESS_PORT` or `0.0.0.0_PORT`, whose HTTP connection manager names
 *   the RouteConfiguration (by RDS, Istio names it by port) that matches the virtual host;
 * - inbound capture: the port selects the filter chain of an inbound listener bound on the
 *   inbound port (Istio's `virtualInbound`) when there is one, else the `inbound|PORT||` cluster;
 * - bound listeners: their own filter chain.
 */
import type {
  Endpoint,
  HttpConnectionManagerConfig,
  ListenerConfig,
  ProxyConfigSnapshot,
} from '../model/config.js';
import type { Downstream } from '../connection-manager/downstream.js';
import type { RequestTarget } from '../connection-manager/request-handler.js';
import { stripPort } from '../connection-manager/route-table.js';

export function portOf(authority: string, fallback: number): number {
  const m = /:(\d+)$/.exec(authority);
  return m ? Number(m[1]) : fallback;
}

export function httpChain(l: ListenerConfig, port?: number): HttpConnectionManagerConfig | undefined {
  // Runs per request: one pass, no intermediate arrays.
  let fallback: HttpConnectionManagerConfig | undefined;
  for (const c of l.filterChains) {
    if (c.filter.kind !== 'http') continue;
    if (port !== undefined && c.destinationPort === port) return c.filter;
    if (c.destinationPort === undefined) fallback ??= c.filter;
  }
  return fallback;
}

/** The HTTP connection manager of a chain that serves plaintext (no TLS required), if any. */
function plaintextHttpChain(l: ListenerConfig): HttpConnectionManagerConfig | undefined {
  for (const c of l.filterChains) {
    if (c.tls !== undefined || (c.transportProtocol !== undefined && c.transportProtocol !== 'raw_buffer'))
      continue;
    if (c.filter.kind === 'http') return c.filter;
  }
  return undefined;
}

export function routesTarget(snapshot: ProxyConfigSnapshot, hcm: HttpConnectionManagerConfig): RequestTarget {
  const table =
    hcm.routeConfigName !== undefined ? snapshot.routes.get(hcm.routeConfigName) : hcm.inlineRoutes;
  return { kind: 'routes', table, hcm };
}

export function outboundTarget(
  snapshot: ProxyConfigSnapshot,
  ds: Pick<Downstream, 'authority' | 'path'>,
): RequestTarget {
  const port = portOf(ds.authority, 80);
  const host = stripPort(ds.authority).replace(/^\[|\]$/g, '');
  let wildcard: ListenerConfig | undefined;
  let exact: ListenerConfig | undefined;
  for (const l of listenersOnPort(snapshot, port)) {
    if (l.address === host) exact = l;
    else if (l.address === '0.0.0.0' || l.address === '::') wildcard ??= l;
  }
  // No listener for the port: Istio's virtualOutbound would pass a captured connection through;
  // an HTTP request from a client pointed at the proxy takes its HTTP chain (the catch-all).
  const passthrough = snapshot.listeners.get('virtualOutbound');
  const hcm =
    (exact && httpChain(exact, port)) ??
    (wildcard && httpChain(wildcard, port)) ??
    (exact === undefined && wildcard === undefined && passthrough ? httpChain(passthrough) : undefined);
  if (!hcm) return { kind: 'reply', reason: { kind: 'no-route', authority: ds.authority, path: ds.path } };
  return routesTarget(snapshot, hcm);
}

// Listeners by port, built once per snapshot (snapshots are immutable): a request looks at the
// listeners on its port only, not at every listener of the mesh.
const byPortCache = new WeakMap<ProxyConfigSnapshot['listeners'], Map<number, ListenerConfig[]>>();
const NONE: readonly ListenerConfig[] = [];

function listenersOnPort(snapshot: ProxyConfigSnapshot, port: number): readonly ListenerConfig[] {
  let byPort = byPortCache.get(snapshot.listeners);
  if (!byPort) {
    byPort = new Map();
    for (const l of snapshot.listeners.values()) {
      const list = byPort.get(l.port);
      if (list) list.push(l);
      else byPort.set(l.port, [l]);
    }
    byPortCache.set(snapshot.listeners, byPort);
  }
  return byPort.get(port) ?? NONE;
}

export function inboundTarget(
  snapshot: ProxyConfigSnapshot,
  ds: Downstream,
  inboundPort: number,
): RequestTarget {
  const port = portOf(ds.authority, 80);
  for (const l of snapshot.listeners.values()) {
    if (l.port !== inboundPort && l.name !== 'virtualInbound') continue;
    // An outbound listener that happens to share the capture port's number (a service port
    // equal to it) serves callers, never what arrives for the workload: taking its routes would
    // send the request back out, to this very port, for ever.
    if (l.direction === 'OUTBOUND') continue;
    const hcm = httpChain(l, port);
    if (hcm) return routesTarget(snapshot, hcm);
  }
  const cluster = `inbound|${port}||`;
  // A port the control plane gave its own inbound listener (named like its cluster) is served
  // only as that listener serves plaintext: through its plaintext HTTP chain, so its filters
  // (RBAC, jwt_authn) run. With no such chain (STRICT mTLS, a TCP port) the capture port must
  // not become a way around the listener's TLS and policies: no route.
  const own = snapshot.listeners.get(cluster);
  if (own !== undefined && own.direction === 'INBOUND') {
    const chain = plaintextHttpChain(own);
    return chain !== undefined
      ? routesTarget(snapshot, chain)
      : { kind: 'reply', reason: { kind: 'no-route', authority: ds.authority, path: ds.path } };
  }
  const config = snapshot.clusters.get(cluster);
  if (!config) return { kind: 'reply', reason: { kind: 'no-route', authority: ds.authority, path: ds.path } };
  if (config.type !== 'ORIGINAL_DST') return { kind: 'cluster', cluster };
  // Without iptables the original destination is the workload's own port on loopback.
  const originalDestination: Endpoint = {
    key: `127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    healthy: true,
    healthStatus: 'HEALTHY',
    weight: 1,
    identity: {},
  };
  return { kind: 'cluster', cluster, originalDestination };
}

export function boundTarget(
  snapshot: ProxyConfigSnapshot,
  listener: ListenerConfig,
  ds: Downstream,
): RequestTarget {
  const hcm = httpChain(listener, listener.port);
  if (!hcm) return { kind: 'reply', reason: { kind: 'no-route', authority: ds.authority, path: ds.path } };
  return routesTarget(snapshot, hcm);
}
