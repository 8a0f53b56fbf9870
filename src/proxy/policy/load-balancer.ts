import type { Random } from '../../core/random.js';
import type { LbHost, LoadBalancer } from './lb-host.js';
import { invalid, unsupported, unwrap, type Wrapped } from './proto-values.js';
import { LeastRequestLoadBalancer } from './lb-least-request.js';
import { MaglevLoadBalancer } from './lb-maglev.js';
import { RandomLoadBalancer } from './lb-random.js';
import { RingHashLoadBalancer } from './lb-ring-hash.js';
import { RoundRobinLoadBalancer } from './lb-round-robin.js';

export { randomHash, type LbHost, type LoadBalancer, type PickContext } from './lb-host.js';

/**
 * Load balancers over one host set (one priority, or one locality of it: see locality.ts for
 * choosing the set). A balancer is built for a fixed list of hosts; when membership or weights
 * change, build a new one (ring hash and maglev precompute their tables).
 *
 * Exports:
 *   interface LbHost { address: string; weight: number; activeRequests?: number }
 *   interface PickContext<H> { hash?: bigint | number; exclude?: ReadonlySet<H> }
 *   interface LoadBalancer<H> { readonly hosts: readonly H[]; pick(ctx?): H | undefined }
 *   type LbSettings   validated lb_policy + its config, from compileLbSettings
 *   compileLbSettings(cluster: ClusterLbConfig, path = 'cluster'): LbSettings   throws on bad input
 *   createLoadBalancer<H>(settings, hosts, random): LoadBalancer<H>
 *   randomHash(random): bigint     a 64-bit hash for hash-based balancers when the request has none
 *
 * `exclude` (retry host predicate previous_hosts) is best effort, as in Envoy: when every host
 * is excluded, the pick ignores it. `pick` returns undefined only for an empty host list.
 */
export type LbSettings =
  | { policy: 'ROUND_ROBIN' }
  | { policy: 'RANDOM' }
  | { policy: 'LEAST_REQUEST'; choiceCount: number; activeRequestBias: number }
  | { policy: 'RING_HASH'; minimumRingSize: number; maximumRingSize: number }
  | { policy: 'MAGLEV'; tableSize: number };

/** The Cluster fields that choose and tune the balancer, as decoded. */
export interface ClusterLbConfig {
  lb_policy?: string | number | null;
  ring_hash_lb_config?: {
    minimum_ring_size?: Wrapped<number>;
    maximum_ring_size?: Wrapped<number>;
    hash_function?: string | number | null;
  } | null;
  maglev_lb_config?: { table_size?: Wrapped<number> } | null;
  least_request_lb_config?: {
    choice_count?: Wrapped<number>;
    active_request_bias?: { default_value?: number | null; runtime_key?: string } | null;
  } | null;
  load_balancing_policy?: unknown;
}

const POLICY_BY_NUMBER = [
  'ROUND_ROBIN',
  'LEAST_REQUEST',
  '',
  'RING_HASH',
  'RANDOM',
  'MAGLEV',
  'CLUSTER_PROVIDED',
];
const MAX_RING_SIZE = 8_388_608;

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

export function compileLbSettings(cluster: ClusterLbConfig, path = 'cluster'): LbSettings {
  if (cluster.load_balancing_policy !== undefined && cluster.load_balancing_policy !== null) {
    throw unsupported(
      `${path}.load_balancing_policy`,
      'typed load_balancing_policy is not supported; use lb_policy',
    );
  }
  const raw = cluster.lb_policy ?? 'ROUND_ROBIN';
  const policy = typeof raw === 'number' ? POLICY_BY_NUMBER[raw] : raw;
  switch (policy) {
    case 'ROUND_ROBIN':
    case 'RANDOM':
      return { policy };
    case 'LEAST_REQUEST': {
      const c = cluster.least_request_lb_config ?? {};
      const choiceCount = unwrap(c.choice_count, 2);
      if (choiceCount < 2)
        throw invalid(`${path}.least_request_lb_config.choice_count`, 'must be at least 2');
      const bias = c.active_request_bias?.default_value ?? 1;
      if (bias < 0)
        throw invalid(`${path}.least_request_lb_config.active_request_bias`, 'must not be negative');
      return { policy, choiceCount, activeRequestBias: bias };
    }
    case 'RING_HASH': {
      const c = cluster.ring_hash_lb_config ?? {};
      const p = `${path}.ring_hash_lb_config`;
      const fn = c.hash_function ?? 'XX_HASH';
      if (fn !== 'XX_HASH' && fn !== 0) throw unsupported(`${p}.hash_function`, 'only XX_HASH is supported');
      const minimumRingSize = unwrap(c.minimum_ring_size, 1024);
      const maximumRingSize = unwrap(c.maximum_ring_size, MAX_RING_SIZE);
      if (maximumRingSize > MAX_RING_SIZE)
        throw invalid(`${p}.maximum_ring_size`, `must be at most ${MAX_RING_SIZE}`);
      if (minimumRingSize < 1) throw invalid(`${p}.minimum_ring_size`, 'must be at least 1');
      if (minimumRingSize > maximumRingSize) {
        throw invalid(`${p}.minimum_ring_size`, 'must not be greater than maximum_ring_size');
      }
      return { policy, minimumRingSize, maximumRingSize };
    }
    case 'MAGLEV': {
      const tableSize = unwrap(cluster.maglev_lb_config?.table_size, 65537);
      if (!isPrime(tableSize) || tableSize > 5_000_011) {
        throw invalid(
          `${path}.maglev_lb_config.table_size`,
          'must be a prime number no greater than 5000011',
        );
      }
      return { policy, tableSize };
    }
    default:
      throw unsupported(`${path}.lb_policy`, `lb_policy ${JSON.stringify(raw)} is not supported`);
  }
}

export function createLoadBalancer<H extends LbHost>(
  settings: LbSettings,
  hosts: readonly H[],
  random: Random,
): LoadBalancer<H> {
  switch (settings.policy) {
    case 'ROUND_ROBIN':
      return new RoundRobinLoadBalancer(hosts, random);
    case 'RANDOM':
      return new RandomLoadBalancer(hosts, random);
    case 'LEAST_REQUEST':
      return new LeastRequestLoadBalancer(hosts, random, settings.choiceCount, settings.activeRequestBias);
    case 'RING_HASH':
      return new RingHashLoadBalancer(hosts, random, settings.minimumRingSize, settings.maximumRingSize);
    case 'MAGLEV':
      return new MaglevLoadBalancer(hosts, random, settings.tableSize);
  }
}
