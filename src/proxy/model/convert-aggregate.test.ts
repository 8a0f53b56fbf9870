import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Problems } from '../../core/errors.js';
import { packAny, TYPE } from '../../protocol/protos.js';
import type { Cluster__Output } from '../../protocol/envoy-types.js';
import { convertCluster } from './convert-cluster.js';

function aggregate(
  clusters: string[],
  extra: Record<string, unknown> = {},
  typeUrl: string = TYPE.aggregateCluster,
) {
  const msg = {
    name: 'agg',
    lb_policy: 'CLUSTER_PROVIDED',
    cluster_type: { name: 'envoy.clusters.aggregate', typed_config: packAny(typeUrl, { clusters }) },
    ...extra,
  } as unknown as Cluster__Output;
  const problems = new Problems();
  const config = convertCluster(msg, 'c', problems);
  return { config, problems: problems.items.map((p) => [p.path, p.message]) };
}

test('an aggregate cluster converts to its ordered members', () => {
  const { config, problems } = aggregate(['a', 'b']);
  assert.deepEqual(problems, []);
  assert.equal(config?.type, 'AGGREGATE');
  assert.deepEqual(config?.aggregateClusters, ['a', 'b']);
});

test('what Envoy refuses in an aggregate cluster is NACKed with its field path', () => {
  const rows: [ReturnType<typeof aggregate>, string, RegExp][] = [
    [aggregate([]), 'c.cluster_type.typed_config.clusters', /at least one cluster/],
    [aggregate(['a', 'a']), 'c.cluster_type.typed_config.clusters[1]', /listed twice/],
    [aggregate(['agg']), 'c.cluster_type.typed_config.clusters[0]', /cannot contain itself/],
    [aggregate(['a', '']), 'c.cluster_type.typed_config.clusters[1]', /non-empty/],
    [aggregate(['a'], { lb_policy: 'ROUND_ROBIN' }), 'c.lb_policy', /CLUSTER_PROVIDED/],
    [
      aggregate(['a'], { load_assignment: { cluster_name: 'agg', endpoints: [] } }),
      'c.load_assignment',
      /no endpoints of its own/,
    ],
    [aggregate(['a'], {}, TYPE.dynamicForwardProxyCluster), 'c.cluster_type.typed_config', /aggregate/],
  ];
  for (const [{ config, problems }, path, message] of rows) {
    assert.equal(config, undefined, path);
    assert.ok(
      problems.some(([p, m]) => p === path && message.test(m ?? '')),
      `${path}: ${JSON.stringify(problems)}`,
    );
  }
});
