import type { Random } from '../../core/random.js';
import type { LbHost } from './lb-host.js';

/**
 * Which host set a request goes to: Envoy's priority levels (priority load with the
 * overprovisioning factor, spilling to lower priorities as health drops), panic mode, and
 * locality-weighted choice inside a priority. The result names one of a fixed list of host sets
 * (`candidates()`), so the caller can keep one LoadBalancer per set id and rebuild them all
 * when it builds a new PrioritySet (on every EDS update or health/ejection change).
 *
 * Exports:
 *   type HostHealth = 'healthy' | 'degraded' | 'unhealthy'   (outlier-ejected => 'unhealthy')
 *   interface PriorityHost extends LbHost { health: HostHealth }
 *   interface LocalityHosts<H> { locality: string; weight: number; hosts: readonly H[] }
 *   interface PriorityOptions { overprovisioningFactor?: 140; panicThresholdPercent?: 50; localityWeighted?: false }
 *   interface HostSetChoice<H> { id; priority; kind: 'healthy'|'degraded'|'panic'; locality?; hosts }
 *   class PrioritySet<H>(levels: LocalityHosts<H>[][], options)
 *     .healthyLoad: number[]  .degradedLoad: number[]  (integer percents summing to 100)
 *     .panic: boolean[]
 *     .choose(random, hash?): HostSetChoice<H> | undefined   undefined: no host to send to
 *     .candidates(): HostSetChoice<H>[]
 *
 * `levels[p]` are the LocalityLbEndpoints of priority p. The overprovisioning factor is a
 * percent, as in ClusterLoadAssignment.policy.overprovisioning_factor; the panic threshold is
 * Cluster.common_lb_config.healthy_panic_threshold (0 disables panic). Locality weighting
 * follows common_lb_config.locality_weighted_lb_config.
 */
export type HostHealth = 'healthy' | 'degraded' | 'unhealthy';

export interface PriorityHost extends LbHost {
  readonly health: HostHealth;
}

export interface LocalityHosts<H> {
  locality: string;
  /** LocalityLbEndpoints.load_balancing_weight; 0 takes the locality out of weighted picks. */
  weight: number;
  hosts: readonly H[];
}

export interface PriorityOptions {
  overprovisioningFactor?: number;
  panicThresholdPercent?: number;
  localityWeighted?: boolean;
}

export interface HostSetChoice<H> {
  id: string;
  priority: number;
  kind: 'healthy' | 'degraded' | 'panic';
  locality?: string;
  hosts: readonly H[];
}

interface Level<H> {
  all: H[];
  healthy: HostSetChoice<H>;
  degraded: HostSetChoice<H>;
  panic: HostSetChoice<H>;
  healthyLocalities: { choice: HostSetChoice<H>; weight: number }[];
  degradedLocalities: { choice: HostSetChoice<H>; weight: number }[];
}

/** Distributes `total` percent over the levels by availability; returns what is left over. */
function distribute(load: number[], availability: number[], total: number, normalizedTotal: number): number {
  for (let i = 0; i < availability.length; i++) {
    const share = Math.min(total, Math.floor((availability[i]! * 100) / normalizedTotal));
    load[i] = share;
    total -= share;
  }
  return total;
}

export class PrioritySet<H extends PriorityHost> {
  readonly healthyLoad: number[];
  readonly degradedLoad: number[];
  readonly panic: boolean[];
  private readonly levels: Level<H>[];
  private readonly localityWeighted: boolean;

  constructor(levels: readonly (readonly LocalityHosts<H>[])[], options: PriorityOptions = {}) {
    const factor = options.overprovisioningFactor ?? 140;
    const panicThreshold = options.panicThresholdPercent ?? 50;
    this.localityWeighted = options.localityWeighted ?? false;
    this.levels = levels.map((localities, p) => this.buildLevel(localities, p, factor));
    const n = this.levels.length;
    const health = this.levels.map((l) => availability(l.healthy.hosts.length, l.all.length, factor));
    const degraded = this.levels.map((l) => availability(l.degraded.hosts.length, l.all.length, factor));
    const normalizedTotal = Math.min(
      100,
      health.reduce((a, b) => a + b, 0) + degraded.reduce((a, b) => a + b, 0),
    );
    this.healthyLoad = new Array<number>(n).fill(0);
    this.degradedLoad = new Array<number>(n).fill(0);
    this.panic = new Array<boolean>(n).fill(false);
    if (n === 0) return;
    if (normalizedTotal === 0) {
      this.healthyLoad[0] = 100;
    } else {
      const left = distribute(this.healthyLoad, health, 100, normalizedTotal);
      const rest = distribute(this.degradedLoad, degraded, left, normalizedTotal);
      // Rounding leftovers go to the first level with any availability, healthy first.
      const firstHealthy = health.findIndex((h) => h > 0);
      if (firstHealthy !== -1) this.healthyLoad[firstHealthy]! += rest;
      else this.degradedLoad[degraded.findIndex((d) => d > 0)]! += rest;
    }
    // Panic only when the levels together cannot carry all traffic (Envoy's rule).
    if (normalizedTotal < 100 && panicThreshold > 0) {
      this.levels.forEach((l, p) => {
        const pct =
          l.all.length === 0 ? 0 : ((l.healthy.hosts.length + l.degraded.hosts.length) * 100) / l.all.length;
        this.panic[p] = pct < panicThreshold;
      });
      if (this.panic.every(Boolean)) this.loadByHostCount();
    }
  }

