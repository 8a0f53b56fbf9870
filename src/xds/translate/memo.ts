/**
 * Memoization for generators. A generator is a pure function of a key string that spells out
 * every input it reads (fingerprints of the resources, the proxy facets that matter); the memo
 * maps that key to the frozen output, so proxies that share a key share one generation.
 */
import { createHash } from 'node:crypto';

/** Bounded map: when full, the oldest insertion goes first (inputs are immutable, so any
 * evicted entry can be rebuilt identically). */
export class BoundedMemo<V> {
  private readonly entries = new Map<string, V>();
  hits = 0;
  misses = 0;

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.entries.size;
  }

  getOrBuild(key: string, build: () => V): V {
    const found = this.entries.get(key);
    if (found !== undefined) {
      this.hits++;
      return found;
    }
    this.misses++;
    const value = build();
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(key, value);
    return value;
  }
}

const fingerprints = new WeakMap<object, string>();

/**
 * A content fingerprint of a plain value. Config snapshots and service indexes reuse the same
 * (frozen) objects across versions, so the WeakMap makes this a one-time cost per object.
 */
export function fingerprint(value: object): string {
  let fp = fingerprints.get(value);
  if (fp === undefined) {
    fp = digest(JSON.stringify(value));
    // Only frozen objects are remembered: a mutable one could change under the same identity,
    // and a stale fingerprint would be a cache key that forgets an input.
    if (Object.isFrozen(value)) fingerprints.set(value, fp);
  }
  return fp;
}

export function digest(text: string): string {
  return createHash('sha1').update(text).digest('base64url').slice(0, 16);
}

/** Deep-freezes generator output so a shared result cannot be changed by one caller. */
export function freezeDeep<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    // Uint8Array views (packed Any values) cannot be frozen; they are never handed out mutable
    // on purpose, and encoding only reads them.
    if (ArrayBuffer.isView(value)) return value;
    if (value instanceof Map) {
      for (const v of value.values() as Iterable<unknown>) freezeDeep(v);
      return value;
    }
    Object.freeze(value);
    for (const v of Object.values(value as object)) freezeDeep(v);
  }
  return value;
}
