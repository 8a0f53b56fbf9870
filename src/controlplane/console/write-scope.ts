/**
 * The console edits services' traffic, not their exposure or their security: an editor's
 * VirtualService may not bind a gateway (that would publish an internal service at the ingress),
 * and an editor's DestinationRule may not set client TLS (`tls.mode: DISABLE` would turn mesh
 * mTLS off towards a host). Those stay with `trellis apply` and files, like the kinds the console
 * does not write at all.
 */
import type { Resource } from '../../api/resource.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Where the client TLS settings of a DestinationRule's traffic policies sit. */
function tlsPaths(policy: unknown, at: string): string[] {
  if (!isObj(policy)) return [];
  const out = policy.tls !== undefined && policy.tls !== null ? [`${at}.tls`] : [];
  const ports = policy.portLevelSettings;
  if (Array.isArray(ports))
    ports.forEach((p, i) => {
      if (isObj(p) && p.tls !== undefined && p.tls !== null) out.push(`${at}.portLevelSettings[${i}].tls`);
    });
  return out;
}

/** The first field of `resource` the console may not write, with why; undefined when none. */
export function outOfConsoleScope(resource: Resource): { path: string; reason: string } | undefined {
  const spec = isObj(resource.spec) ? resource.spec : {};
  if (resource.kind === 'VirtualService') {
    const gateways = spec.gateways;
    if (Array.isArray(gateways)) {
      const i = gateways.findIndex((g) => g !== 'mesh');
      if (i >= 0)
        return {
          path: `spec.gateways[${i}]`,
          reason: 'binding a gateway exposes the service at the ingress: use trellis apply',
        };
    }
    const http = spec.http;
    if (Array.isArray(http))
      for (const [r, route] of http.entries()) {
        const match = isObj(route) ? route.match : undefined;
        if (!Array.isArray(match)) continue;
        for (const [m, cond] of match.entries())
          if (isObj(cond) && Array.isArray(cond.gateways) && cond.gateways.some((g) => g !== 'mesh'))
            return {
              path: `spec.http[${r}].match[${m}].gateways`,
              reason: 'binding a gateway exposes the service at the ingress: use trellis apply',
            };
      }
  }
  if (resource.kind === 'DestinationRule') {
    const paths = [...tlsPaths(spec.trafficPolicy, 'spec.trafficPolicy')];
    if (Array.isArray(spec.subsets))
      spec.subsets.forEach((s, i) => {
        if (isObj(s)) paths.push(...tlsPaths(s.trafficPolicy, `spec.subsets[${i}].trafficPolicy`));
      });
    if (paths[0] !== undefined)
      return { path: paths[0], reason: 'client TLS decides mTLS towards the host: use trellis apply' };
  }
  return undefined;
}
