/**
 * `trellis analyze` findings for EnvoyFilters:
 *
 * - a patch whose value is not the Envoy message its `applyTo` names (an unknown field, a wrong
 *   type, an unknown `@type`): a control plane skips such a patch and applies the rest, so each
 *   is an error at its field path;
 * - a route-level `typed_per_filter_config` for an HTTP filter no EnvoyFilter of the analyzed
 *   set puts in the chain (and Trellis does not generate): Envoy, and the Trellis proxy, apply a
 *   filter's per-route config only where the filter runs, so such a limit does nothing (Istio's
 *   local rate limit recipe needs the HTTP_FILTER patch beside the HTTP_ROUTE one). A warning:
 *   the filter may be added by an EnvoyFilter outside the files analyzed.
 */
import type { EnvoyFilterSpec } from '../../api/networking/envoy-filter.js';
import type { Resource } from '../../api/resource.js';
import { decodeEnvoyFilter, ENVOY_FILTER_KIND } from '../translate/envoy-filter/patches.js';

export interface EnvoyFilterFinding {
  resource: Resource;
  path: string;
  message: string;
  level: 'Error' | 'Warning';
}

/** HTTP filters Trellis puts in every sidecar and gateway chain. */
const GENERATED_HTTP_FILTERS = new Set([
  'envoy.filters.http.fault',
  'envoy.filters.http.cors',
  'envoy.filters.http.router',
]);
const ADDING = new Set(['ADD', 'INSERT_BEFORE', 'INSERT_AFTER', 'INSERT_FIRST', 'REPLACE']);
const ROUTE_LEVEL = new Set(['ROUTE_CONFIGURATION', 'VIRTUAL_HOST', 'HTTP_ROUTE']);

export function envoyFilterFindings(resources: readonly Resource[]): EnvoyFilterFinding[] {
  const filters = resources.filter((r) => r.kind === ENVOY_FILTER_KIND);
  const out: EnvoyFilterFinding[] = filters.flatMap((r) =>
    decodeEnvoyFilter(r).problems.map((p) => ({
      resource: r,
      path: p.path,
      message: p.message,
      level: 'Error' as const,
    })),
  );
  const inChain = new Set(GENERATED_HTTP_FILTERS);
  for (const r of filters) {
    for (const cp of (r.spec as EnvoyFilterSpec).configPatches ?? []) {
      const name = cp.patch.value?.name;
      if (cp.applyTo === 'HTTP_FILTER' && ADDING.has(cp.patch.operation) && typeof name === 'string')
        inChain.add(name);
    }
  }
  for (const r of filters) {
    ((r.spec as EnvoyFilterSpec).configPatches ?? []).forEach((cp, i) => {
      if (!ROUTE_LEVEL.has(cp.applyTo)) return;
      const perFilter = cp.patch.value?.typed_per_filter_config ?? cp.patch.value?.typedPerFilterConfig;
      if (perFilter === null || typeof perFilter !== 'object') return;
      for (const name of Object.keys(perFilter)) {
        if (inChain.has(name)) continue;
        out.push({
          resource: r,
          path: `spec.configPatches[${i}].patch.value.typed_per_filter_config.${name}`,
          message: `no EnvoyFilter here puts the HTTP filter ${name} in the chain, and a per-route config applies only where its filter runs; add an HTTP_FILTER patch (INSERT_BEFORE envoy.filters.http.router) with that name, unless an EnvoyFilter elsewhere (the root namespace) adds it`,
          level: 'Warning',
        });
      }
    });
  }
  return out;
}
