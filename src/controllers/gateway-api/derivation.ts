/**
 * The `gateway-api` derivation: Gateway API resources as the Istio Gateways and VirtualServices
 * the push context already translates (Istio's own approach, pilot/pkg/config/kube/gateway):
 *
 * - each Trellis Gateway -> one Istio Gateway per listener (gateways.ts);
 * - HTTPRoutes and GRPCRoutes -> one VirtualService per (listener, hostname), every attached
 *   route's matches in the API's precedence order (ordering.ts); a parentRef to a Service -> a
 *   mesh VirtualService for that service's host (GAMMA);
 * - TCPRoutes and TLSRoutes -> `tcp:` and `tls:` VirtualService routes;
 * - status: every Gateway API resource is served with the conditions the API defines (route
 *   Accepted/ResolvedRefs per parent, Gateway Accepted/Programmed, listeners' attachedRoutes),
 *   and the refusals are reported as derivation problems (`trellis check`).
 */
import type { Problem } from '../../core/errors.js';
import {
  GATEWAY_API_KIND,
  type BackendRef,
  type Condition,
  type GatewayClass,
  type GRPCRouteSpec,
  type HTTPRouteSpec,
  type KubernetesGateway,
  type ParentReference,
  type RouteParentStatus,
  type TCPRouteSpec,
  type TLSRouteSpec,
} from '../../api/gateway/types.js';
import type {
  HTTPRoute as IstioHTTPRoute,
  RouteDestination,
  TCPRoute as IstioTCPRoute,
  TLSRoute as IstioTLSRoute,
  VirtualService,
} from '../../api/networking/types.js';
import type { Resource } from '../../api/resource.js';
import type { ConfigSnapshot } from '../../config/types.js';
import type { ConfigDerivation, DerivationProblem, DerivationResult } from '../derivation.js';
import { bindParent, type Binding } from './binding.js';
import {
  CONTROLLER_NAME,
  CONTROLLER_NAMES,
  convertGateway,
  gatewayClasses,
  gatewayStatus,
  isOurs,
  type ConvertedGateway,
} from './gateways.js';
import { convertRules, type RankedRoute, type RuleProblems } from './http-rules.js';
import { compareMatches } from './ordering.js';
import { ReferenceGrants, resolveBackend } from './references.js';
import { condition } from './status.js';

export interface GatewayApiOptions {
  /** Service hosts are `<name>.<namespace>.svc.<domainSuffix>`; default cluster.local. */
  domainSuffix?: string;
}

const GW_GROUP = 'gateway.networking.k8s.io';
const ROUTE_KINDS = [
  GATEWAY_API_KIND.HTTPRoute,
  GATEWAY_API_KIND.GRPCRoute,
  GATEWAY_API_KIND.TCPRoute,
  GATEWAY_API_KIND.TLSRoute,
] as const;
type RouteKind = (typeof ROUTE_KINDS)[number];
type AnyRouteSpec = HTTPRouteSpec & GRPCRouteSpec & TCPRouteSpec & TLSRouteSpec;

interface HttpGroup {
  name: string;
  namespace: string;
  hosts: string[];
  gateways: string[];
  port?: number;
  routes: RankedRoute[];
  from: Set<string>;
}

interface L4Group {
  name: string;
  namespace: string;
  hosts: string[];
  gateways: string[];
  tcp: IstioTCPRoute[];
  tls: IstioTLSRoute[];
  from: Set<string>;
}

export function gatewayApiDerivation(options: GatewayApiOptions = {}): ConfigDerivation {
  const domainSuffix = options.domainSuffix ?? 'cluster.local';
  return { name: 'gateway-api', derive: (snapshot) => deriveGatewayApi(snapshot, domainSuffix) };
}

const dnsSafe = (s: string) =>
  s
    .replace(/\*/g, 'wildcard')
    .replace(/[^a-z0-9.-]/gi, '-')
    .toLowerCase();

