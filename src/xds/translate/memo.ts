/**
 * Memoization for generators. A generator is a pure function of a key string that spells out
 * every input it reads (fingerprints of the resources, the proxy facets that matter); the memo
 * maps that key to the frozen output, so proxies that share a key share one generation.
 */
import { createHash } from 'node:crypto';

interface Entry<V> {
  value: V;
  /** Generation (push number) in which the entry was last read or written. */
  used: number;
}

/**
 * Bounded memo shared by a chain of push contexts. Keys name every input, so an entry built
 * for one push is valid for any later push that computes the same key. Least recently used
 * entries go first when full, and `advance()` (one call per new push context) drops entries no
 * push read since the one before: what proxies stopped asking for does not linger.
 */
export class BoundedMemo<V> {
  /** Least recently used first (by generation). */
  private readonly entries = new Map<string, Entry<V>>();
  private generation = 0;
  hits = 0;
  misses = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.entries.size;
  }

  getOrBuild(key: string, build: () => V): V {
    const found = this.entries.get(key);
    if (found !== undefined) {
      this.hits++;
      // Recency at the granularity of a push: an entry moves to the back once per generation,
      // which keeps the map ordered by `used` at a fraction of a move per hit.
      if (found.used !== this.generation) {
        found.used = this.generation;
        this.entries.delete(key);
        this.entries.set(key, found);
      }
      return found.value;
    }
    this.misses++;
    const value = build();
    // `build` may have filled the memo itself (nested lookups); make room after it ran.
    while (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, used: this.generation });
    return value;
  }

  /**
   * Starts a new generation and evicts what neither the previous generation nor the current
   * one used. The map is in least-recently-used order, so this stops at the first survivor.
   */
  advance(): void {
    const keep = this.generation;
    this.generation++;
    for (const [key, entry] of this.entries) {
      if (entry.used >= keep) break;
      this.entries.delete(key);
    }
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
