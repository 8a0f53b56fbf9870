/**
 * Which AuthorizationPolicies and RequestAuthentications apply to a proxy, with Istio's rules
 * (pilot/pkg/model/policyattachment.go, ShouldAttachPolicy; authorization.go):
 *
 * - Candidates are the policies of the root namespace (`istio-system`: mesh-wide) and of the
 *   proxy's own namespace, each oldest first.
 * - A policy without targetRef(s) applies when its `selector.matchLabels` (absent: everything)
 *   is a subset of the workload's labels. A root namespace policy with a selector therefore
 *   applies to matching workloads of every namespace, as in Istio.
 * - A policy with targetRef(s) applies only to what a reference names, in the policy's own
 *   namespace:
 *   - `gateway.networking.k8s.io/Gateway` NAME: gateway proxies labelled
 *     `gateway.networking.k8s.io/gateway-name: NAME` (Istio's label for the gateway a workload
 *     serves);
 *   - `Service` NAME (core group) and `networking.istio.io/ServiceEntry` NAME: Istio attaches these
 *     only at waypoints (ambient), which Trellis does not have. Trellis applies them where the
 *     waypoint would have enforced them, at the sidecars of the service's workloads (instances of
 *     `NAME.NAMESPACE.svc.SUFFIX`, or of the ServiceEntry), and says so in a warning;
 *   - `GatewayClass` (Istio: only `istio-waypoint`, for waypoints): skipped, with a warning.
 *   A sidecar never takes a targetRef policy otherwise (Istio ignores them on sidecars).
 *
 * The warnings for the approximated and skipped references are produced by
 * authorization-warnings.ts from the same predicates.
 */
import type { Resource } from '../../../api/resource.js';
import type {
  AuthorizationPolicySpec,
  PolicyTargetReference,
  RequestAuthenticationSpec,
} from '../../../api/security/types.js';
import type { ProxyNode } from '../../proxy-node.js';
import { fingerprint } from '../memo.js';
import { sameResources } from '../config-index.js';
import { byCreation, labelsMatch, type Labels } from '../selectors.js';

export type AuthorizationPolicyResource = Resource<AuthorizationPolicySpec>;
export type RequestAuthenticationResource = Resource<RequestAuthenticationSpec>;

export const AUTHORIZATION_POLICY_KIND = 'AuthorizationPolicy';
export const REQUEST_AUTHENTICATION_KIND = 'RequestAuthentication';
/** The label Istio reads for the Gateway API gateway a workload belongs to. */
export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';

type Targetable = AuthorizationPolicySpec | RequestAuthenticationSpec;

/** The policies of one kind, by namespace, oldest first; a fingerprint per resource. */
class NamespacedPolicies<S extends Targetable> {
  private readonly byNamespace = new Map<string, Resource<S>[]>();
  readonly fps = new WeakMap<Resource, string>();
  /** Whether some policy names a Service or ServiceEntry (selection then needs the workload's services). */
  readonly targetsServices: boolean;

  constructor(readonly source: readonly Resource[]) {
    let services = false;
    for (const r of [...(source as Resource<S>[])].sort(byCreation)) {
      const list = this.byNamespace.get(r.metadata.namespace) ?? [];
      list.push(r);
      this.byNamespace.set(r.metadata.namespace, list);
      this.fps.set(r, fingerprint(r));
      if (targetRefs(r.spec).some((t) => serviceTarget(t) !== undefined)) services = true;
    }
    this.targetsServices = services;
  }

  in(namespace: string): readonly Resource<S>[] {
    return this.byNamespace.get(namespace) ?? [];
  }
}

/** Every security policy of a push, indexed for selection (one field of PushIndex). */
export class SecurityPolicyIndex {
  readonly authorization: NamespacedPolicies<AuthorizationPolicySpec>;
  readonly authentication: NamespacedPolicies<RequestAuthenticationSpec>;

  constructor(
    authorization: readonly Resource[],
    authentication: readonly Resource[],
    previous: SecurityPolicyIndex | undefined,
  ) {
    this.authorization =
      previous !== undefined && sameResources(previous.authorization.source, authorization)
        ? previous.authorization
        : new NamespacedPolicies(authorization);
    this.authentication =
      previous !== undefined && sameResources(previous.authentication.source, authentication)
        ? previous.authentication
        : new NamespacedPolicies(authentication);
  }

  get empty(): boolean {
    return this.authorization.source.length === 0 && this.authentication.source.length === 0;
  }
}

/** What selection reads of a workload. */
export interface WorkloadTarget {
  /** `sidecar` takes selector and Service/ServiceEntry policies; `router` selector and Gateway ones. */
  kind: 'sidecar' | 'router';
  namespace: string;
  labels: Labels;
  /** Hostnames of the services the workload is an instance of (only read for Service targets). */
  services: readonly string[];
  /** `source` of those services (`ServiceEntry/NS/NAME`), for ServiceEntry targets. */
  serviceSources: readonly string[];
}

