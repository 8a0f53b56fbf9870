import type { ProxyConfigSnapshot } from '../../proxy/model/config.js';

/**
 * Whether every proxy that knows a cluster has at least the expected number of endpoints in
 * it: `up` says the mesh is ready only then, since registrations reach the proxies through a
 * (debounced) push. A proxy without the cluster (scoped out) does not count.
 */
export function proxiesHaveEndpoints(
  snapshots: readonly ProxyConfigSnapshot[],
  expected: ReadonlyMap<string, number>,
): boolean {
  return snapshots.every((snap) =>
    [...expected].every(([cluster, n]) => {
      if (!snap.clusters.has(cluster)) return true;
      const eps = snap.endpoints.get(cluster)?.localities.flatMap((l) => l.endpoints) ?? [];
      return eps.length >= n;
    }),
  );
}
