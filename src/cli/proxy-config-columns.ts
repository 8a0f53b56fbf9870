/**
 * `trellis get proxyconfigs -o wide`: a ProxyConfig takes effect when a proxy starts, so the
 * table says so and names the connected proxies it applies to that run an older one (from
 * /debug/syncz, which compares what each proxy started with to what it would start with now).
 */
import type { Resource } from '../api/resource.js';
import type { ConnectedProxy } from './connected-proxies.js';
import { shortName } from './proxy-names.js';

export interface ExtraColumns {
  headers: readonly string[];
  cells(r: Resource): readonly string[];
}

export function proxyConfigColumns(proxies: readonly ConnectedProxy[]): ExtraColumns {
  return {
    headers: ['APPLIED', 'RESTART TO APPLY'],
    cells: (r) => {
      const key = `${r.metadata.namespace}/${r.metadata.name}`;
      const stale = proxies
        .filter((p) => p.proxyConfig?.inEffect === false && p.proxyConfig.sources.includes(key))
        .map((p) => shortName(p))
        .sort();
      return ['at proxy start', stale.length > 0 ? stale.join(',') : '-'];
    },
  };
}
