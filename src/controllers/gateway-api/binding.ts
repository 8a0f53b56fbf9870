/**
 * Which listeners a route's parentRef attaches it to, and on which hostnames (the Gateway API's
 * attachment rules): the parent Gateway exists and is Trellis's; `sectionName` and `port`
 * narrow the listeners; a listener takes the route's kind and the route's namespace
 * (allowedRoutes: Same by default, All, or Selector over the namespace's labels: namespaces.ts);
 * the hostnames intersect.
 * A parentRef to a Service (the GAMMA pattern) binds the route to that service's mesh traffic:
 * all callers' when the route is in the Service's namespace (a producer route), only callers in
 * the route's own namespace otherwise (a consumer route).
 */
import { fqdn } from '../../api/hosts.js';
import type { Condition, ParentReference } from '../../api/gateway/types.js';
import type { ConvertedGateway, ConvertedListener } from './gateways.js';
import { effectiveHostnames } from './hostnames.js';
import { CORE_GROUP_NAMES } from './references.js';
import { selectorMatches } from './namespaces.js';
import { condition } from './status.js';

const GW_GROUP = 'gateway.networking.k8s.io';

export type Binding =
  | { kind: 'gateway'; listener: ConvertedListener; hostnames: string[] }
  | {
      kind: 'mesh';
      host: string;
      /** The Service's namespace. */
      namespace: string;
      name: string;
      /** The route's namespace: a producer route when it is the Service's, a consumer route otherwise. */
      routeNamespace: string;
      port?: number;
    };

export interface ParentResult {
  /** Undefined: the parent is not Trellis's (another implementation's Gateway); no status. */
  accepted?: Condition;
  bindings: Binding[];
}

export interface RouteRef {
  kind: string;
  namespace: string;
  hostnames?: readonly string[];
  /** The labels of the route's namespace (allowedRoutes Selector). */
  namespaceLabels?: Readonly<Record<string, string>>;
}

export function bindParent(
  ref: ParentReference,
  route: RouteRef,
  gateways: ReadonlyMap<string, ConvertedGateway>,
  foreignGateways: ReadonlySet<string>,
  domainSuffix: string,
): ParentResult {
  const group = ref.group ?? GW_GROUP;
  const kind = ref.kind ?? 'Gateway';
  const namespace = ref.namespace ?? route.namespace;
  if (CORE_GROUP_NAMES.has(group) && kind === 'Service') {
    const host = fqdn(ref.name, namespace, domainSuffix);
    return {
      accepted: condition(
        'Accepted',
        true,
        'Accepted',
        namespace === route.namespace
          ? `routes mesh traffic to ${host}`
          : `routes mesh traffic to ${host} from callers in namespace ${route.namespace} only (a consumer route; a route in ${namespace} routes every caller)`,
      ),
      bindings: [
        {
          kind: 'mesh',
          host,
          namespace,
          name: ref.name,
          routeNamespace: route.namespace,
          ...(ref.port !== undefined ? { port: ref.port } : {}),
        },
      ],
    };
  }
  if (group !== GW_GROUP || kind !== 'Gateway') {
    return {
      accepted: condition(
        'Accepted',
        false,
        'NoMatchingParent',
        `parentRef ${kind}${group ? `.${group}` : ''} ${ref.name}: a route attaches to a Gateway or (for mesh traffic) a Service`,
      ),
      bindings: [],
    };
  }
  const key = `${namespace}/${ref.name}`;
  if (foreignGateways.has(key)) return { bindings: [] };
  const gw = gateways.get(key);
  if (gw === undefined) {
    return {
      accepted: condition(
        'Accepted',
        false,
        'NoMatchingParent',
        `Gateway ${key} not found (trellis get gateways.gateway.networking.k8s.io -A lists them)`,
      ),
      bindings: [],
    };
  }
  let candidates = gw.listeners;
  if (ref.sectionName !== undefined)
    candidates = candidates.filter((l) => l.listener.name === ref.sectionName);
  if (ref.port !== undefined) candidates = candidates.filter((l) => l.listener.port === ref.port);
  if (candidates.length === 0) {
    return {
      accepted: condition(
        'Accepted',
        false,
        'NoMatchingParent',
        `Gateway ${key} has no listener${ref.sectionName !== undefined ? ` named ${ref.sectionName}` : ''}${ref.port !== undefined ? ` on port ${ref.port}` : ''}`,
      ),
      bindings: [],
    };
  }
  const allowed = candidates.filter((l) => l.kinds.includes(route.kind) && namespaceAllowed(l, route));
  if (allowed.length === 0) {
    const selector = candidates.some((l) => l.listener.allowedRoutes?.namespaces?.from === 'Selector');
    return {
      accepted: condition(
        'Accepted',
        false,
        'NotAllowedByListeners',
        selector
          ? `no listener of Gateway ${key} admits a ${route.kind} from namespace ${route.namespace}: its labels ${JSON.stringify(route.namespaceLabels ?? {})} do not match the listener's namespace selector (label the namespace with a Namespace document in the config)`
          : `no listener of Gateway ${key} admits a ${route.kind} from namespace ${route.namespace} (allowedRoutes: kinds ${[...new Set(candidates.flatMap((l) => l.kinds))].join(', ') || 'none'}, namespaces ${candidates.map((l) => l.listener.allowedRoutes?.namespaces?.from ?? 'Same').join('/')})`,
      ),
      bindings: [],
    };
  }
  const served = allowed.filter((l) => l.programmed);
  if (served.length === 0) {
    return {
      accepted: condition(
        'Accepted',
        false,
        'NoMatchingParent',
        `listener ${allowed.map((l) => l.listener.name).join(', ')} of Gateway ${key} is not programmed; see the Gateway's listener conditions (trellis get gateways.gateway.networking.k8s.io ${ref.name} -n ${namespace} -o yaml)`,
      ),
      bindings: [],
    };
  }
  const bindings: Binding[] = [];
  for (const l of served) {
    const hostnames = effectiveHostnames(route.hostnames, l.listener.hostname);
    if (hostnames.length > 0) bindings.push({ kind: 'gateway', listener: l, hostnames });
  }
  if (bindings.length === 0) {
    return {
      accepted: condition(
        'Accepted',
        false,
        'NoMatchingListenerHostname',
        `no listener hostname of Gateway ${key} intersects the route's hostnames ${JSON.stringify(route.hostnames ?? [])}`,
      ),
      bindings: [],
    };
  }
  return { accepted: condition('Accepted', true, 'Accepted', `attached to Gateway ${key}`), bindings };
}

function namespaceAllowed(l: ConvertedListener, route: RouteRef): boolean {
  const ns = l.listener.allowedRoutes?.namespaces;
  const from = ns?.from ?? 'Same';
  if (from === 'All') return true;
  if (from === 'Same') return route.namespace === l.gateway.metadata.namespace;
  if (from === 'Selector' && ns?.selector !== undefined)
    return selectorMatches(ns.selector, route.namespaceLabels ?? {});
  return false;
}