export function deriveGatewayApi(snapshot: ConfigSnapshot, domainSuffix = 'cluster.local'): DerivationResult {
  const gateways = snapshot.list(GATEWAY_API_KIND.Gateway) as KubernetesGateway[];
  const routesByKind = ROUTE_KINDS.map((k) => [k, snapshot.list(k) as Resource<AnyRouteSpec>[]] as const);
  const classes = gatewayClasses(snapshot);
  if (gateways.length === 0 && routesByKind.every(([, l]) => l.length === 0) && classes.length === 0)
    return {};

  const grants = ReferenceGrants.of(snapshot);
  const put: Resource[] = [];
  const problems: DerivationProblem[] = [];
  const converted = new Map<string, ConvertedGateway>();
  const foreign = new Set<string>();

  for (const cls of classes) {
    if (!CONTROLLER_NAMES.has(cls.spec.controllerName)) continue;
    put.push(
      withStatus(cls, { conditions: [condition('Accepted', true, 'Accepted', 'handled by Trellis')] }),
    );
  }
  for (const gw of gateways) {
    const key = `${gw.metadata.namespace}/${gw.metadata.name}`;
    if (!isOurs(gw, classes)) {
      foreign.add(key);
      continue;
    }
    const c = convertGateway(gw, snapshot, grants);
    converted.set(key, c.converted);
    put.push(...c.istio, ...c.secrets);
    for (const [listener, conds] of c.converted.listenerConditions) {
      const bad = conds.filter((x) => x.status === 'False');
      if (bad.length > 0)
        problems.push(
          problem(
            gw,
            bad.map((b) => ({ path: `spec.listeners[${listener}]`, message: `${b.reason}: ${b.message}` })),
          ),
        );
    }
  }

  const httpGroups = new Map<string, HttpGroup>();
  const l4Groups = new Map<string, L4Group>();
  for (const [kind, routes] of routesByKind) {
    for (const route of routes) {
      const result = convertRoute(
        kind,
        route,
        converted,
        foreign,
        grants,
        domainSuffix,
        httpGroups,
        l4Groups,
      );
      put.push(withStatus(route, { parents: result.parents }));
      if (result.problems.length > 0) problems.push(problem(route, result.problems));
    }
  }
  for (const c of converted.values()) put.push(withStatus(c.gateway, gatewayStatus(c)));
  for (const g of httpGroups.values()) put.push(httpVirtualService(g));
  for (const g of l4Groups.values()) put.push(l4VirtualService(g));
  return { put, problems };
}

function withStatus<T>(r: Resource<T>, status: unknown): Resource<T> {
  return { ...r, status };
}

function problem(r: Resource, items: { path: string; message: string }[]): DerivationProblem {
  const kind = r.kind === GATEWAY_API_KIND.Gateway ? 'Gateway' : r.kind;
  return {
    source: { kind, namespace: r.metadata.namespace, name: r.metadata.name },
    problems: items.map((i): Problem => ({ severity: 'error', path: i.path, message: i.message })),
  };
}

interface RouteResult {
  parents: RouteParentStatus[];
  problems: { path: string; message: string }[];
}

function convertRoute(
  kind: RouteKind,
  route: Resource<AnyRouteSpec>,
  gateways: ReadonlyMap<string, ConvertedGateway>,
  foreign: ReadonlySet<string>,
  grants: ReferenceGrants,
  domainSuffix: string,
  httpGroups: Map<string, HttpGroup>,
  l4Groups: Map<string, L4Group>,
): RouteResult {
  const ns = route.metadata.namespace;
  const id = `${ns}/${route.metadata.name}`;
  const from = { group: GW_GROUP, kind, namespace: ns };
  const resolve = (ref: BackendRef) => resolveBackend(ref, from, grants, domainSuffix);
  const ruleProblems: RuleProblems = { refs: [], unsupported: [] };
  const isHttp = kind === GATEWAY_API_KIND.HTTPRoute || kind === GATEWAY_API_KIND.GRPCRoute;
  const ranked = isHttp
    ? convertRules(
        {
          flavor: kind === GATEWAY_API_KIND.GRPCRoute ? 'grpc' : 'http',
          id,
          rules: route.spec.rules ?? [{}],
          resolve,
          ...(route.metadata.creationTimestamp !== undefined
            ? { created: route.metadata.creationTimestamp }
            : {}),
        },
        ruleProblems,
      )
    : [];
  const l4 = isHttp ? [] : l4Destinations(route.spec, resolve, ruleProblems);
  const resolvedRefs: Condition =
    ruleProblems.refs.length === 0
      ? condition('ResolvedRefs', true, 'ResolvedRefs', 'every reference resolved')
      : condition(
          'ResolvedRefs',
          false,
          ruleProblems.refs[0]!.reason,
          ruleProblems.refs.map((r) => r.message).join('; '),
        );
  const parents: RouteParentStatus[] = [];
  const problems: RouteResult['problems'] = [];
  for (const r of ruleProblems.refs)
    problems.push({ path: 'spec.rules', message: `${r.reason}: ${r.message}` });
  (route.spec.parentRefs ?? []).forEach((ref, i) => {
    const bound = bindParent(
      ref,
      { kind, namespace: ns, ...(route.spec.hostnames ? { hostnames: route.spec.hostnames } : {}) },
      gateways,
      foreign,
      domainSuffix,
    );
    if (bound.accepted === undefined) return;
    let accepted = bound.accepted;
    if (accepted.status === 'True' && ruleProblems.unsupported.length > 0) {
      accepted = condition('Accepted', false, 'UnsupportedValue', ruleProblems.unsupported.join('; '));
    }
    parents.push({
      parentRef: parentRefOf(ref, ns),
      controllerName: CONTROLLER_NAME,
      conditions: [accepted, resolvedRefs],
    });
    if (accepted.status === 'False') {
      problems.push({ path: `spec.parentRefs[${i}]`, message: `${accepted.reason}: ${accepted.message}` });
      return;
    }
    for (const b of bound.bindings) {
      if (b.kind === 'gateway') b.listener.attachedRoutes++;
      if (isHttp) addHttp(b, ranked, id, httpGroups);
      else addL4(kind, b, route.spec, l4, id, l4Groups);
    }
  });
  return { parents, problems };
}

