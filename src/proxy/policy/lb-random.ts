import type { Random } from '../../core/random.js';
import { firstAllowed, type LbHost, type LoadBalancer, type PickContext } from './lb-host.js';

/** Envoy's RANDOM policy: a uniform pick that ignores weights. */
export class RandomLoadBalancer<H extends LbHost> implements LoadBalancer<H> {
  constructor(
    readonly hosts: readonly H[],
    private readonly random: Random,
  ) {}

  pick(ctx?: PickContext<H>): H | undefined {
    const n = this.hosts.length;
    if (n === 0) return undefined;
    return firstAllowed(ctx?.exclude, n * 2, () => this.hosts[Math.floor(this.random() * n)]!);
  }
}
