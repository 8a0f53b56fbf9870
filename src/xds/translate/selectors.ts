/**
 * Label selectors, exportTo and precedence order: the small predicates every index and view
 * shares, and an index that finds the resources selecting a workload without scanning them all.
 */
import type { Resource } from '../../api/resource.js';

export type Labels = Readonly<Record<string, string>>;

/** Istio's exportTo: absent or `*` = everyone, `.` = own namespace, `~` = nobody. */
export function exportedTo(
  exportTo: readonly string[] | undefined,
  ownNamespace: string,
  namespace: string,
): boolean {
  if (exportTo === undefined || exportTo.length === 0) return true;
  for (const e of exportTo) {
    if (e === '*') return true;
    if (e === '.' && ownNamespace === namespace) return true;
    if (e === namespace) return true;
  }
  return false;
}

export function labelsMatch(selector: Labels | undefined, labels: Labels): boolean {
  if (selector === undefined) return true;
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

/** Oldest first, then namespace/name: Istio's precedence when resources conflict. */
export function byCreation(a: Resource, b: Resource): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return (
    a.metadata.namespace.localeCompare(b.metadata.namespace) || a.metadata.name.localeCompare(b.metadata.name)
  );
}

/**
 * Items with label selectors, in precedence order. Each selector is filed under one of its
 * `key=value` pairs (every label it requires), so a workload's candidates are the items filed
 * under its own labels: a few buckets instead of every item. Empty selectors match everyone.
 */
export class SelectorIndex<T> {
  private readonly always: number[] = [];
  private readonly byPair = new Map<string, number[]>();

  constructor(
    private readonly items: readonly T[],
    private readonly selectorOf: (item: T) => Labels,
  ) {
    items.forEach((item, i) => {
      const first = Object.entries(selectorOf(item))[0];
      if (first === undefined) {
        this.always.push(i);
        return;
      }
      const pair = `${first[0]}\u0000${first[1]}`;
      let list = this.byPair.get(pair);
      if (!list) this.byPair.set(pair, (list = []));
      list.push(i);
    });
  }

  /** Items selecting `labels`, in precedence order. */
  matching(labels: Labels): T[] {
    let positions = this.always;
    for (const [k, v] of Object.entries(labels)) {
      const list = this.byPair.get(`${k}\u0000${v}`);
      if (list !== undefined) positions = [...positions, ...list];
    }
    if (positions !== this.always) positions.sort((a, b) => a - b);
    const out: T[] = [];
    for (const i of positions) {
      const item = this.items[i] as T;
      if (labelsMatch(this.selectorOf(item), labels)) out.push(item);
    }
    return out;
  }
}
