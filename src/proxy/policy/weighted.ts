import type { Random } from '../../core/random.js';
import { xxHash64 } from './xxhash64.js';

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

/**
 * The sticky pick (Trellis's sticky canary): the same key always lands on the same item for
 * given weights, and when weights move, a key only ever moves from an item whose share fell to
 * one whose share grew (relative to each other), so raising a canary from 10 to 20 moves only
 * new keys onto it and never one back, however many items there are.
 *
 * This is weighted rendezvous hashing: each item scores the key by an exponential draw of rate
 * `weight` seeded from hash(key, item id), and the lowest score wins. The winner is `i` with
 * probability weight_i / total (the minimum of independent exponentials), and an item's score for
 * a key changes only when its own weight does, which is what gives the monotonic moves. A single
 * line cut into consecutive ranges cannot promise that beyond two items: growing the first range
 * shifts every range after it, moving keys between items whose weights did not change.
 * `id` must be stable across weight changes (the cluster name).
 */
export function pickWeightedByKey<T extends Weighted>(
  items: readonly T[],
  key: string,
  id: (item: T) => string,
): T | undefined {
  const keyHash = xxHash64(key);
  let best: T | undefined;
  let bestScore = Infinity;
  for (const item of items) {
    // Weight 0 scores +Infinity (the draw is strictly positive), so it is never picked.
    const score = -Math.log(unitInterval(xxHash64(id(item), keyHash))) / item.weight;
    if (score < bestScore) {
      best = item;
      bestScore = score;
    }
  }
  return best;
}

/** A 64-bit hash as a number strictly inside (0, 1): its top 53 bits, centred. */
function unitInterval(h: bigint): number {
  return (Number(h >> 11n) + 0.5) / 2 ** 53;
}
