import type { Random } from '../../core/random.js';
import { createLoadBalancer, type LbSettings, type LoadBalancer, type PickContext } from './load-balancer.js';
import { PrioritySet, type LocalityHosts, type PriorityHost, type PriorityOptions } from './locality.js';
import { invalid, unwrap, type Wrapped } from './proto-values.js';

/**
 * One cluster's host choice: PrioritySet picks the host set (priority, health, locality), and a
 * balancer per set picks the host. Build a new ClusterLoadBalancer whenever EDS membership or
 * host health (including outlier ejection) changes; balancers are created lazily per set.
 *
 * Exports:
 *   priorityOptionsFrom(cluster, assignment, path): PriorityOptions
 *       from Cluster.common_lb_config and ClusterLoadAssignment.policy
 *   class ClusterLoadBalancer<H extends PriorityHost>(settings: LbSettings, levels, options, random)
 *     .pick(ctx?: PickContext<H>): H | undefined     undefined: no healthy host (Envoy's UH / 503)
 *     .priorities: PrioritySet<H>
 */
export interface CommonLbConfig {
  healthy_panic_threshold?: Wrapped<number>;
  locality_weighted_lb_config?: object | null;
  zone_aware_lb_config?: unknown;
}

export function priorityOptionsFrom(
  cluster: { common_lb_config?: CommonLbConfig | null },
  assignment: { policy?: { overprovisioning_factor?: Wrapped<number> } | null } | undefined,
  path = 'cluster',
): PriorityOptions {
  const common = cluster.common_lb_config ?? {};
  const panic = unwrap(common.healthy_panic_threshold, 50);
  if (panic < 0 || panic > 100) {
    throw invalid(`${path}.common_lb_config.healthy_panic_threshold`, 'must be between 0 and 100');
  }
  const factor = unwrap(assignment?.policy?.overprovisioning_factor, 140);
  if (factor <= 0)
    throw invalid('cluster_load_assignment.policy.overprovisioning_factor', 'must be greater than 0');
  return {
    panicThresholdPercent: panic,
    overprovisioningFactor: factor,
    localityWeighted:
      common.locality_weighted_lb_config !== undefined && common.locality_weighted_lb_config !== null,
  };
}

export class ClusterLoadBalancer<H extends PriorityHost> {
  readonly priorities: PrioritySet<H>;
  private readonly balancers = new Map<string, LoadBalancer<H>>();

  constructor(
    private readonly settings: LbSettings,
    levels: readonly (readonly LocalityHosts<H>[])[],
    options: PriorityOptions,
    private readonly random: Random,
  ) {
    this.priorities = new PrioritySet(levels, options);
  }

  pick(ctx: PickContext<H> = {}): H | undefined {
    const set = this.priorities.choose(this.random, ctx.hash);
    if (set === undefined) return undefined;
    let lb = this.balancers.get(set.id);
    if (lb === undefined) {
      lb = createLoadBalancer(this.settings, set.hosts, this.random);
      this.balancers.set(set.id, lb);
    }
    return lb.pick(ctx);
  }
}
