import type { Random } from '../../core/random.js';
import { firstAllowed, type LbHost, type LoadBalancer, type PickContext } from './lb-host.js';

/**
 * Envoy's LEAST_REQUEST. Equal weights: the power of `choiceCount` choices (sample that many
 * hosts at random, keep the one with fewest active requests). Unequal weights: each host's
 * weight is scaled by 1 / (active + 1)^bias at pick time. Envoy feeds those weights to an EDF
 * schedule; a weighted random draw gives the same long-run shares without per-host state.
 */
export class LeastRequestLoadBalancer<H extends LbHost> implements LoadBalancer<H> {
  private readonly weighted: boolean;

  constructor(
    readonly hosts: readonly H[],
    private readonly random: Random,
    private readonly choiceCount: number,
    private readonly bias: number,
  ) {
    const w0 = hosts[0]?.weight ?? 1;
    this.weighted = hosts.some((h) => h.weight !== w0);
  }

  pick(ctx?: PickContext<H>): H | undefined {
    const n = this.hosts.length;
    if (n === 0) return undefined;
    const exclude = ctx?.exclude;
    if (this.weighted) return firstAllowed(exclude, n * 2, () => this.weightedPick());
    let best: H | undefined;
    for (let i = 0; i < this.choiceCount; i++) {
      const c = firstAllowed(exclude, n, () => this.hosts[Math.floor(this.random() * n)]!);
      if (best === undefined || (c.activeRequests ?? 0) < (best.activeRequests ?? 0)) best = c;
    }
    return best;
  }

  private effectiveWeight(h: H): number {
    const active = h.activeRequests ?? 0;
    return this.bias === 0 ? h.weight : h.weight / Math.pow(active + 1, this.bias);
  }

  private weightedPick(): H {
    let total = 0;
    for (const h of this.hosts) total += this.effectiveWeight(h);
    let r = this.random() * total;
    for (const h of this.hosts) {
      r -= this.effectiveWeight(h);
      if (r < 0) return h;
    }
    return this.hosts[this.hosts.length - 1]!;
  }
}
