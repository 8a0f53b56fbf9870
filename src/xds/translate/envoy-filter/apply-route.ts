/**
 * ROUTE_CONFIGURATION, VIRTUAL_HOST and HTTP_ROUTE patches on one route configuration (RDS, or
 * the inline one of a sidecar's inbound HTTP listener), in Istio's order (rc_patch.go): route
 * configuration merges; then per virtual host its REMOVE/MERGE/REPLACE, then its routes (per
 * route REMOVE/MERGE, then ADD and INSERT_BEFORE/AFTER/FIRST); then virtual host ADDs.
 */
import type { PatchContext } from '../../../api/networking/envoy-filter.js';
import {
  contextMatches,
  hasRouteMatch,
  isMergeOperation as isMerge,
  routeConfigurationMatch,
  routeMatch,
  virtualHostMatch,
} from './match.js';
import type { DecodedPatch } from './patches.js';
import { applyListPatch } from './positional.js';
import { mergeMessage, type Obj } from './proto-merge.js';

const RC = 'envoy.config.route.v3.RouteConfiguration';
const VH = 'envoy.config.route.v3.VirtualHost';
const ROUTE = 'envoy.config.route.v3.Route';

/** `rc` (canonical) patched; the same object when no patch applies. */
export function patchRouteConfiguration(
  rc: Obj,
  patches: readonly DecodedPatch[],
  context: PatchContext,
): Obj {
  const mine = patches.filter(
    (p) =>
      (p.applyTo === 'ROUTE_CONFIGURATION' || p.applyTo === 'VIRTUAL_HOST' || p.applyTo === 'HTTP_ROUTE') &&
      contextMatches(p, context) &&
      routeConfigurationMatch(rc, p, context),
  );
  if (mine.length === 0) return rc;
  let out = rc;
  for (const p of mine)
    if (p.applyTo === 'ROUTE_CONFIGURATION' && isMerge(p))
      out = mergeMessage(RC, out, p.value, p.operation === 'MERGE_AND_REPLACE_LIST');
  const vhPatches = mine.filter((p) => p.applyTo === 'VIRTUAL_HOST');
  const routePatches = mine.filter((p) => p.applyTo === 'HTTP_ROUTE');
  const hosts: Obj[] = [];
  for (const original of (out.virtual_hosts as Obj[] | undefined) ?? []) {
    let vh: Obj | undefined = original;
    for (const p of vhPatches) {
      if (vh === undefined || !virtualHostMatch(vh, p)) continue;
      if (p.operation === 'REMOVE') vh = undefined;
      else if (isMerge(p)) vh = mergeMessage(VH, vh, p.value, p.operation === 'MERGE_AND_REPLACE_LIST');
      else if (p.operation === 'REPLACE') vh = p.value;
    }
    if (vh !== undefined) hosts.push(patchRoutes(vh, routePatches));
  }
  for (const p of vhPatches) if (p.operation === 'ADD') hosts.push(p.value);
  return { ...out, virtual_hosts: hosts };
}

function patchRoutes(vh: Obj, patches: readonly DecodedPatch[]): Obj {
  const mine = patches.filter((p) => virtualHostMatch(vh, p));
  if (mine.length === 0) return vh;
  let routes: Obj[] = [];
  for (const original of (vh.routes as Obj[] | undefined) ?? []) {
    let route: Obj | undefined = original;
    for (const p of mine) {
      if (route === undefined || !routeMatch(route, p)) continue;
      if (p.operation === 'REMOVE') route = undefined;
      else if (isMerge(p))
        route = mergeMessage(ROUTE, route, p.value, p.operation === 'MERGE_AND_REPLACE_LIST');
    }
    if (route !== undefined) routes.push(route);
  }
  for (const p of mine) {
    if (p.operation !== 'ADD' && !p.operation.startsWith('INSERT_')) continue;
    routes = applyListPatch(routes, {
      operation: p.operation,
      value: p.value,
      hasMatch: hasRouteMatch(p),
      matches: (r) => routeMatch(r, p),
      firstNeedsMatch: true,
    });
  }
  return { ...vh, routes };
}
