/**
 * Keys known to be over their limit, remembered locally until their window ends or a token
 * returns (envoyproxy/ratelimit's local cache), so a hot rejected key costs no round trip.
 * Bounded: past `maxKeys` the oldest entry goes; expired entries go when looked up.
 */
export class OverLimitCache {
  private readonly until = new Map<string, number>();

  constructor(private readonly maxKeys = 100_000) {}

  /** Milliseconds the key stays over its limit, or 0 when it is not known to be. */
  remainingMs(key: string, now: number): number {
    const t = this.until.get(key);
    if (t === undefined) return 0;
    if (t > now) return t - now;
    this.until.delete(key);
    return 0;
  }

  add(key: string, until: number): void {
    this.until.delete(key);
    this.until.set(key, until);
    if (this.until.size > this.maxKeys) {
      const oldest = this.until.keys().next();
      if (!oldest.done) this.until.delete(oldest.value);
    }
  }

  get size(): number {
    return this.until.size;
  }

  clear(): void {
    this.until.clear();
  }
}
