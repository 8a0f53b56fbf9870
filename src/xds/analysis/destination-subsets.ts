/**
 * Istio's IST0101 ReferencedResourceNotFound for subsets: a VirtualService destination (route,
 * mirror) naming a subset that no DestinationRule defines for its host. The translation still
 * routes there, to a cluster that does not exist, so that share of the traffic fails with
 * `503 NC` (the usual cause: a canary's VirtualService written before its DestinationRule).
 * A warning, never a rejection: the rule may simply not have been written yet.
 *
 * Hosts and rules are resolved as the translation resolves them for a workload in the
 * VirtualService's namespace (short names in that namespace, exportTo, Istio's rule lookup
 * order), with ruleForHost; a rule with a workloadSelector in that namespace counts too, since
 * the workloads it selects do get the subset. Istio's own analyzer asks the same question from
 * the same namespace (pkg/config/analysis/analyzers/virtualservice/destinationrules.go).
 */
import { fqdn, hostMatches, isWildcardHost } from '../../api/hosts.js';
import {
  destinationRuleSelectorLabels,
  type Destination,
  type VirtualServiceSpec,
} from '../../api/networking/types.js';
import type { Resource } from '../../api/resource.js';
import type { PushContext } from '../translate/push-context.js';
import { ruleForHost } from '../translate/scope.js';

export const MISSING_SUBSET_CODE = 'IST0101';

export interface MissingSubset {
  /** The VirtualService naming the subset. */
  readonly resource: Resource<VirtualServiceSpec>;
  /** Field path of the subset, e.g. `spec.http[0].route[1].destination.subset`. */
  readonly path: string;
  /** `[IST0101] Referenced host+subset in destinationrule not found: "reviews+v2"` and why it matters. */
  readonly message: string;
  /** `host+subset` as written, for de-duplicating log lines. */
  readonly reference: string;
}

/** Every destination of a VirtualService with the field path of its `destination`. */
function destinations(spec: VirtualServiceSpec): { path: string; destination: Destination }[] {
  const out: { path: string; destination: Destination }[] = [];
  (spec.http ?? []).forEach((route, i) => {
    (route.route ?? []).forEach((d, j) =>
      out.push({ path: `spec.http[${i}].route[${j}].destination`, destination: d.destination }),
    );
    if (route.mirror !== undefined) out.push({ path: `spec.http[${i}].mirror`, destination: route.mirror });
    (route.mirrors ?? []).forEach((m, j) =>
      out.push({ path: `spec.http[${i}].mirrors[${j}].destination`, destination: m.destination }),
    );
  });
  for (const kind of ['tls', 'tcp'] as const) {
    (spec[kind] ?? []).forEach((route, i) =>
      (route.route ?? []).forEach((d, j) =>
        out.push({ path: `spec.${kind}[${i}].route[${j}].destination`, destination: d.destination }),
      ),
    );
  }
  return out;
}

/** Whether a workload in `namespace` gets subset `subset` of `host` from some DestinationRule. */
function subsetDefined(push: PushContext, host: string, namespace: string, subset: string): boolean {
  const has = (r: { spec: { subsets?: { name: string }[] } } | undefined) =>
    r?.spec.subsets?.some((s) => s.name === subset) === true;
  const decided = ruleForHost(push, host, namespace, push.index.service(host)?.namespace);
  if (has(decided)) return true;
  return push.index.destinationRules.rules.some(
    (r) =>
      destinationRuleSelectorLabels(r.spec) !== undefined &&
      r.metadata.namespace === namespace &&
      hostMatches(fqdn(r.spec.host, r.metadata.namespace, push.domainSuffix), host) &&
      has(r),
  );
}

/** Every VirtualService destination (delegates included) naming a subset no rule defines. */
export function missingSubsets(push: PushContext): MissingSubset[] {
  const vsIndex = push.index.virtualServices;
  const all = [...vsIndex.roots.map((r) => r.vs), ...vsIndex.delegates.values()];
  const out: MissingSubset[] = [];
  for (const vs of all) {
    const namespace = vs.metadata.namespace;
    for (const { path, destination } of destinations(vs.spec)) {
      const subset = destination.subset;
      if (subset === undefined || subset === '') continue;
      const host = fqdn(destination.host, namespace, push.domainSuffix);
      if (isWildcardHost(host) || subsetDefined(push, host, namespace, subset)) continue;
      const reference = `${destination.host}+${subset}`;
      out.push({
        resource: vs,
        path: `${path}.subset`,
        reference,
        message:
          `[${MISSING_SUBSET_CODE}] Referenced host+subset in destinationrule not found: ${JSON.stringify(reference)}` +
          ` (no DestinationRule visible in namespace ${namespace} defines subset ${JSON.stringify(subset)} for ${host};` +
          ` requests routed to it fail with 503 NC)`,
      });
    }
  }
  return out;
}
