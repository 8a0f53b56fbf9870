/**
 * Seeded choices for the codec fuzzer: every case is a pure function of (seed, case number), so
 * a failing case replays exactly with the same FUZZ_SEED.
 */
import { seededRandom, type Random } from '../../src/core/random.js';

export class Dice {
  private readonly next: Random;

  constructor(seed: number) {
    this.next = seededRandom(seed);
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length - 1)]!;
  }

  /** Cuts `total` bytes into 1..maxParts ascending cut points (random write boundaries). */
  cuts(total: number, maxParts: number): number[] {
    const n = Math.min(this.int(0, maxParts - 1), Math.max(0, total - 1));
    const set = new Set<number>();
    for (let i = 0; i < n; i++) set.add(this.int(1, total - 1));
    return [...set].sort((a, b) => a - b);
  }
}

/** A per-case seed derived from the run seed, so cases do not shift when one changes. */
export function caseSeed(seed: number, kind: string, n: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const ch of `${kind}:${n}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}
