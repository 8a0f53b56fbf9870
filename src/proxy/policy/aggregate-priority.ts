import type { Random } from '../../core/random.js';
import { PrioritySet, type LocalityHosts, type PriorityHost, type PriorityOptions } from './locality.js';

/**
 * Which member of an aggregate cluster serves a request, as Envoy's aggregate load balancer
 * decides it: the members' priority levels are laid end to end (every level of the first
 * member, then the second's...) and one priority load is computed over them, so traffic stays
 * on the first member while it has healthy hosts and spills to the next as its health drops
 * below 100% of its overprovisioned capacity (all of it when none is healthy). The member then
 * picks the host with its own load balancer.
 *
 * Exports:
 *   class AggregatePriority<H>(members: levels per member, options)
 *     .choose(random, hash?): number | undefined   the member's index; undefined: no host anywhere
 *     .load: number[]   percent of traffic per member (healthy + degraded), for tests and admin
 */
export class AggregatePriority<H extends PriorityHost> {
  private readonly set: PrioritySet<H>;
  /** Member index of each combined priority level. */
  private readonly owner: number[] = [];
  readonly load: number[];

  constructor(members: readonly (readonly (readonly LocalityHosts<H>[])[])[], options: PriorityOptions = {}) {
    const levels: (readonly LocalityHosts<H>[])[] = [];
    members.forEach((memberLevels, m) => {
      for (const level of memberLevels) {
        levels.push(level);
        this.owner.push(m);
      }
    });
    this.set = new PrioritySet(levels, options);
    this.load = members.map(() => 0);
    this.owner.forEach((m, p) => {
      this.load[m]! += (this.set.healthyLoad[p] ?? 0) + (this.set.degradedLoad[p] ?? 0);
    });
  }

  choose(random: Random, hash?: bigint): number | undefined {
    const choice = this.set.choose(random, hash);
    return choice === undefined ? undefined : this.owner[choice.priority];
  }
}
