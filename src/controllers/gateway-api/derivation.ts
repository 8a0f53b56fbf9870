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
import type { Resource } from '../../api/resource.js';
import type { ConfigSnapshot } from '../../config/types.js';
import type {
  ConfigDerivation,
  DerivationContext,
  DerivationProblem,
  DerivationResult,
} from '../derivation.js';
import { bindParent } from './binding.js';
import {
  CONTROLLER_NAME,
  CONTROLLER_NAMES,
  convertGateway,
  gatewayClasses,
  gatewayStatus,
  isOurs,
  type ConvertedGateway,
} from './gateways.js';
import { convertRules, type RuleProblems } from './http-rules.js';
import {
  addHttp,
  addL4,
  httpVirtualServices,
  l4Destinations,
  l4VirtualService,
  type HttpGroup,
  type L4Group,
} from './virtual-services.js';
import { ReferenceGrants, resolveBackend } from './references.js';
import { namespaceLabels, type NamespaceLabels } from './namespaces.js';
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
export type RouteKind = (typeof ROUTE_KINDS)[number];
export type AnyRouteSpec = HTTPRouteSpec & GRPCRouteSpec & TCPRouteSpec & TLSRouteSpec;

export function gatewayApiDerivation(options: GatewayApiOptions = {}): ConfigDerivation {
  const domainSuffix = options.domainSuffix ?? 'cluster.local';
  return {
    name: 'gateway-api',
    derive: (snapshot, context) => deriveGatewayApi(snapshot, domainSuffix, context),
  };
}

export function deriveGatewayApi(
  snapshot: ConfigSnapshot,
  domainSuffix = 'cluster.local',
  context: DerivationContext = {},
): DerivationResult {
  const hasService = context.hasService ?? (() => true);
  const gateways = snapshot.list(GATEWAY_API_KIND.Gateway) as KubernetesGateway[];
  const routesByKind = ROUTE_KINDS.map((k) => [k, snapshot.list(k) as Resource<AnyRouteSpec>[]] as const);
  const classes = gatewayClasses(snapshot);
  if (gateways.length === 0 && routesByKind.every(([, l]) => l.length === 0) && classes.length === 0)
    return {};

  const grants = ReferenceGrants.of(snapshot);
  const labelsOf = namespaceLabels(snapshot);
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
    if (c.converted.addressProblem !== undefined) {
      problems.push(
        problem(gw, [
          { path: 'spec.addresses', message: `UnsupportedAddress: ${c.converted.addressProblem}` },
        ]),
      );
      continue;
    }
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
        hasService,
        labelsOf,
        httpGroups,
        l4Groups,
      );
      put.push(withStatus(route, { parents: result.parents }));
      if (result.problems.length > 0) problems.push(problem(route, result.problems));
    }
  }
  for (const c of converted.values()) put.push(withStatus(c.gateway, gatewayStatus(c)));
  put.push(...httpVirtualServices(httpGroups.values()));
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
  hasService: (host: string) => boolean,
  labelsOf: NamespaceLabels,
  httpGroups: Map<string, HttpGroup>,
  l4Groups: Map<string, L4Group>,
): RouteResult {
  const ns = route.metadata.namespace;
  const id = `${ns}/${route.metadata.name}`;
  const from = { group: GW_GROUP, kind, namespace: ns };
  const resolve = (ref: BackendRef) => resolveBackend(ref, from, grants, domainSuffix, hasService);
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
      {
        kind,
        namespace: ns,
        namespaceLabels: labelsOf(ns),
        ...(route.spec.hostnames ? { hostnames: route.spec.hostnames } : {}),
      },
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

export type { GatewayClass };
