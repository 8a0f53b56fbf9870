/**
 * A Router owns its host's routing: the user's own ServiceEntry, DestinationRule or
 * VirtualService for the same host would be merged with (or shadow) the derived ones in ways
 * nobody chose, so each is reported as a conflict on the Router's status, naming the resource to
 * remove. A user resource with the Router's own kind, namespace and name is a conflict whatever
 * its host: the Router's layer is served over the user's store, so writing it would silently
 * replace the user's resource; the Router does not write while one exists (nameClashes).
 */
import { fqdn } from '../../api/hosts.js';
import type { Resource } from '../../api/resource.js';
import type { ConfigSnapshot } from '../../config/types.js';
import { OWNED_BY } from './target.js';

const KINDS = ['ServiceEntry', 'DestinationRule', 'VirtualService'] as const;

function hostsOf(r: Resource): string[] {
  const spec = r.spec as { hosts?: unknown; host?: unknown };
  const hosts = Array.isArray(spec.hosts) ? spec.hosts : typeof spec.host === 'string' ? [spec.host] : [];
  return hosts.filter((h): h is string => typeof h === 'string').map((h) => fqdn(h, r.metadata.namespace));
}

/** `Kind/ns/name` of every user resource the Router `owner` (`Router/ns/name`) would replace. */
export function nameClashes(config: ConfigSnapshot, owner: string): string[] {
  const [, namespace = '', name = ''] = owner.split('/');
  return KINDS.filter((kind) => {
    const r = config.get(kind, namespace, name);
    return r !== undefined && r.metadata.annotations?.[OWNED_BY] !== owner;
  }).map((kind) => `${kind}/${namespace}/${name}`);
}

/** `VirtualService/ns/name` of every user resource naming `host` or named as the Router, not owned by `owner`. */
export function routerConflicts(config: ConfigSnapshot, host: string, owner: string): string[] {
  const out = new Set(nameClashes(config, owner));
  for (const kind of KINDS) {
    for (const r of config.list(kind)) {
      if (r.metadata.annotations?.[OWNED_BY] === owner) continue;
      if (hostsOf(r).includes(host)) out.add(`${kind}/${r.metadata.namespace}/${r.metadata.name}`);
    }
  }
  return [...out].sort();
}

/** The message of a Router that does not write because of `clashes` (nameClashes). */
export function clashMessage(clashes: readonly string[], owner: string): string {
  const them = clashes.join(', ');
  return `${them} ${clashes.length === 1 ? 'is' : 'are'} your own and named as ${owner}, whose resources would replace ${clashes.length === 1 ? 'it' : 'them'}: the Router writes nothing until you rename or delete ${them} (or rename the Router)`;
}
