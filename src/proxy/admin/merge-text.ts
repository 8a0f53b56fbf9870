/**
 * /clusters and the cluster lines of /stats of several processes as one (the primary of `trellis
 * proxy --concurrency N` answers with its workers' views merged). Each worker holds its own
 * cluster state, as Envoy's worker threads hold their own connection pools:
 * - /clusters (`cluster::host::field::value`): rq_active is summed; health_flags are the union
 *   (a host one worker ejected shows failed_outlier_check); configured values (max_*, weight)
 *   are the same everywhere and are taken from the first worker that has the line;
 * - /stats (`cluster.NAME.stat: value`): counters, overflows and ejections are summed;
 *   membership_total and membership_healthy are the least over the workers.
 * Lines keep the first worker's order; a line only a later worker has follows.
 */

export function mergeClustersText(texts: readonly string[]): string {
  const merged = new Map<string, string>();
  for (const text of texts) {
    for (const line of lines(text)) {
      const cut = line.lastIndexOf('::');
      if (cut < 0) continue;
      const key = line.slice(0, cut);
      const value = line.slice(cut + 2);
      const prev = merged.get(key);
      if (prev === undefined) {
        merged.set(key, value);
        continue;
      }
      if (key.endsWith('::rq_active')) merged.set(key, String(Number(prev) + Number(value)));
      else if (key.endsWith('::health_flags')) merged.set(key, unionFlags(prev, value));
    }
  }
  return joined([...merged].map(([k, v]) => `${k}::${v}`));
}

export function mergeClusterStatsText(texts: readonly string[]): string {
  const merged = new Map<string, number>();
  for (const text of texts) {
    for (const line of lines(text)) {
      const cut = line.lastIndexOf(': ');
      if (cut < 0) continue;
      const key = line.slice(0, cut);
      const value = Number(line.slice(cut + 2));
      const prev = merged.get(key);
      if (prev === undefined) merged.set(key, value);
      else if (key.endsWith('.membership_total') || key.endsWith('.membership_healthy'))
        merged.set(key, Math.min(prev, value));
      else merged.set(key, prev + value);
    }
  }
  return joined([...merged].map(([k, v]) => `${k}: ${v}`));
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

function joined(out: string[]): string {
  return out.join('\n') + (out.length ? '\n' : '');
}

/** `healthy` or `/failed_eds_health/failed_outlier_check`, as clustersText prints them. */
function unionFlags(a: string, b: string): string {
  const flags = new Set<string>();
  for (const v of [a, b]) for (const f of v.split('/')) if (f !== '' && f !== 'healthy') flags.add(f);
  return flags.size === 0 ? 'healthy' : [...flags].map((f) => `/${f}`).join('');
}
