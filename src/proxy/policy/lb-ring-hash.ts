import type { Random } from '../../core/random.js';
import { hashOf, type LbHost, type LoadBalancer, type PickContext } from './lb-host.js';
import { xxHash64 } from './xxhash64.js';

/**
 * Envoy's RING_HASH (Ketama-style consistent hashing). Each host gets ring entries in
 * proportion to its weight, hashed as xxHash64("<address>_<n>"); the ring has at least
 * minimumRingSize entries (scaled so the lightest host still gets whole entries) and at most
 * maximumRingSize. A request goes to the first entry at or after its hash, wrapping around.
 * Removing a host only moves the keys that landed on its entries.
 */
export class RingHashLoadBalancer<H extends LbHost> implements LoadBalancer<H> {
  private readonly ringHashes: BigUint64Array;
  private readonly ringHosts: H[];

  constructor(
    readonly hosts: readonly H[],
    private readonly random: Random,
    minimumRingSize: number,
    maximumRingSize: number,
  ) {
    const entries: { hash: bigint; host: H }[] = [];
    const total = hosts.reduce((s, h) => s + Math.max(0, h.weight), 0);
    if (hosts.length > 0 && total > 0) {
      const normalized = hosts.map((h) => Math.max(0, h.weight) / total);
      const minNorm = Math.min(...normalized.filter((w) => w > 0));
      const scale = Math.min(Math.ceil(minNorm * minimumRingSize) / minNorm, maximumRingSize);
      let target = 0;
      let current = 0;
      hosts.forEach((host, i) => {
        target += scale * normalized[i]!;
        for (let n = 0; current < target; n++, current++) {
          entries.push({ hash: xxHash64(`${host.address}_${n}`), host });
        }
      });
    }
    entries.sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0));
    this.ringHashes = BigUint64Array.from(entries.map((e) => e.hash));
    this.ringHosts = entries.map((e) => e.host);
  }

  get ringSize(): number {
    return this.ringHosts.length;
  }

  pick(ctx?: PickContext<H>): H | undefined {
    const size = this.ringHosts.length;
    if (size === 0) return undefined;
    const h = hashOf(ctx, this.random);
    let lo = 0;
    let hi = size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ringHashes[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    const start = lo === size ? 0 : lo;
    const first = this.ringHosts[start]!;
    const exclude = ctx?.exclude;
    if (exclude === undefined || !exclude.has(first)) return first;
    // A retry that must avoid a host walks on around the ring to the next allowed one.
    for (let i = 1; i < size; i++) {
      const host = this.ringHosts[(start + i) % size]!;
      if (!exclude.has(host)) return host;
    }
    return first;
  }
}
