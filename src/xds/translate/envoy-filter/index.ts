/**
 * EnvoyFilter patches on generated xDS: wraps the CDS, LDS and RDS generators so that what a
 * generator built for a proxy is patched by the EnvoyFilters that apply to it (select.ts), and
 * the generator's key names those filters (so affectedTypes() sees a filter change). Proxies no
 * filter applies to get the generator's own output and key, unchanged.
 *
 * Resources a patch touches are re-encoded from their canonical form (proto-merge.ts); the
 * others are passed through as generated. What the patched config asks of the Trellis proxy is
 * checked by the proxy itself, which NACKs what it does not implement.
 */
import type { PatchContext } from '../../../api/networking/envoy-filter.js';
import type { ProxyNode } from '../../proxy-node.js';
import { TYPE, type ResourceTypeUrl } from '../../../protocol/protos.js';
import { memoized, type Resources, type TypeGenerator } from '../generators.js';
import { digest } from '../memo.js';
import type { PushContext } from '../push-context.js';
import { patchClusters } from './apply-cluster.js';
import { patchListeners } from './apply-listener.js';
import { patchRouteConfiguration } from './apply-route.js';
import type { DecodedPatch } from './patches.js';
import { nameOf, canonical, type Obj } from './proto-merge.js';
import { proxyEnvoyFilters } from './select.js';
import { edsNameOf, routeNamesOf } from '../../server/consistency.js';

const LISTENER_CLASS = new Set(['LISTENER', 'FILTER_CHAIN', 'NETWORK_FILTER', 'HTTP_FILTER']);
const ROUTE_CLASS = new Set(['ROUTE_CONFIGURATION', 'VIRTUAL_HOST', 'HTTP_ROUTE']);

function relevant(patch: DecodedPatch, typeUrl: ResourceTypeUrl, proxy: ProxyNode): boolean {
  if (patch.context !== 'ANY' && !contextsOf(proxy).includes(patch.context)) return false;
  switch (typeUrl) {
    case TYPE.cluster:
      return patch.applyTo === 'CLUSTER';
    case TYPE.route:
      // A sidecar's RDS is outbound; its inbound routes are inline in LDS.
      return ROUTE_CLASS.has(patch.applyTo) && patch.context !== 'SIDECAR_INBOUND';
    case TYPE.listener:
      // Sidecar inbound route configurations are inline in the inbound listeners.
      return (
        LISTENER_CLASS.has(patch.applyTo) ||
        (ROUTE_CLASS.has(patch.applyTo) &&
          proxy.type === 'sidecar' &&
          (patch.context === 'ANY' || patch.context === 'SIDECAR_INBOUND'))
      );
    default:
      return false;
  }
}

