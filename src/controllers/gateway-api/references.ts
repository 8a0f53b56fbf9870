/**
 * Cross-namespace references (a route's backend, a Gateway's certificate) and ReferenceGrant:
 * a reference into another namespace holds only when a ReferenceGrant in that namespace lets
 * the referring kind and namespace reach the target kind (and name, when the grant names one).
 * Backend references resolve to the host a VirtualService routes to, as Istio resolves them.
 */
import { fqdn } from '../../api/hosts.js';
import { GATEWAY_API_KIND, type BackendRef, type ReferenceGrant } from '../../api/gateway/types.js';
import type { ConfigSnapshot } from '../../config/types.js';

export const CORE_GROUP_NAMES: ReadonlySet<string> = new Set(['', 'core']);
const ISTIO_NETWORKING = 'networking.istio.io';

export interface RefFrom {
  group: string;
  kind: string;
  namespace: string;
}

export interface RefTo {
  group: string;
  kind: string;
  namespace: string;
  name: string;
}

const normGroup = (g: string) => (CORE_GROUP_NAMES.has(g) ? '' : g);

export class ReferenceGrants {
  constructor(private readonly grants: readonly ReferenceGrant[]) {}

  static of(snapshot: ConfigSnapshot): ReferenceGrants {
    return new ReferenceGrants(snapshot.list(GATEWAY_API_KIND.ReferenceGrant) as ReferenceGrant[]);
  }

  /** Same-namespace references always hold; others need a grant in the target's namespace. */
  allows(from: RefFrom, to: RefTo): boolean {
    if (from.namespace === to.namespace) return true;
    return this.grants.some(
      (g) =>
        g.metadata.namespace === to.namespace &&
        (g.spec.from ?? []).some(
          (f) =>
            normGroup(f.group) === normGroup(from.group) &&
            f.kind === from.kind &&
            f.namespace === from.namespace,
        ) &&
        (g.spec.to ?? []).some(
          (t) =>
            normGroup(t.group) === normGroup(to.group) &&
            t.kind === to.kind &&
            (t.name === undefined || t.name === to.name),
        ),
    );
  }
}

export type BackendResolution =
  | { ok: true; host: string; port?: number; namespace: string }
  | {
      ok: false;
      reason: 'RefNotPermitted' | 'InvalidKind' | 'BackendNotFound';
      message: string;
      port?: number;
    };

/**
 * The host an invalid backend's share of the traffic is sent to: no service has it (`.invalid`
 * is reserved, RFC 2606), so its cluster never exists and the route answers 500 (the derived
 * VirtualServices carry Istio's gateway route semantics).
 */
export const INVALID_BACKEND_HOST = 'invalid-backend.gateway-api.trellis.invalid';

/**
 * Where a backendRef sends traffic: a Service becomes `<name>.<namespace>.svc.<suffix>`, an
 * Istio `Hostname` (group networking.istio.io) is the host itself (a ServiceEntry's), and
 * anything else is an InvalidKind. A reference into another namespace without a grant is
 * RefNotPermitted.
 */
export function resolveBackend(
  ref: BackendRef,
  from: RefFrom,
  grants: ReferenceGrants,
  domainSuffix: string,
  hasService: (host: string) => boolean = () => true,
): BackendResolution {
  const port = ref.port !== undefined ? { port: ref.port } : {};
  const group = normGroup(ref.group ?? '');
  const kind = ref.kind ?? 'Service';
  const namespace = ref.namespace ?? from.namespace;
  const isService = group === '' && kind === 'Service';
  const isHostname = group === ISTIO_NETWORKING && kind === 'Hostname';
  if (!isService && !isHostname) {
    return {
      ok: false,
      reason: 'InvalidKind',
      message: `backendRef ${kind}${group ? `.${group}` : ''} ${ref.name}: Trellis routes to Services and to Istio Hostnames (kind: Hostname, group: networking.istio.io)`,
      ...port,
    };
  }
  if (!grants.allows(from, { group, kind, namespace, name: ref.name })) {
    return {
      ok: false,
      reason: 'RefNotPermitted',
      message: `backendRef ${kind} ${namespace}/${ref.name} is in another namespace and no ReferenceGrant in ${namespace} allows ${from.kind} from ${from.namespace}; add one (from: [{group: ${from.group || '""'}, kind: ${from.kind}, namespace: ${from.namespace}}], to: [{group: ${group || '""'}, kind: ${kind}}])`,
      ...port,
    };
  }
  const host = isService ? fqdn(ref.name, namespace, domainSuffix) : ref.name;
  if (!hasService(host)) {
    return {
      ok: false,
      reason: 'BackendNotFound',
      message: `backendRef ${kind} ${isService ? `${namespace}/${ref.name}` : ref.name}: no service ${host} in the mesh; register the workload or apply a ServiceEntry for it`,
      ...port,
    };
  }
  return { ok: true, host, namespace, ...port };
}