function parentRefOf(ref: ParentReference, ns: string): ParentReference {
  return {
    group: ref.group ?? GW_GROUP,
    kind: ref.kind ?? 'Gateway',
    namespace: ref.namespace ?? ns,
    name: ref.name,
    ...(ref.sectionName !== undefined ? { sectionName: ref.sectionName } : {}),
    ...(ref.port !== undefined ? { port: ref.port } : {}),
  };
}

function addHttp(
  b: Binding,
  ranked: readonly RankedRoute[],
  id: string,
  groups: Map<string, HttpGroup>,
): void {
  if (b.kind === 'mesh') {
    const key = `mesh|${b.host}|${b.port ?? ''}`;
    const g = groups.get(key) ?? {
      name: `${b.name}-gamma${b.port !== undefined ? `-${b.port}` : ''}`,
      namespace: b.namespace,
      hosts: [b.host],
      gateways: ['mesh'],
      routes: [],
      from: new Set<string>(),
      ...(b.port !== undefined ? { port: b.port } : {}),
    };
    g.routes.push(...ranked);
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
    g.routes.push(...ranked);
    g.from.add(id);
    groups.set(key, g);
  }
}

function l4Destinations(
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

function addL4(
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
  const key = `${gateways[0]}|${tls ? 'tls' : 'tcp'}|${hosts.join(',')}`;
  const [ns, gwName] =
    b.kind === 'mesh'
      ? [b.namespace, `${b.name}-gamma`]
      : (b.listener.istioRef.split('/') as [string, string]);
  const g = groups.get(key) ?? {
    name: `${gwName}-${tls ? 'tls' : 'tcp'}-${dnsSafe(hosts[0]!)}`,
    namespace: ns,
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

function derivedMeta(name: string, namespace: string, from: Set<string>) {
  return { name, namespace, annotations: { 'trellis.io/derived-from': [...from].sort().join(',') } };
}

function httpVirtualService(g: HttpGroup): VirtualService {
  const http: IstioHTTPRoute[] = [...g.routes]
    .sort((a, b) => compareMatches(a.rank, b.rank))
    .map((r) =>
      g.port === undefined
        ? r.route
        : { ...r.route, match: (r.route.match ?? [{}]).map((m) => ({ ...m, port: g.port })) },
    );
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: derivedMeta(g.name, g.namespace, g.from),
    spec: { hosts: g.hosts, gateways: g.gateways, http },
  };
}

function l4VirtualService(g: L4Group): VirtualService {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: derivedMeta(g.name, g.namespace, g.from),
    spec: {
      hosts: g.hosts,
      gateways: g.gateways,
      ...(g.tcp.length ? { tcp: g.tcp } : {}),
      ...(g.tls.length ? { tls: g.tls } : {}),
    },
  };
}

export type { GatewayClass };
