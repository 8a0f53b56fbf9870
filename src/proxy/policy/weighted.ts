import type { Random } from '../../core/random.js';

/**
 * The weighted pick, the one owner of it: Envoy's RouteAction.weighted_clusters and
 * TcpProxy.weighted_clusters draw a number in [0, total weight) and walk the targets'
 * cumulative weights, so a target with weight 0 is never picked. The route and listener
 * converters check the weights (non-empty names, a sum above 0) when they compile.
 */
export interface Weighted {
  readonly weight: number;
}

/** The sum of the weights. */
export function totalWeight(items: readonly Weighted[]): number {
  let total = 0;
  for (const t of items) total += t.weight;
  return total;
}

/** Picks one item in proportion to its weight; undefined only for an empty list. */
export function pickWeighted<T extends Weighted>(
  items: readonly T[],
  total: number,
  random: Random,
): T | undefined {
  if (items.length <= 1) return items[0];
  let n = Math.floor(random() * total);
  for (const t of items) {
    if (n < t.weight) return t;
    n -= t.weight;
  }
  return items[items.length - 1];
}
