/**
 * The VirtualServices of attached routes: HTTP and gRPC rules grouped per (listener, hostname)
 * or per (mesh service host, route namespace) (GAMMA) and ordered by the API's precedence; TCP
 * and TLS routes as `tcp:` and `tls:` routes.
 *
 * GAMMA scoping (the Gateway API's producer and consumer routes, as Istio derives them): a route
 * in the Service's namespace gets its VirtualService there, exported to all; a route in any other
 * namespace gets its VirtualService in its own namespace with `exportTo: ["."]`, so it routes only
 * the callers of that namespace and never another namespace's traffic.
 */
import type {
  HTTPRoute as IstioHTTPRoute,
  RouteDestination,
  TCPRoute as IstioTCPRoute,
  TLSRoute as IstioTLSRoute,
  VirtualService,
} from '../../api/networking/types.js';
import { GATEWAY_API_KIND, type BackendRef } from '../../api/gateway/types.js';
import type { Binding } from './binding.js';
import type { RankedRoute, RuleProblems } from './http-rules.js';
import { compareMatches } from './ordering.js';
import { wildcardMatches } from './hostnames.js';
import type { resolveBackend } from './references.js';
import type { AnyRouteSpec, RouteKind } from './derivation.js';

export interface HttpGroup {
  name: string;
  namespace: string;
  hosts: string[];
  gateways: string[];
  port?: number;
  /** `["."]` for a consumer route's VirtualService. */
  exportTo?: string[];
  routes: RankedRoute[];
  from: Set<string>;
}

export interface L4Group {
  name: string;
  namespace: string;
  hosts: string[];
  gateways: string[];
  tcp: IstioTCPRoute[];
  tls: IstioTLSRoute[];
  exportTo?: string[];
  from: Set<string>;
}

type MeshBinding = Extract<Binding, { kind: 'mesh' }>;

/**
 * Where a mesh binding's VirtualService goes: the Service's namespace for a producer route; the
 * route's for a consumer route, named `<service>.<its namespace>-gamma` (a dot no Service name
 * has, so never a producer route's `<service>-gamma`).
 */
function meshPlacement(b: MeshBinding): { namespace: string; name: string; exportTo?: string[] } {
  if (b.routeNamespace === b.namespace) return { namespace: b.namespace, name: `${b.name}-gamma` };
  return { namespace: b.routeNamespace, name: `${b.name}.${b.namespace}-gamma`, exportTo: ['.'] };
}

const dnsSafe = (s: string) =>
  s
    .replace(/\*/g, 'wildcard')
    .replace(/[^a-z0-9.-]/gi, '-')
    .toLowerCase();

export function addHttp(
  b: Binding,
  ranked: readonly RankedRoute[],
  id: string,
  groups: Map<string, HttpGroup>,
): void {
  if (b.kind === 'mesh') {
    const at = meshPlacement(b);
    const key = `mesh|${b.routeNamespace}|${b.host}|${b.port ?? ''}`;
    const g = groups.get(key) ?? {
      name: `${at.name}${b.port !== undefined ? `-${b.port}` : ''}`,
      namespace: at.namespace,
      ...(at.exportTo ? { exportTo: at.exportTo } : {}),
      hosts: [b.host],
      gateways: ['mesh'],
      routes: [],
      from: new Set<string>(),
      ...(b.port !== undefined ? { port: b.port } : {}),
    };
    g.routes.push(...atPort(ranked, b.port));
    g.from.add(id);
    groups.set(key, g);
    return;
  }
  const [gwNs, gwName] = b.listener.istioRef.split('/') as [string, string];
  for (const host of b.hostnames) {
    const key = `${b.listener.istioRef}|${host}`;
    const g = groups.get(key) ?? {
      name: `${gwName}-${dnsSafe(host)}`,
      namespace: gwNs,
      hosts: [host],
      gateways: [b.listener.istioRef],
      routes: [],
      from: new Set<string>(),
    };
    g.routes.push(...atPort(ranked, b.listener.listener.port));
    g.from.add(id);
    groups.set(key, g);
  }
}

/**
 * A redirect that names neither scheme nor port goes to the port the request came in on (the
 * API): the listener's, or a mesh route's parentRef port. Istio's `derivePort: FROM_REQUEST_PORT`
 * becomes that number here, where the port is known.
 */
function atPort(ranked: readonly RankedRoute[], port: number | undefined): RankedRoute[] {
  return ranked.map((r) => {
    if (r.route.redirect?.derivePort !== 'FROM_REQUEST_PORT') return r;
    const { derivePort: _derived, ...redirect } = r.route.redirect;
    return { ...r, route: { ...r.route, redirect: port !== undefined ? { ...redirect, port } : redirect } };
  });
}

