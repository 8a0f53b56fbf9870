/**
 * Which EnvoyFilters apply to a proxy, in Istio's order (pilot/pkg/model/push_context.go
 * EnvoyFilters):
 *
 * - the root namespace's filters apply to every proxy of the mesh, the other namespaces' to
 *   their own proxies only;
 * - a filter with `workloadSelector` applies where its labels are a subset of the workload's
 *   (no labels: every workload of its namespace); with `targetRefs`, to the Gateway API
 *   gateways named (proxies labelled `gateway.networking.k8s.io/gateway-name: NAME`) and
 *   nothing else; with neither, to every proxy it reaches;
 * - order: `priority` ascending; equal priorities keep root namespace filters first, then the
 *   oldest first, then by name.
 *
 * Proxyless gRPC clients take no EnvoyFilters (Istio's gRPC generator applies none).
 */
import type { Resource } from '../../../api/resource.js';
import type { EnvoyFilterSpec } from '../../../api/networking/envoy-filter.js';
import type { ProxyNode } from '../../proxy-node.js';
import { digest } from '../memo.js';
import { resourceFp, type PushContext } from '../push-context.js';
import { byCreation, labelsMatch } from '../selectors.js';
import { decodeEnvoyFilter, ENVOY_FILTER_KIND, type DecodedPatch } from './patches.js';

const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';

export function appliesTo(resource: Resource, proxy: ProxyNode, rootNamespace: string): boolean {
  if (proxy.type === 'grpc') return false;
  const ns = resource.metadata.namespace;
  if (ns !== rootNamespace && ns !== proxy.namespace) return false;
  const spec = resource.spec as EnvoyFilterSpec;
  if (spec.targetRefs !== undefined && spec.targetRefs.length > 0) {
    // A reference names something in the filter's own namespace.
    if (ns !== proxy.namespace) return false;
    return spec.targetRefs.some(
      (t) =>
        t.kind === 'Gateway' &&
        t.group === 'gateway.networking.k8s.io' &&
        proxy.labels[GATEWAY_NAME_LABEL] === t.name,
    );
  }
  return labelsMatch(spec.workloadSelector?.labels, proxy.labels);
}

/** Istio's order of the filters that apply to one proxy. */
export function orderFilters(filters: readonly Resource[], rootNamespace: string): Resource[] {
  const priority = (r: Resource) => (r.spec as EnvoyFilterSpec).priority ?? 0;
  return [...filters].sort((a, b) => {
    const p = priority(a) - priority(b);
    if (p !== 0) return p;
    const ra = a.metadata.namespace === rootNamespace ? 0 : 1;
    const rb = b.metadata.namespace === rootNamespace ? 0 : 1;
    return ra - rb || byCreation(a, b);
  });
}

export interface ProxyEnvoyFilters {
  /** Every decodable patch of the filters that apply, in application order. */
  readonly patches: readonly DecodedPatch[];
  /** Names the filters (by fingerprint) and the proxy facts patches match on; '' for none. */
  readonly key: string;
}

const NONE: ProxyEnvoyFilters = Object.freeze({ patches: [], key: '' });

export function proxyEnvoyFilters(push: PushContext, proxy: ProxyNode): ProxyEnvoyFilters {
  const all = push.index.perPush('envoyfilters', () => push.index.config.list(ENVOY_FILTER_KIND));
  if (all.length === 0 || proxy.type === 'grpc') return NONE;
  const facets = JSON.stringify([proxy.type, proxy.namespace, proxy.labels, proxy.metadata]);
  return push.index.perPush(`envoyfilters|${facets}`, () => {
    const chosen = orderFilters(
      all.filter((r) => appliesTo(r, proxy, push.rootNamespace)),
      push.rootNamespace,
    );
    if (chosen.length === 0) return NONE;
    const patches = chosen.flatMap((r) => decodeEnvoyFilter(r).patches).filter((p) => proxyMatches(p, proxy));
    if (patches.length === 0) return NONE;
    return {
      patches,
      key: digest(
        `${proxy.type}|${chosen.map(resourceFp).join(',')}|${patches.map((p) => `${p.filter}#${p.index}`).join(',')}`,
      ),
    };
  });
}

/** `match.proxy`: the proxy's version (node metadata ISTIO_VERSION) and metadata. */
export function proxyMatches(patch: DecodedPatch, proxy: ProxyNode): boolean {
  const m = patch.match.proxy;
  if (m === undefined) return true;
  if (m.proxyVersion !== undefined && m.proxyVersion !== '' && m.proxyVersion.length <= 1024) {
    const version = typeof proxy.metadata.ISTIO_VERSION === 'string' ? proxy.metadata.ISTIO_VERSION : '';
    let re: RegExp;
    try {
      re = new RegExp(m.proxyVersion);
    } catch {
      return false;
    }
    if (!re.test(version)) return false;
  }
  for (const [k, v] of Object.entries(m.metadata ?? {})) if (proxy.metadata[k] !== v) return false;
  return true;
}
