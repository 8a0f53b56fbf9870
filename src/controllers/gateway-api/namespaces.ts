/**
 * `allowedRoutes.namespaces.from: Selector`: a Kubernetes label selector over namespace labels.
 * The labels are a Namespace document's (when the config holds one) plus
 * `kubernetes.io/metadata.name: <name>`, which Kubernetes sets on every namespace, so a selector
 * on the name works without any document, as it does in a cluster.
 */
import type { LabelSelector } from '../../api/gateway/types.js';
import { NAMESPACE_KIND, NAMESPACE_NAME_LABEL } from '../../api/kubernetes/namespace.js';
import type { ConfigSnapshot } from '../../config/types.js';

export type NamespaceLabels = (namespace: string) => Readonly<Record<string, string>>;

export function namespaceLabels(snapshot: ConfigSnapshot): NamespaceLabels {
  const written = new Map<string, Readonly<Record<string, string>>>();
  for (const ns of snapshot.list(NAMESPACE_KIND)) written.set(ns.metadata.name, ns.metadata.labels ?? {});
  return (namespace) => ({ ...(written.get(namespace) ?? {}), [NAMESPACE_NAME_LABEL]: namespace });
}

/**
 * Kubernetes' rules: every matchLabels pair and every expression must hold; an empty selector
 * selects everything. In/NotIn compare the value; NotIn and DoesNotExist hold for a missing key.
 */
export function selectorMatches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
        if (!has || !values.includes(value!)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(value!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}
