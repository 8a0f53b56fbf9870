/**
 * A Router owns its host's routing: the user's own ServiceEntry, DestinationRule or
 * VirtualService for the same host would be merged with (or shadow) the derived ones in ways
 * nobody chose, so each is reported as a conflict on the Router's status (and in
 * `/debug/config_errors`), naming the resource to remove.
 */
import { fqdn } from '../../api/hosts.js';
import type { Resource } from '../../api/resource.js';
import type { ConfigSnapshot } from '../../config/types.js';
import { OWNED_BY } from './target.js';

function hostsOf(r: Resource): string[] {
  const spec = r.spec as { hosts?: unknown; host?: unknown };
  const hosts = Array.isArray(spec.hosts) ? spec.hosts : typeof spec.host === 'string' ? [spec.host] : [];
  return hosts.filter((h): h is string => typeof h === 'string').map((h) => fqdn(h, r.metadata.namespace));
}

/** `VirtualService/ns/name` of every user resource naming `host`, not owned by `owner`. */
export function routerConflicts(config: ConfigSnapshot, host: string, owner: string): string[] {
  const out: string[] = [];
  for (const kind of ['ServiceEntry', 'DestinationRule', 'VirtualService']) {
    for (const r of config.list(kind)) {
      if (r.metadata.annotations?.[OWNED_BY] === owner) continue;
      if (hostsOf(r).includes(host)) out.push(`${kind}/${r.metadata.namespace}/${r.metadata.name}`);
    }
  }
  return out.sort();
}
