/**
 * A Trellis extension (Istio has no equivalent): requests whose Host is not a mesh name, such as
 * a Host passed through from the original caller, are routed by the address they were sent to
 * and keep their Host.
 *
 * Opt in per workload with an annotation on its Sidecar resource:
 *
 *   apiVersion: networking.istio.io/v1
 *   kind: Sidecar
 *   metadata:
 *     name: edge
 *     annotations:
 *       trellis.io/route-by-destination: "true"
 *
 * An app pointed at its sidecar (HTTP_PROXY, how `trellis up` runs apps) sends the address in
 * the request target (`GET http://reviews:9080/p` with `Host: shop.example.com`). The sidecar
 * already routes by that target; without the opt-in the upstream sees `Host: reviews:9080`, as
 * Envoy would (its HTTP/1 codec drops the Host of an absolute-form request). With it, each route
 * of the sidecar's outbound route configurations says `host_rewrite_header: host`: the Host the
 * caller sent is what the upstream gets. For requests whose target and Host agree it changes
 * nothing. Routes that rewrite the host themselves (VirtualService `rewrite.authority`) keep
 * their rewrite.
 */
import type { Route, RouteConfiguration } from '../../protocol/envoy-types.js';
import type { ProxyScope } from './scope.js';

export const ROUTE_BY_DESTINATION_ANNOTATION = 'trellis.io/route-by-destination';

/** Whether the proxy's Sidecar opts in (annotation value `true`). */
export function routesByDestination(scope: ProxyScope): boolean {
  return scope.sidecar?.metadata.annotations?.[ROUTE_BY_DESTINATION_ANNOTATION] === 'true';
}

function keepHost(route: Route): Route {
  const action = route.route;
  if (action === undefined || action === null) return route;
  if (action.host_rewrite_literal !== undefined || action.host_rewrite_header !== undefined) return route;
  if (action.auto_host_rewrite !== undefined || action.host_rewrite_path_regex !== undefined) return route;
  return { ...route, route: { ...action, host_rewrite_header: 'host' } };
}

/** The route configuration with every forwarding route keeping the caller's Host. */
export function keepCallerHost(rc: RouteConfiguration): RouteConfiguration {
  return {
    ...rc,
    virtual_hosts: (rc.virtual_hosts ?? []).map((vh) => ({ ...vh, routes: (vh.routes ?? []).map(keepHost) })),
  };
}
