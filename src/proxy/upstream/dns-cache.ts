/**
 * The dynamic forward proxy's DNS cache (Envoy's DnsCacheImpl, reduced): one per cache name,
 * shared by the clusters and filters that name it. A host's answer is reused for the refresh
 * rate, then looked up again when next asked for; a host unused for host_ttl is forgotten; at
 * most max_hosts are kept; at most max_pending_requests lookups wait at once (more is an
 * overflow, as Envoy's dns_cache_circuit_breaker); a lookup slower than dns_query_timeout fails.
 * Concurrent requests for one host share its lookup. Failures are not kept: the next request
 * asks again (bounded by the same limits).
 */
import dns from 'node:dns';
import net from 'node:net';
import type { Clock } from '../../core/clock.js';
import type { DnsCacheSettings } from '../model/config.js';

/** Resolves a name to addresses, preferred first; throws (with a `code`) when it cannot. */
export type HostLookup = (host: string, family: DnsCacheSettings['family']) => Promise<string[]>;

export type DnsResult =
  | { kind: 'resolved'; address: string }
  /** The name did not resolve (or took longer than dns_query_timeout): Envoy's DF, 503. */
  | { kind: 'failed'; detail: string }
  /** Too many lookups in flight (dns_cache_circuit_breaker): 503 UO. */
  | { kind: 'pending-overflow' }
  /** max_hosts names are cached and this is another one: 503. */
  | { kind: 'host-overflow' };

interface Entry {
  addresses: string[];
  resolvedAt: number;
  lastUsed: number;
}

/** getaddrinfo, as Envoy's default resolver would answer, in the family's preference order. */
export const systemLookup: HostLookup = async (host, family) => {
  const answers = await dns.promises.lookup(host, {
    all: true,
    family: family === 'V4_ONLY' ? 4 : family === 'V6_ONLY' ? 6 : 0,
  });
  return orderAddresses(
    answers.map((a) => a.address),
    family,
  );
};

/** AUTO prefers IPv6 (Envoy), V4_PREFERRED IPv4; ALL keeps the resolver's order. */
export function orderAddresses(addresses: readonly string[], family: DnsCacheSettings['family']): string[] {
  const v4 = addresses.filter((a) => net.isIPv4(a));
  const v6 = addresses.filter((a) => net.isIPv6(a));
  switch (family) {
    case 'V4_ONLY':
      return v4;
    case 'V6_ONLY':
      return v6;
    case 'AUTO':
      return v6.length > 0 ? v6 : v4;
    case 'V4_PREFERRED':
      return v4.length > 0 ? v4 : v6;
    case 'ALL':
      return [...addresses];
  }
}

export class DnsCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<DnsResult>>();

  constructor(
    public settings: DnsCacheSettings,
    private readonly clock: Clock,
    private readonly lookup: HostLookup = systemLookup,
  ) {}

  /** Names cached now (after forgetting those unused for host_ttl). */
  get size(): number {
    this.expire();
    return this.entries.size;
  }

  /** Lookups waiting for an answer. */
  get pending(): number {
    return this.inFlight.size;
  }

  async resolve(host: string): Promise<DnsResult> {
    const name = host.toLowerCase();
    // Addresses need no lookup (Envoy's cache answers them at once too).
    if (net.isIP(name.replace(/^\[|\]$/g, '')) !== 0)
      return { kind: 'resolved', address: name.replace(/^\[|\]$/g, '') };
    const now = this.clock.now();
    this.expire();
    const entry = this.entries.get(name);
    if (entry !== undefined && now - entry.resolvedAt < this.settings.refreshMs) {
      entry.lastUsed = now;
      return { kind: 'resolved', address: entry.addresses[0]! };
    }
    const joined = this.inFlight.get(name);
    if (joined !== undefined) return joined;
    if (entry === undefined && this.entries.size >= this.settings.maxHosts) return { kind: 'host-overflow' };
    if (this.inFlight.size >= this.settings.maxPending) return { kind: 'pending-overflow' };
    const lookup = this.lookupOnce(name).finally(() => this.inFlight.delete(name));
    this.inFlight.set(name, lookup);
    return lookup;
  }

  private async lookupOnce(name: string): Promise<DnsResult> {
    let timer: { cancel(): void } | undefined;
    const timeout = new Promise<DnsResult>((resolve) => {
      timer = this.clock.setTimeout(
        () => resolve({ kind: 'failed', detail: `no answer within ${this.settings.queryTimeoutMs}ms` }),
        this.settings.queryTimeoutMs,
      );
    });
    const answer = this.lookup(name, this.settings.family).then(
      (addresses): DnsResult => {
        if (addresses.length === 0)
          return { kind: 'failed', detail: 'no addresses of the configured family' };
        const now = this.clock.now();
        if (this.entries.has(name) || this.entries.size < this.settings.maxHosts)
          this.entries.set(name, { addresses, resolvedAt: now, lastUsed: now });
        return { kind: 'resolved', address: addresses[0]! };
      },
      (err: NodeJS.ErrnoException): DnsResult => {
        // A name that no longer resolves is not served from its old answer.
        this.entries.delete(name);
        return { kind: 'failed', detail: err.code ?? err.message };
      },
    );
    try {
      return await Promise.race([answer, timeout]);
    } finally {
      timer?.cancel();
    }
  }

  private expire(): void {
    const now = this.clock.now();
    for (const [name, e] of this.entries)
      if (now - e.lastUsed >= this.settings.hostTtlMs) this.entries.delete(name);
  }
}

/** The caches of one proxy by name; a config with new settings updates the cache in place. */
export class DnsCaches {
  private readonly byName = new Map<string, DnsCache>();

  constructor(
    private readonly clock: Clock,
    private readonly lookup: HostLookup = systemLookup,
  ) {}

  get(settings: DnsCacheSettings): DnsCache {
    let cache = this.byName.get(settings.name);
    if (cache === undefined) {
      cache = new DnsCache(settings, this.clock, this.lookup);
      this.byName.set(settings.name, cache);
    } else if (cache.settings !== settings) {
      cache.settings = settings;
    }
    return cache;
  }
}