export function l4Destinations(
  spec: AnyRouteSpec,
  resolve: (r: BackendRef) => ReturnType<typeof resolveBackend>,
  problems: RuleProblems,
): RouteDestination[] {
  const out: RouteDestination[] = [];
  for (const rule of spec.rules ?? []) {
    for (const ref of rule.backendRefs ?? []) {
      const r = resolve(ref);
      if (!r.ok) {
        problems.refs.push({ reason: r.reason, message: r.message });
        continue;
      }
      const weight = ref.weight ?? 1;
      if (weight === 0) continue;
      out.push({
        destination: { host: r.host, ...(r.port !== undefined ? { port: { number: r.port } } : {}) },
        weight,
      });
    }
  }
  if (out.length === 1) delete out[0]!.weight;
  return out;
}

export function addL4(
  kind: RouteKind,
  b: Binding,
  spec: AnyRouteSpec,
  dests: RouteDestination[],
  id: string,
  groups: Map<string, L4Group>,
): void {
  if (dests.length === 0) return;
  const tls = kind === GATEWAY_API_KIND.TLSRoute;
  const hosts = b.kind === 'mesh' ? [b.host] : tls ? b.hostnames : ['*'];
  const gateways = b.kind === 'mesh' ? ['mesh'] : [b.listener.istioRef];
  const port = b.kind === 'mesh' ? b.port : undefined;
  const at = b.kind === 'mesh' ? meshPlacement(b) : undefined;
  const key = `${gateways[0]}|${b.kind === 'mesh' ? `${b.routeNamespace}|` : ''}${tls ? 'tls' : 'tcp'}|${hosts.join(',')}`;
  const [ns, gwName] =
    b.kind === 'mesh'
      ? [meshPlacement(b).namespace, meshPlacement(b).name]
      : (b.listener.istioRef.split('/') as [string, string]);
  const g = groups.get(key) ?? {
    name: `${gwName}-${tls ? 'tls' : 'tcp'}-${dnsSafe(hosts[0]!)}`,
    namespace: ns,
    ...(at?.exportTo ? { exportTo: at.exportTo } : {}),
    hosts,
    gateways,
    tcp: [],
    tls: [],
    from: new Set<string>(),
  };
  if (tls) {
    g.tls.push({ match: [{ sniHosts: hosts, ...(port !== undefined ? { port } : {}) }], route: dests });
  } else {
    g.tcp.push({ ...(port !== undefined ? { match: [{ port }] } : {}), route: dests });
  }
  g.from.add(id);
  groups.set(key, g);
  void spec;
}

/**
 * Istio's mark on the VirtualServices it derives from Gateway API routes: the translation answers
 * a destination without a cluster (an invalid backend's share) 500, not 503.
 */
export const ROUTE_SEMANTICS_ANNOTATION = 'internal.istio.io/route-semantics';

function derivedMeta(name: string, namespace: string, from: Set<string>) {
  return {
    name,
    namespace,
    annotations: {
      'trellis.io/derived-from': [...from].sort().join(','),
      [ROUTE_SEMANTICS_ANNOTATION]: 'gateway',
    },
  };
}

/**
 * One VirtualService per group. A request for `a.example.com` is decided by that host's virtual
 * host alone, so the rules of routes for wider hostnames on the same listener (`*.example.com`,
 * or every host) follow its own, the most specific hostname first (the API: precedence to the
 * route with the longest matching hostname, then the rules' own order).
 */
export function httpVirtualServices(groups: Iterable<HttpGroup>): VirtualService[] {
  const all = [...groups];
  return all.map((g) => {
    const wider = all
      .filter(
        (w) =>
          w !== g &&
          w.gateways[0] === g.gateways[0] &&
          w.gateways[0] !== 'mesh' &&
          widens(w.hosts[0]!, g.hosts[0]!),
      )
      .sort((a, b) => b.hosts[0]!.length - a.hosts[0]!.length);
    return httpVirtualService(g, wider);
  });
}

function widens(wider: string, host: string): boolean {
  return wider === '*' ? host !== '*' : wider !== host && wildcardMatches(wider, host);
}

function ordered(g: HttpGroup): IstioHTTPRoute[] {
  return [...g.routes]
    .sort((a, b) => compareMatches(a.rank, b.rank))
    .map((r) =>
      g.port === undefined
        ? r.route
        : { ...r.route, match: (r.route.match ?? [{}]).map((m) => ({ ...m, port: g.port })) },
    );
}

function httpVirtualService(g: HttpGroup, wider: readonly HttpGroup[]): VirtualService {
  const http = [...ordered(g), ...wider.flatMap(ordered)];
  const from = new Set([...g.from, ...wider.flatMap((w) => [...w.from])]);
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: derivedMeta(g.name, g.namespace, from),
    spec: {
      hosts: g.hosts,
      gateways: g.gateways,
      ...(g.exportTo ? { exportTo: g.exportTo } : {}),
      http,
    },
  };
}

export function l4VirtualService(g: L4Group): VirtualService {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: derivedMeta(g.name, g.namespace, g.from),
    spec: {
      hosts: g.hosts,
      gateways: g.gateways,
      ...(g.exportTo ? { exportTo: g.exportTo } : {}),
      ...(g.tcp.length ? { tcp: g.tcp } : {}),
      ...(g.tls.length ? { tls: g.tls } : {}),
    },
  };
}
