import type { Random } from '../../core/random.js';
import { hashOf, type LbHost, type LoadBalancer, type PickContext } from './lb-host.js';
import { xxHash64 } from './xxhash64.js';

/**
 * Envoy's MAGLEV: a lookup table of `tableSize` (prime) slots filled by each host walking its
 * own permutation (offset = xxHash64(address) mod M, skip = xxHash64(address, seed 1) mod
 * (M-1) + 1). Weighted as in Envoy: per round, the heaviest host claims a slot and lighter
 * hosts claim slots in proportion to their weight. A request takes slot hash mod M.
 */
export class MaglevLoadBalancer<H extends LbHost> implements LoadBalancer<H> {
  private readonly table: (H | undefined)[];

  constructor(
    readonly hosts: readonly H[],
    private readonly random: Random,
    private readonly tableSize: number,
  ) {
    this.table = new Array<H | undefined>(hosts.length === 0 ? 0 : tableSize);
    const live = hosts.filter((h) => h.weight > 0);
    if (live.length === 0) return;
    const m = BigInt(tableSize);
    const maxWeight = Math.max(...live.map((h) => h.weight));
    const walkers = live.map((host) => ({
      host,
      share: host.weight / maxWeight,
      credit: 0,
      pos: Number(xxHash64(host.address) % m),
      skip: Number(xxHash64(host.address, 1n) % (m - 1n)) + 1,
    }));
    let filled = 0;
    while (filled < tableSize) {
      for (const w of walkers) {
        if (filled >= tableSize) break;
        w.credit += w.share;
        if (w.credit < 1 - 1e-9) continue;
        w.credit -= 1;
        while (this.table[w.pos] !== undefined) w.pos = (w.pos + w.skip) % tableSize;
        this.table[w.pos] = w.host;
        w.pos = (w.pos + w.skip) % tableSize;
        filled++;
      }
    }
  }

  pick(ctx?: PickContext<H>): H | undefined {
    if (this.table.length === 0) return undefined;
    const slot = Number(hashOf(ctx, this.random) % BigInt(this.tableSize));
    const first = this.table[slot]!;
    const exclude = ctx?.exclude;
    if (exclude === undefined || !exclude.has(first)) return first;
    // Neighbouring slots belong to hosts in table order, close to a fresh draw.
    for (let i = 1; i < this.tableSize; i++) {
      const host = this.table[(slot + i) % this.tableSize]!;
      if (!exclude.has(host)) return host;
    }
    return first;
  }
}
