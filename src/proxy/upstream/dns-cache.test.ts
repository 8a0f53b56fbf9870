import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../core/clock.js';
import type { DnsCacheSettings } from '../model/config.js';
import { DnsCache, DnsCaches, orderAddresses, systemLookup, type HostLookup } from './dns-cache.js';

const SETTINGS: DnsCacheSettings = {
  name: 'c',
  family: 'V4_PREFERRED',
  refreshMs: 60_000,
  hostTtlMs: 300_000,
  maxHosts: 3,
  maxPending: 2,
  queryTimeoutMs: 5_000,
};

/** A resolver whose answers the test releases; records every lookup. */
function resolver() {
  const asked: string[] = [];
  const waiting = new Map<string, ((a: string[] | Error) => void)[]>();
  const lookup: HostLookup = (host) => {
    asked.push(host);
    return new Promise<string[]>((resolve, reject) => {
      const list = waiting.get(host) ?? [];
      list.push((a) => (a instanceof Error ? reject(a) : resolve(a)));
      waiting.set(host, list);
    });
  };
  const answer = (host: string, a: string[] | Error) => {
    for (const f of waiting.get(host) ?? []) f(a);
    waiting.delete(host);
  };
  return { asked, lookup, answer };
}

const notFound = () => Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });

test('an answer is reused until the refresh rate, then looked up again; concurrent requests share one lookup', async () => {
  const clock = new FakeClock(0);
  const r = resolver();
  const cache = new DnsCache(SETTINGS, clock, r.lookup);
  const a = cache.resolve('api.example');
  const b = cache.resolve('API.example');
  assert.equal(cache.pending, 1);
  r.answer('api.example', ['10.0.0.1']);
  assert.deepEqual(await a, { kind: 'resolved', address: '10.0.0.1' });
  assert.deepEqual(await b, { kind: 'resolved', address: '10.0.0.1' });
  clock.advance(59_999);
  assert.deepEqual(await cache.resolve('api.example'), { kind: 'resolved', address: '10.0.0.1' });
  assert.deepEqual(r.asked, ['api.example']);
  clock.advance(1);
  const again = cache.resolve('api.example');
  r.answer('api.example', ['10.0.0.2']);
  assert.deepEqual(await again, { kind: 'resolved', address: '10.0.0.2' });
  assert.deepEqual(r.asked, ['api.example', 'api.example']);
});

test('hosts unused for host_ttl are forgotten; at most max_hosts are kept', async () => {
  const clock = new FakeClock(0);
  const r = resolver();
  const cache = new DnsCache({ ...SETTINGS, hostTtlMs: 1000, refreshMs: 10_000 }, clock, r.lookup);
  for (const h of ['a.example', 'b.example', 'c.example']) {
    const p = cache.resolve(h);
    r.answer(h, ['10.0.0.1']);
    assert.equal((await p).kind, 'resolved');
  }
  assert.equal(cache.size, 3);
  // A fourth name does not fit; known names still resolve from the cache.
  assert.deepEqual(await cache.resolve('d.example'), { kind: 'host-overflow' });
  assert.equal((await cache.resolve('a.example')).kind, 'resolved');
  clock.advance(999);
  assert.equal(cache.size, 3);
  clock.advance(1);
  // All three were last used at time 0: after host_ttl they are gone.
  assert.equal(cache.size, 0);
  const d = cache.resolve('d.example');
  r.answer('d.example', ['10.0.0.4']);
  assert.equal((await d).kind, 'resolved');
});

test('use keeps a host: one used within host_ttl stays while the others go', async () => {
  const clock = new FakeClock(0);
  const r = resolver();
  const cache = new DnsCache({ ...SETTINGS, hostTtlMs: 1000, refreshMs: 10_000 }, clock, r.lookup);
  for (const h of ['a.example', 'b.example']) {
    const p = cache.resolve(h);
    r.answer(h, ['10.0.0.1']);
    await p;
  }
  clock.advance(600);
  await cache.resolve('a.example');
  clock.advance(600);
  assert.equal(cache.size, 1);
  assert.deepEqual(r.asked, ['a.example', 'b.example']);
});

test('lookups in flight are bounded by max_pending_requests (Envoy: dns_cache_circuit_breaker)', async () => {
  const clock = new FakeClock(0);
  const r = resolver();
  const cache = new DnsCache(SETTINGS, clock, r.lookup);
  const a = cache.resolve('a.example');
  const b = cache.resolve('b.example');
  assert.deepEqual(await cache.resolve('c.example'), { kind: 'pending-overflow' });
  // A name already being looked up joins it rather than overflowing.
  const a2 = cache.resolve('a.example');
  r.answer('a.example', ['10.0.0.1']);
  r.answer('b.example', notFound());
  assert.equal((await a).kind, 'resolved');
  assert.equal((await a2).kind, 'resolved');
  assert.deepEqual(await b, { kind: 'failed', detail: 'ENOTFOUND' });
  assert.equal(cache.pending, 0);
  const c = cache.resolve('c.example');
  r.answer('c.example', ['10.0.0.3']);
  assert.equal((await c).kind, 'resolved');
});

