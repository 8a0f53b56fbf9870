/**
 * Which Telemetry resources apply to a proxy, in Istio's order (pilot/pkg/model/telemetry.go,
 * applicableTelemetries): the root namespace's mesh-wide one (no selector, no targetRef; the
 * oldest if several), then the proxy namespace's namespace-wide one, then every Telemetry of the
 * proxy's own namespace that selects it (selector labels a subset of the workload's labels, or a
 * targetRef to the Gateway API gateway it serves), oldest first. Later entries override earlier
 * ones aspect by aspect (effective.ts). A Service or ServiceEntry targetRef applies only at
 * waypoints in Istio, which Trellis has none of, so it selects nothing here.
 */
import type { Resource } from '../../../api/resource.js';
import type { TelemetrySpec } from '../../../api/telemetry/types.js';
import { TELEMETRY_KIND } from '../../../api/telemetry/types.js';
import type { ProxyNode } from '../../proxy-node.js';
import { digest } from '../memo.js';
import { resourceFp, type PushContext } from '../push-context.js';
import { GATEWAY_NAME_LABEL, gatewayTarget } from '../security/policy-select.js';
import { byCreation, labelsMatch } from '../selectors.js';

export type TelemetryResource = Resource<TelemetrySpec>;

export interface Applicable {
  /** Root, namespace, then workload Telemetries: later ones take precedence. */
  readonly telemetries: readonly TelemetryResource[];
  /** Names every input: the chosen resources' fingerprints. */
  readonly key: string;
}

function refs(spec: TelemetrySpec): NonNullable<TelemetrySpec['targetRefs']> {
  if (spec.targetRefs !== undefined && spec.targetRefs.length > 0) return spec.targetRefs;
  return spec.targetRef !== undefined ? [spec.targetRef] : [];
}

function namespaceWide(spec: TelemetrySpec): boolean {
  return Object.keys(spec.selector?.matchLabels ?? {}).length === 0 && refs(spec).length === 0;
}

/** Pure selection over the Telemetries of a push (sorted oldest first). */
export function selectTelemetries(
  all: readonly TelemetryResource[],
  rootNamespace: string,
  proxy: Pick<ProxyNode, 'type' | 'namespace' | 'labels'>,
): TelemetryResource[] {
  const sorted = [...all].sort(byCreation);
  const inNs = (ns: string): TelemetryResource[] => sorted.filter((t) => t.metadata.namespace === ns);
  const out: TelemetryResource[] = [];
  const root = inNs(rootNamespace).find((t) => namespaceWide(t.spec));
  if (root !== undefined) out.push(root);
  if (proxy.namespace !== rootNamespace) {
    const ns = inNs(proxy.namespace).find((t) => namespaceWide(t.spec));
    if (ns !== undefined) out.push(ns);
  }
  for (const t of inNs(proxy.namespace)) {
    if (namespaceWide(t.spec)) continue;
    const targets = refs(t.spec);
    if (targets.length === 0) {
      if (labelsMatch(t.spec.selector?.matchLabels, proxy.labels)) out.push(t);
      continue;
    }
    const gateway = proxy.labels[GATEWAY_NAME_LABEL];
    if (
      proxy.type === 'router' &&
      gateway !== undefined &&
      targets.some((r) => (r.namespace ?? '') === '' && gatewayTarget(r) === gateway)
    )
      out.push(t);
  }
  return out;
}

/** The Telemetries that apply to `proxy` in this push, memoized per push and workload. */
export function applicableTelemetries(push: PushContext, proxy: ProxyNode): Applicable {
  const facets = `telemetry|${proxy.type}|${proxy.namespace}|${JSON.stringify(proxy.labels)}`;
  return push.index.perPush(facets, () => {
    const all = push.index.config.list(TELEMETRY_KIND) as TelemetryResource[];
    if (all.length === 0) return { telemetries: [], key: '' };
    const telemetries = selectTelemetries(all, push.rootNamespace, proxy);
    return { telemetries, key: digest(telemetries.map(resourceFp).join(',')) };
  });
}
