/**
 * Envoy's aggregate cluster (`envoy.clusters.aggregate`, ClusterConfig{clusters}): an ordered
 * list of other clusters; a request goes to the first with healthy hosts, spilling over by
 * priority load as the earlier ones lose health (upstream/aggregate-cluster.ts). It has no hosts
 * of its own, so Envoy requires lb_policy CLUSTER_PROVIDED and no load_assignment.
 */
import type { Problems } from '../../core/errors.js';
import { TYPE, unpackAny, type AnyLike } from '../../protocol/protos.js';
import type { AggregateCluster__Output } from '../../protocol/envoy-types.js';
import { checkFields, fieldSet } from './convert-common.js';

export const AGGREGATE_CLUSTER = 'envoy.clusters.aggregate';

const CONFIG_FIELDS = fieldSet('clusters');

/** The member cluster names, in order; undefined (with problems) when the config is unusable. */
export function convertAggregateCluster(
  clusterType: { name?: string; typed_config?: AnyLike },
  name: string,
  path: string,
  problems: Problems,
): readonly string[] | undefined {
  const any = clusterType.typed_config;
  if (any?.type_url !== TYPE.aggregateCluster) {
    problems.error(`${path}.typed_config`, `expected ${TYPE.aggregateCluster}`);
    return undefined;
  }
  const msg = unpackAny<AggregateCluster__Output>(any);
  const cpath = `${path}.typed_config.clusters`;
  checkFields(msg, `${path}.typed_config`, CONFIG_FIELDS, problems);
  const clusters = msg.clusters ?? [];
  if (clusters.length === 0) problems.error(cpath, 'at least one cluster is required');
  const seen = new Set<string>();
  clusters.forEach((c, i) => {
    if (c === '') problems.error(`${cpath}[${i}]`, 'must be non-empty');
    else if (c === name) problems.error(`${cpath}[${i}]`, 'an aggregate cluster cannot contain itself');
    else if (seen.has(c)) problems.error(`${cpath}[${i}]`, `${JSON.stringify(c)} is listed twice`);
    seen.add(c);
  });
  return problems.ok ? Object.freeze([...clusters]) : undefined;
}