export function targetRefs(spec: Targetable): PolicyTargetReference[] {
  if (spec.targetRefs !== undefined && spec.targetRefs.length > 0) return spec.targetRefs;
  return spec.targetRef !== undefined ? [spec.targetRef] : [];
}

const canonicalGroup = (g: string | undefined): string => (g === undefined || g === 'core' ? '' : g);

/** A reference to a gateway by Gateway API name, or undefined. */
export function gatewayTarget(ref: PolicyTargetReference): string | undefined {
  return canonicalGroup(ref.group) === 'gateway.networking.k8s.io' && ref.kind === 'Gateway'
    ? ref.name
    : undefined;
}

/** A reference to a Service or ServiceEntry (applied at its workloads' sidecars), or undefined. */
export function serviceTarget(
  ref: PolicyTargetReference,
): { kind: 'Service' | 'ServiceEntry'; name: string } | undefined {
  const group = canonicalGroup(ref.group);
  if (group === '' && ref.kind === 'Service') return { kind: 'Service', name: ref.name };
  if (group === 'networking.istio.io' && ref.kind === 'ServiceEntry')
    return { kind: 'ServiceEntry', name: ref.name };
  return undefined;
}

function refMatches(
  ref: PolicyTargetReference,
  policyNamespace: string,
  target: WorkloadTarget,
  domainSuffix: string,
): boolean {
  if (ref.namespace !== undefined && ref.namespace !== '' && ref.namespace !== policyNamespace) return false;
  const gateway = gatewayTarget(ref);
  if (gateway !== undefined) {
    return (
      target.kind === 'router' &&
      target.namespace === policyNamespace &&
      target.labels[GATEWAY_NAME_LABEL] === gateway
    );
  }
  const svc = serviceTarget(ref);
  if (svc === undefined || target.kind !== 'sidecar') return false;
  return svc.kind === 'Service'
    ? target.services.includes(`${svc.name}.${policyNamespace}.svc.${domainSuffix}`)
    : target.serviceSources.includes(`ServiceEntry/${policyNamespace}/${svc.name}`);
}

/** Whether one policy applies to the workload (Istio's ShouldAttachPolicy, as described above). */
export function policyApplies(
  policy: Resource<Targetable>,
  target: WorkloadTarget,
  domainSuffix: string,
): boolean {
  const refs = targetRefs(policy.spec);
  if (refs.length > 0)
    return refs.some((r) => refMatches(r, policy.metadata.namespace, target, domainSuffix));
  return labelsMatch(policy.spec.selector?.matchLabels, target.labels);
}

export interface Selected<S> {
  /** Root namespace policies first, then the workload's namespace; each oldest first. */
  readonly policies: readonly Resource<S>[];
  /** Fingerprints of `policies`, in order: all the translation reads of them. */
  readonly key: string;
}

function select<S extends Targetable>(
  from: NamespacedPolicies<S>,
  target: WorkloadTarget,
  rootNamespace: string,
  domainSuffix: string,
): Selected<S> {
  const namespaces = target.namespace === rootNamespace ? [rootNamespace] : [rootNamespace, target.namespace];
  const policies = namespaces.flatMap((ns) =>
    from.in(ns).filter((p) => policyApplies(p, target, domainSuffix)),
  );
  return { policies, key: policies.map((p) => from.fps.get(p) ?? '').join(',') };
}

export function selectAuthorizationPolicies(
  index: SecurityPolicyIndex,
  target: WorkloadTarget,
  rootNamespace: string,
  domainSuffix: string,
): Selected<AuthorizationPolicySpec> {
  return select(index.authorization, target, rootNamespace, domainSuffix);
}

export function selectRequestAuthentications(
  index: SecurityPolicyIndex,
  target: WorkloadTarget,
  rootNamespace: string,
  domainSuffix: string,
): Selected<RequestAuthenticationSpec> {
  return select(index.authentication, target, rootNamespace, domainSuffix);
}

/**
 * The selection inputs of a proxy. `instances` gives the services a sidecar's addresses are
 * instances of; it is called only when some policy targets a Service or ServiceEntry.
 */
export function workloadTarget(
  index: SecurityPolicyIndex,
  proxy: ProxyNode,
  instances: () => readonly { hostname: string; source: string }[],
): WorkloadTarget | undefined {
  // A proxyless gRPC server is a workload like a sidecar's (its RBAC rides its server listeners).
  const kind = proxy.type === 'router' ? 'router' : 'sidecar';
  const needServices =
    kind === 'sidecar' && (index.authorization.targetsServices || index.authentication.targetsServices);
  const services = needServices ? instances() : [];
  return {
    kind,
    namespace: proxy.namespace,
    labels: proxy.labels,
    services: [...new Set(services.map((s) => s.hostname))].sort(),
    serviceSources: [...new Set(services.map((s) => s.source))].sort(),
  };
}