  /** Total panic: every level is in panic, so load follows host counts, health ignored. */
  private loadByHostCount(): void {
    const total = this.levels.reduce((s, l) => s + l.all.length, 0);
    this.healthyLoad.fill(0);
    this.degradedLoad.fill(0);
    if (total === 0) {
      this.healthyLoad[0] = 100;
      return;
    }
    let left = 100;
    this.levels.forEach((l, p) => {
      const share = Math.min(left, Math.floor((l.all.length * 100) / total));
      this.healthyLoad[p] = share;
      left -= share;
    });
    this.healthyLoad[this.levels.findIndex((l) => l.all.length > 0)]! += left;
  }

  private buildLevel(localities: readonly LocalityHosts<H>[], p: number, factor: number): Level<H> {
    const all = localities.flatMap((l) => l.hosts);
    const of = (kind: HostHealth) => all.filter((h) => h.health === kind);
    const perLocality = (kind: 'healthy' | 'degraded') =>
      localities
        .map((l, i) => {
          const hosts = l.hosts.filter((h) => h.health === kind);
          const weight = l.weight * (availability(hosts.length, l.hosts.length, factor) / 100);
          const choice: HostSetChoice<H> = {
            id: `p${p}/${kind}/${i}`,
            priority: p,
            kind,
            locality: l.locality,
            hosts,
          };
          return { choice, weight };
        })
        .filter((x) => x.weight > 0);
    return {
      all,
      healthy: { id: `p${p}/healthy`, priority: p, kind: 'healthy', hosts: of('healthy') },
      degraded: { id: `p${p}/degraded`, priority: p, kind: 'degraded', hosts: of('degraded') },
      panic: { id: `p${p}/panic`, priority: p, kind: 'panic', hosts: all },
      healthyLocalities: perLocality('healthy'),
      degradedLocalities: perLocality('degraded'),
    };
  }

  candidates(): HostSetChoice<H>[] {
    return this.levels.flatMap((l) => [
      l.healthy,
      l.degraded,
      l.panic,
      ...l.healthyLocalities.map((x) => x.choice),
      ...l.degradedLocalities.map((x) => x.choice),
    ]);
  }

  /** A hash (from a hash policy) picks the priority as Envoy does, by hash mod 100. */
  choose(random: Random, hash?: bigint | number): HostSetChoice<H> | undefined {
    if (this.levels.length === 0) return undefined;
    const r =
      hash === undefined
        ? Math.floor(random() * 100)
        : Number(BigInt.asUintN(64, typeof hash === 'bigint' ? hash : BigInt(Math.trunc(hash))) % 100n);
    let acc = 0;
    for (let p = 0; p < this.levels.length; p++) {
      acc += this.healthyLoad[p]!;
      if (r < acc) return this.pickIn(p, 'healthy', random);
    }
    for (let p = 0; p < this.levels.length; p++) {
      acc += this.degradedLoad[p]!;
      if (r < acc) return this.pickIn(p, 'degraded', random);
    }
    return undefined;
  }

  private pickIn(p: number, kind: 'healthy' | 'degraded', random: Random): HostSetChoice<H> | undefined {
    const level = this.levels[p]!;
    if (this.panic[p]) return level.panic.hosts.length > 0 ? level.panic : undefined;
    if (this.localityWeighted) {
      const options = kind === 'healthy' ? level.healthyLocalities : level.degradedLocalities;
      const total = options.reduce((s, o) => s + o.weight, 0);
      let x = random() * total;
      for (const o of options) {
        x -= o.weight;
        if (x < 0) return o.choice;
      }
      return options[options.length - 1]?.choice;
    }
    const set = level[kind];
    return set.hosts.length > 0 ? set : undefined;
  }
}

/** Envoy's integer health score: percent available times the factor, capped at 100. */
function availability(count: number, total: number, factor: number): number {
  if (total === 0) return 0;
  return Math.min(100, Math.floor((count * factor) / total));
}