/** The patches of `typeUrl` for this proxy and a key naming them ('' for none). */
export function envoyFilterPatches(
  push: PushContext,
  proxy: ProxyNode,
  typeUrl: ResourceTypeUrl,
): { patches: readonly DecodedPatch[]; key: string } {
  const all = proxyEnvoyFilters(push, proxy);
  if (all.patches.length === 0) return { patches: [], key: '' };
  const patches = all.patches.filter((p) => relevant(p, typeUrl, proxy));
  if (patches.length === 0) return { patches, key: '' };
  return { patches, key: digest(`${all.key}|${patches.map((p) => `${p.filter}#${p.index}`).join(',')}`) };
}

const MESSAGE: Partial<Record<ResourceTypeUrl, string>> = {
  [TYPE.cluster]: 'envoy.config.cluster.v3.Cluster',
  [TYPE.listener]: 'envoy.config.listener.v3.Listener',
  [TYPE.route]: 'envoy.config.route.v3.RouteConfiguration',
};

/** `gen`, with EnvoyFilter patches applied to CDS, LDS and RDS output. */
export function withEnvoyFilters<T extends object>(
  typeUrl: ResourceTypeUrl,
  gen: TypeGenerator<T>,
): TypeGenerator<T> {
  const message = MESSAGE[typeUrl];
  if (message === undefined) return gen;
  return {
    key(push, proxy, view) {
      const base = gen.key(push, proxy, view);
      const ef = envoyFilterPatches(push, proxy, typeUrl).key;
      return ef === '' ? base : `${base}|ef:${ef}`;
    },
    generate(push, proxy, names) {
      const { patches, key } = envoyFilterPatches(push, proxy, typeUrl);
      if (patches.length === 0) return gen.generate(push, proxy, names);
      const memoKey = `ef|${typeUrl}|${gen.key(push, proxy)}|${key}`;
      return memoized(push, memoKey, names, () => {
        const generated = gen.generate(push, proxy, undefined) as Resources<object>;
        try {
          return patchResources(typeUrl, message, generated, patches, proxy) as Map<string, T>;
        } catch {
          // As Istio recovers from a patch that panics: the config as generated, unpatched,
          // rather than no config for this proxy at all.
          return new Map(generated) as Map<string, T>;
        }
      });
    },
  };
}

function contextsOf(proxy: ProxyNode): PatchContext[] {
  return proxy.type === 'router' ? ['GATEWAY'] : ['SIDECAR_OUTBOUND', 'SIDECAR_INBOUND'];
}

function patchResources(
  typeUrl: ResourceTypeUrl,
  message: string,
  generated: Resources<object>,
  patches: readonly DecodedPatch[],
  proxy: ProxyNode,
): Map<string, object> {
  const originals = new Map<Obj, object>();
  const list = [...generated.values()].map((r) => {
    const c = canonical(message, r);
    originals.set(c, r);
    return c;
  });
  const gateway = proxy.type === 'router';
  let patched: Obj[];
  if (typeUrl === TYPE.cluster) {
    patched = patchClusters(
      list,
      patches,
      (c) =>
        gateway ? 'GATEWAY' : nameOf(c).startsWith('inbound|') ? 'SIDECAR_INBOUND' : 'SIDECAR_OUTBOUND',
      contextsOf(proxy),
    );
  } else if (typeUrl === TYPE.listener) {
    patched = patchListeners(
      list,
      patches,
      (l) =>
        gateway ? 'GATEWAY' : l.traffic_direction === 'INBOUND' ? 'SIDECAR_INBOUND' : 'SIDECAR_OUTBOUND',
      contextsOf(proxy),
    );
  } else {
    const context: PatchContext = gateway ? 'GATEWAY' : 'SIDECAR_OUTBOUND';
    patched = list.map((rc) => patchRouteConfiguration(rc, patches, context));
  }
  const out = new Map<string, object>();
  for (const r of patched) {
    const name = typeof r.name === 'string' ? r.name : '';
    // An added resource without a name cannot be served (xDS names every resource).
    if (name === '') continue;
    out.set(name, unchanged(r, originals) ?? r);
  }
  return withoutDanglingReferences(typeUrl, generated, out);
}

/**
 * A patched cluster taking endpoints over EDS, or a patched listener taking a route configuration
 * over RDS, under a name the generated config does not reference: Trellis generates no such
 * resource, and the server's consistency check (xds/server/consistency.ts) would then hold the
 * proxy on its last consistent push for every later change. Such a resource is served as
 * generated (or left out when a patch added it); the rest of the patches apply. (Envoy under
 * Istio would warm the cluster or listener until its fetch timeout and serve it empty.)
 */
function withoutDanglingReferences(
  typeUrl: ResourceTypeUrl,
  generated: Resources<object>,
  patched: Map<string, object>,
): Map<string, object> {
  const refs =
    typeUrl === TYPE.cluster
      ? (r: object): readonly string[] => {
          const n = edsNameOf(r);
          return n === undefined ? [] : [n];
        }
      : typeUrl === TYPE.listener
        ? routeNamesOf
        : undefined;
  if (refs === undefined) return patched;
  const known = new Set<string>();
  for (const r of generated.values()) for (const n of refs(r)) known.add(n);
  for (const [name, r] of patched) {
    if (refs(r).every((n) => known.has(n))) continue;
    const original = generated.get(name);
    if (original === undefined) patched.delete(name);
    else patched.set(name, original);
  }
  return patched;
}

/** The generated object when no patch touched the resource (the very canonical object came back). */
function unchanged(r: Obj, originals: ReadonlyMap<Obj, object>): object | undefined {
  return originals.get(r);
}
