/** TrafficFilters as the layering reads them: one feature, a resolved host, a priority. */
import { fqdn } from '../../api/hosts.js';
import type { Resource } from '../../api/resource.js';
import {
  DEFAULT_PRIORITY,
  TRAFFIC_FILTER_FEATURES,
  featureOf,
  type FeatureFrame,
  type TrafficFilterFeature,
  type TrafficFilterSpec,
} from '../../api/trellis/traffic-filter.js';
import type { FilterRef } from './layering.js';
import { featureLeaves, type Leaf } from './merge-rules.js';

export interface TrafficFilterInput extends FilterRef {
  namespace: string;
  name: string;
  feature: TrafficFilterFeature;
  frame: FeatureFrame;
  /** Fully qualified, resolved in the filter's namespace. */
  host: string;
  route?: string;
  subset?: string;
  leaves: Leaf[];
}

/** Validated TrafficFilters (the store holds no other) in layering order's input form. */
export function readFilters(resources: readonly Resource[], domainSuffix: string): TrafficFilterInput[] {
  const out: TrafficFilterInput[] = [];
  for (const r of resources) {
    const spec = r.spec as TrafficFilterSpec;
    const feature = featureOf(spec);
    if (feature === undefined) continue;
    const { namespace, name } = r.metadata;
    out.push({
      key: `${namespace}/${name}`,
      namespace,
      name,
      owner: spec.owner,
      priority: spec.priority ?? DEFAULT_PRIORITY,
      feature,
      frame: TRAFFIC_FILTER_FEATURES[feature],
      host: fqdn(spec.target.host, namespace, domainSuffix),
      ...(spec.target.route !== undefined ? { route: spec.target.route } : {}),
      ...(spec.target.subset !== undefined ? { subset: spec.target.subset } : {}),
      leaves: featureLeaves(feature, spec as unknown as Record<string, unknown>),
    });
  }
  return out;
}

/** `spec.retries.attempts` for a leaf of a filter (the retry budget is `spec.retryBudget`). */
export function filterFieldPath(f: TrafficFilterInput, leaf: Leaf): string {
  if (f.frame === 'annotation') return `spec.${f.feature}`;
  return ['spec', ...leaf.path].join('.');
}
