/**
 * Descriptor matching as envoyproxy/ratelimit does it: walk the configured tree one request
 * entry at a time, preferring an exact key+value, then the longest `value*` prefix, then a
 * node with the key alone (any value). A limit applies only when the node that matches the
 * request's LAST entry carries one, so `(a,1),(b,2)` never uses a limit set on `(a,1)` alone.
 * Pure: no I/O, tested as a table.
 */
import type { CompiledDomain, CompiledLimit, DescriptorLevel, DescriptorNode } from './config.js';

export interface DescriptorEntry {
  key: string;
  value: string;
}

export interface MatchedLimit {
  limit: CompiledLimit;
  /** Metric label: the config path, or the request's own values when detailed_metric is set. */
  statKey: string;
}

function findNode(level: DescriptorLevel, entry: DescriptorEntry): DescriptorNode | undefined {
  const exact = level.exact.get(`${entry.key}\x1f${entry.value}`);
  if (exact) return exact;
  for (const p of level.prefixes) {
    if (p.key === entry.key && entry.value.startsWith(p.prefix)) return p.node;
  }
  return level.anyValue.get(entry.key);
}

export function matchDescriptor(
  domain: CompiledDomain,
  entries: readonly DescriptorEntry[],
): MatchedLimit | undefined {
  let level: DescriptorLevel | undefined = domain.root;
  for (let i = 0; i < entries.length && level; i++) {
    const node = findNode(level, entries[i] as DescriptorEntry);
    if (!node) return undefined;
    if (i === entries.length - 1) {
      if (!node.limit) return undefined;
      const statKey = node.limit.detailedMetric
        ? entries.map((e) => `${e.key}_${e.value}`).join('.')
        : node.statKey;
      return { limit: node.limit, statKey };
    }
    level = node.children;
  }
  return undefined;
}

/**
 * envoyproxy/ratelimit's `replaces`: a limit named in another matched limit's `replaces`
 * list is dropped for this request (its counter is left untouched). Returns the input with
 * replaced entries set to undefined.
 */
export function applyReplaces(matches: readonly (MatchedLimit | undefined)[]): (MatchedLimit | undefined)[] {
  const replaced = new Set<string>();
  for (const m of matches) for (const r of m?.limit.replaces ?? []) replaced.add(r);
  if (replaced.size === 0) return [...matches];
  return matches.map((m) => (m && m.limit.name !== undefined && replaced.has(m.limit.name) ? undefined : m));
}