test('a lookup slower than dns_query_timeout fails; failures are not cached', async () => {
  const clock = new FakeClock(0);
  const r = resolver();
  const cache = new DnsCache(SETTINGS, clock, r.lookup);
  const slow = cache.resolve('slow.example');
  clock.advance(5_000);
  assert.deepEqual(await slow, { kind: 'failed', detail: 'no answer within 5000ms' });
  assert.equal(cache.pending, 0);
  assert.equal(clock.pendingTimers(), 0);
  const again = cache.resolve('slow.example');
  r.answer('slow.example', ['10.0.0.9']);
  assert.deepEqual(await again, { kind: 'resolved', address: '10.0.0.9' });
  // A name that stops resolving is not answered from its old address after the refresh.
  clock.advance(60_000);
  const gone = cache.resolve('slow.example');
  r.answer('slow.example', notFound());
  assert.equal((await gone).kind, 'failed');
  assert.equal(cache.size, 0);
});

test('addresses need no lookup; an empty answer is a failure', async () => {
  const r = resolver();
  const cache = new DnsCache(SETTINGS, new FakeClock(0), r.lookup);
  assert.deepEqual(await cache.resolve('10.1.2.3'), { kind: 'resolved', address: '10.1.2.3' });
  assert.deepEqual(await cache.resolve('[::1]'), { kind: 'resolved', address: '::1' });
  assert.deepEqual(r.asked, []);
  const empty = cache.resolve('v6only.example');
  r.answer('v6only.example', []);
  assert.equal((await empty).kind, 'failed');
});

test('address order follows dns_lookup_family', () => {
  const mixed = ['2001:db8::1', '10.0.0.1', '10.0.0.2'];
  assert.deepEqual(orderAddresses(mixed, 'V4_ONLY'), ['10.0.0.1', '10.0.0.2']);
  assert.deepEqual(orderAddresses(mixed, 'V6_ONLY'), ['2001:db8::1']);
  assert.deepEqual(orderAddresses(mixed, 'AUTO'), ['2001:db8::1']);
  assert.deepEqual(orderAddresses(['10.0.0.1'], 'AUTO'), ['10.0.0.1']);
  assert.deepEqual(orderAddresses(mixed, 'V4_PREFERRED'), ['10.0.0.1', '10.0.0.2']);
  assert.deepEqual(orderAddresses(['2001:db8::1'], 'V4_PREFERRED'), ['2001:db8::1']);
  assert.deepEqual(orderAddresses(mixed, 'ALL'), mixed);
});

test('caches are shared by name; new settings apply to the same cache', () => {
  const caches = new DnsCaches(new FakeClock(0), resolver().lookup);
  const one = caches.get(SETTINGS);
  const changed = { ...SETTINGS, maxPending: 9 };
  assert.equal(caches.get(changed), one);
  assert.equal(one.settings.maxPending, 9);
  assert.notEqual(caches.get({ ...SETTINGS, name: 'other' }), one);
});

test('refreshing a known host is not an overflow; a full cache does not keep a racing second host', async () => {
  // A clock far from 0, so ages are differences, not absolute times.
  const clock = new FakeClock(1_000_000);
  const r = resolver();
  const cache = new DnsCache({ ...SETTINGS, maxHosts: 1 }, clock, r.lookup);
  const first = cache.resolve('a.example');
  r.answer('a.example', ['10.0.0.1']);
  await first;
  clock.advance(59_999);
  assert.deepEqual(await cache.resolve('a.example'), { kind: 'resolved', address: '10.0.0.1' });
  assert.deepEqual(r.asked, ['a.example'], 'fresh for the refresh rate, whatever the clock reads');
  clock.advance(1);
  const refresh = cache.resolve('a.example');
  r.answer('a.example', ['10.0.0.2']);
  assert.deepEqual(await refresh, { kind: 'resolved', address: '10.0.0.2' });
  assert.equal(clock.pendingTimers(), 0, 'the query timeout is cancelled once answered');
  // Two new hosts looked up at once into an empty cache with room for one: one is kept.
  const small = new DnsCache({ ...SETTINGS, maxHosts: 1 }, clock, r.lookup);
  const b = small.resolve('b.example');
  const c = small.resolve('c.example');
  r.answer('b.example', ['10.0.0.2']);
  r.answer('c.example', ['10.0.0.3']);
  assert.equal((await b).kind, 'resolved');
  assert.equal((await c).kind, 'resolved', 'answered, though not kept');
  assert.equal(small.size, 1);
});

test('failure details: the resolver code, else its message; an empty answer says so', async () => {
  const r = resolver();
  const cache = new DnsCache(SETTINGS, new FakeClock(0), r.lookup);
  const noCode = cache.resolve('a.example');
  r.answer('a.example', new Error('resolver exploded'));
  assert.deepEqual(await noCode, { kind: 'failed', detail: 'resolver exploded' });
  const empty = cache.resolve('b.example');
  r.answer('b.example', []);
  assert.deepEqual(await empty, { kind: 'failed', detail: 'no addresses of the configured family' });
});

test('V6_ONLY keeps no IPv4 address; the system resolver answers localhost', async () => {
  assert.deepEqual(orderAddresses(['10.0.0.1'], 'V6_ONLY'), []);
  assert.ok((await systemLookup('localhost', 'V4_ONLY')).includes('127.0.0.1'));
  assert.ok((await systemLookup('localhost', 'ALL')).length > 0);
});
