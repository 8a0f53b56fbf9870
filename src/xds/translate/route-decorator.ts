/**
 * The span name of a route, as Istio writes it (route.go GetRouteOperation): Envoy's
 * `decorator.operation`, `HOST:PORT` of the route's single cluster, else `VIRTUALSERVICE:PORT`
 * (weighted clusters, redirects, direct responses), followed by the path the route matches:
 * `/*` for every path, `PREFIX*` for a prefix, the exact path, or a regex as written.
 * A tracing proxy names its span after it and sends it on (`x-envoy-decorator-operation`), so
 * the next hop's server span carries the same name.
 */
import type { Route } from '../../protocol/envoy-types.js';
import { parseClusterName } from './names.js';

function pathOf(route: Route): string {
  const m = route.match;
  if (m?.prefix !== undefined) return `${m.prefix}*`;
  if (m?.path !== undefined) return m.path;
  if (m?.safe_regex?.regex !== undefined) return m.safe_regex.regex;
  return '/*';
}

/**
 * The operation for `route`; `virtualService` names the VirtualService it was written in
 * (undefined: none, and a route without a single cluster then gets no name).
 */
export function routeOperation(
  route: Route,
  virtualService: string | undefined,
  port: number,
): string | undefined {
  const cluster = route.route?.cluster;
  const key = cluster === undefined ? undefined : parseClusterName(cluster);
  if (key !== undefined) return `${key.host}:${key.port}${pathOf(route)}`;
  if (virtualService === undefined) return undefined;
  return `${virtualService}:${port}${pathOf(route)}`;
}

/** `route` with its decorator (unchanged when it has no name to take). */
export function withDecorator(route: Route, virtualService: string | undefined, port: number): Route {
  const operation = routeOperation(route, virtualService, port);
  return operation === undefined ? route : { ...route, decorator: { operation } };
}
