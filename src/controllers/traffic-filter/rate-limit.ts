/**
 * `rateLimit` filters: the filters of one host (in one namespace) layer into one token bucket,
 * served as a local RateLimit (mode local, side server: each proxy of the host's workloads
 * counts what it receives), which the existing RateLimit translation turns into Envoy's
 * local_ratelimit. The bucket is the frame, empty until a filter sets it.
 */
import { Problems, formatProblem, type Problem } from '../../core/errors.js';
import type { Resource } from '../../api/resource.js';
import { RATE_LIMIT_KIND, TRELLIS_GROUP, type RateLimitSpec } from '../../api/trellis/types.js';
import { FILL_INTERVAL_UNITS, type LocalRateLimitBucket } from '../../api/trellis/traffic-filter.js';
import { validateTrafficFilter } from '../../api/trellis/traffic-filter-validate.js';
import { tryParseDuration } from '../../core/duration.js';
import type { ConfigSnapshot } from '../../config/types.js';
import { filterFieldPath, type TrafficFilterInput } from './filters.js';
import { layerFilters, type Provenance } from './layering.js';
import { conflictProblems, rejectionProblems } from './problems.js';
import { frameConflicts, withProvenance } from './provenance.js';

export const RATE_LIMIT_PREFIX = 'traffic-filter.';

/** Where each bucket field lands in the RateLimit. */
const FIELD_IN_RATE_LIMIT: Record<string, string> = {
  'spec.rateLimit.tokensPerFill': 'spec.limits[0].quota.requests',
  'spec.rateLimit.fillInterval': 'spec.limits[0].quota.per',
  'spec.rateLimit.maxTokens': 'spec.limits[0].quota.burst',
};

export function rateLimitFrames(
  filters: readonly TrafficFilterInput[],
  snapshot: ConfigSnapshot,
): { put: Resource[]; problems: Map<string, Problem[]> } {
  const put: Resource[] = [];
  const problems = new Map<string, Problem[]>();
  const report = (key: string, p: Problem) => problems.set(key, [...(problems.get(key) ?? []), p]);
  const byHost = new Map<string, TrafficFilterInput[]>();
  for (const f of filters) {
    const id = `${f.namespace}/${f.host}`;
    byHost.set(id, [...(byHost.get(id) ?? []), f]);
  }
  for (const group of byHost.values()) {
    const { namespace, host } = group[0] as TrafficFilterInput;
    const name = `${RATE_LIMIT_PREFIX}${host}`;
    const frame = `RateLimit ${namespace}/${name}`;
    if (snapshot.get(RATE_LIMIT_KIND, namespace, name) !== undefined) {
      for (const f of group) {
        report(f.key, {
          severity: 'error',
          path: 'spec.rateLimit',
          message: `${frame} exists in the config, so the filters' limit cannot take its name: rename that RateLimit`,
        });
      }
      continue;
    }
    const placed = group.map((f) => ({
      key: f.key,
      owner: f.owner,
      priority: f.priority,
      places: [['spec']],
      leaves: f.leaves,
      specPath: (leaf: (typeof f.leaves)[number]) => filterFieldPath(f, leaf),
    }));
    const result = layerFilters({ spec: { target: { host }, owner: 'layered' } }, placed, (root) => {
      const p = new Problems();
      validateTrafficFilter(root.spec, p, 'spec');
      return p.errors.map(formatProblem);
    });
    for (const [key, p] of conflictProblems(frame, result.conflicts)) report(key, p);
    for (const [key, p] of rejectionProblems(frame, result.rejected)) report(key, p);
    const bucket = (result.root.spec as { rateLimit?: LocalRateLimitBucket }).rateLimit;
    if (bucket === undefined) continue;
    const unit = FILL_INTERVAL_UNITS.get(tryParseDuration(bucket.fillInterval) ?? 0) ?? 'second';
    const spec: RateLimitSpec = {
      hosts: [host],
      mode: 'local',
      side: 'server',
      limits: [
        {
          name: 'traffic-filter',
          quota: {
            requests: bucket.tokensPerFill,
            per: unit,
            ...(bucket.maxTokens !== undefined ? { burst: bucket.maxTokens } : {}),
          },
        },
      ],
    };
    const provenance: Record<string, Provenance> = {};
    for (const [field, who] of Object.entries(result.provenance)) {
      provenance[FIELD_IN_RATE_LIMIT[field] ?? field] = who;
    }
    const resource: Resource = {
      apiVersion: `${TRELLIS_GROUP}/v1alpha1`,
      kind: RATE_LIMIT_KIND,
      metadata: { name, namespace },
      spec,
    };
    const conflicts = frameConflicts(result.conflicts).map((c) => ({
      ...c,
      at: FIELD_IN_RATE_LIMIT[c.at] ?? c.at,
    }));
    put.push(withProvenance(resource, { provenance, conflicts }));
  }
  return { put, problems };
}
