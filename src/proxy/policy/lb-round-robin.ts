import type { Random } from '../../core/random.js';
import { firstAllowed, type LbHost, type LoadBalancer, type PickContext } from './lb-host.js';

interface Entry<H> {
  host: H;
  /** Deadline step: each pick of this host moves its deadline 1/weight further. */
  step: number;
  deadline: number;
  order: number;
}

/**
 * Envoy's ROUND_ROBIN: plain rotation when all weights are equal, otherwise an earliest
 * deadline first schedule in which a host of weight w is picked w times as often, spread evenly.
 * The start is randomised so that many proxies do not send their first requests to the same
 * host, as Envoy does.
 */
export class RoundRobinLoadBalancer<H extends LbHost> implements LoadBalancer<H> {
  private index: number;
  private readonly heap: Entry<H>[] = [];
  private readonly weighted: boolean;

  constructor(
    readonly hosts: readonly H[],
    random: Random,
  ) {
    this.index = Math.floor(random() * Math.max(1, hosts.length));
    const w0 = hosts[0]?.weight ?? 1;
    this.weighted = hosts.some((h) => h.weight !== w0);
    if (this.weighted) {
      hosts.forEach((host, order) => {
        const step = 1 / Math.max(1, host.weight);
        this.push({ host, step, deadline: step, order });
      });
      for (let i = 0; i < this.index; i++) this.next();
    }
  }

  pick(ctx?: PickContext<H>): H | undefined {
    if (this.hosts.length === 0) return undefined;
    return firstAllowed(ctx?.exclude, this.hosts.length * 2, () => this.next());
  }

  private next(): H {
    if (!this.weighted) {
      const h = this.hosts[this.index % this.hosts.length]!;
      this.index = (this.index + 1) % this.hosts.length;
      return h;
    }
    const top = this.heap[0]!;
    this.popTop();
    this.push({ ...top, deadline: top.deadline + top.step });
    return top.host;
  }

  private less(a: Entry<H>, b: Entry<H>): boolean {
    return a.deadline < b.deadline || (a.deadline === b.deadline && a.order < b.order);
  }

  private push(e: Entry<H>): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private popTop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}
