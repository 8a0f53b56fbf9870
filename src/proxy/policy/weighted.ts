import type { Random } from '../../core/random.js';
import { invalid, unwrap, type Wrapped } from './proto-values.js';
import { headerValue, type RequestHeaders } from './string-matcher.js';

export { fractionHits, runtimeFractionHits, type FractionalPercentConfig } from './proto-values.js';

/**
 * Envoy's RouteAction.weighted_clusters pick: a draw in [0, total weight) walks the clusters'
 * cumulative weights. Entries come back as given, so the caller reads the per-cluster extras
 * (typed_per_filter_config, header changes, cluster_header) itself.
 *
 * Exports:
 *   compileWeightedClusters<E>(config: WeightedClustersConfig<E>, path): WeightedClusters<E>
 *   WeightedClusters.pick(random, headers?): E     header_name (when set) supplies the draw
 *   WeightedClusters.totalWeight: number
 *   fractionHits(fp, random), runtimeFractionHits(rf, random, ifAbsent)   for runtime_fraction
 */
export interface WeightedClusterEntryConfig {
  name?: string | null;
  cluster_header?: string | null;
  weight?: Wrapped<number>;
}

export interface WeightedClustersConfig<E extends WeightedClusterEntryConfig> {
  clusters?: E[] | null;
  total_weight?: Wrapped<number>;
  runtime_key_prefix?: string | null;
  header_name?: string | null;
}

export interface WeightedClusters<E> {
  readonly totalWeight: number;
  readonly entries: readonly E[];
  pick(random: Random, headers?: RequestHeaders): E;
}

export function compileWeightedClusters<E extends WeightedClusterEntryConfig>(
  config: WeightedClustersConfig<E>,
  path = 'weighted_clusters',
): WeightedClusters<E> {
  const entries = config.clusters ?? [];
  if (entries.length === 0) throw invalid(`${path}.clusters`, 'must list at least one cluster');
  const cumulative: number[] = [];
  let total = 0;
  entries.forEach((e, i) => {
    if (!e.name && !e.cluster_header) throw invalid(`${path}.clusters[${i}]`, 'needs name or cluster_header');
    const w = unwrap(e.weight, 0);
    if (!Number.isInteger(w) || w < 0)
      throw invalid(`${path}.clusters[${i}].weight`, 'must be a non-negative integer');
    total += w;
    cumulative.push(total);
  });
  if (total === 0) throw invalid(`${path}.clusters`, 'the sum of weights must be greater than 0');
  const declared =
    config.total_weight === undefined || config.total_weight === null
      ? undefined
      : unwrap(config.total_weight, 0);
  if (declared !== undefined && declared !== 0 && declared !== total) {
    throw invalid(`${path}.total_weight`, `is ${declared} but the weights add up to ${total}`);
  }
  const headerName = config.header_name ? config.header_name.toLowerCase() : undefined;
  return {
    totalWeight: total,
    entries,
    pick(random, headers) {
      let draw: number | undefined;
      if (headerName !== undefined && headers !== undefined) {
        const v = headerValue(headers, headerName);
        if (v !== undefined && /^\d+$/.test(v)) draw = Number(BigInt(v) % BigInt(total));
      }
      draw ??= Math.floor(random() * total);
      const i = cumulative.findIndex((c) => draw < c);
      return entries[i === -1 ? entries.length - 1 : i]!;
    },
  };
}
