/**
 * RDS: RouteConfigurations. Sidecars (and proxyless gRPC) get one per HTTP port, named by the
 * port (`9080`), with a virtual host `HOST:PORT` per visible service on that port; gateways get
 * `http.PORT` with a virtual host per VirtualService host bound to the port's servers.
 */
import type { RouteConfiguration, VirtualHost } from '../../protocol/envoy-types.js';
import type { Service } from '../../registry/types.js';
import type { MergedRoute } from './http-routes.js';
import { gatewayRouteName, sidecarRouteName, virtualHostName } from './names.js';
import { buildRoutes, defaultRoute, type RouteSite } from './route-action.js';

/**
 * The names a service answers to from `proxyNamespace`, as Istio writes virtual host domains:
 * the FQDN, `name.namespace.svc`, `name.namespace`, the short name (same namespace only) and
 * the service addresses, each also with `:PORT`.
 */
export function serviceDomains(
  service: Service,
  port: number,
  proxyNamespace: string,
  domainSuffix: string,
): string[] {
  const names = [service.hostname];
  const kubeSuffix = `.svc.${domainSuffix}`;
  if (service.hostname.endsWith(kubeSuffix)) {
    const base = service.hostname.slice(0, -kubeSuffix.length); // name.namespace
    names.push(`${base}.svc`, base);
    const dot = base.lastIndexOf('.');
    if (dot > 0 && service.namespace === proxyNamespace) names.push(base.slice(0, dot));
  }
  for (const a of service.addresses)
    if (!a.includes('/') && a !== '0.0.0.0') names.push(a.includes(':') ? `[${a}]` : a);
  return names.flatMap((n) => [n, `${n}:${port}`]);
}

export interface SidecarRouteInput {
  port: number;
  /** Visible services with an HTTP port numbered `port`, sorted by hostname. */
  services: readonly Service[];
  routesByHost: ReadonlyMap<string, readonly MergedRoute[]>;
  site: RouteSite;
  /** Name to give the configuration (a port, or gRPC's `outbound|PORT||HOST`). */
  name?: string;
  /** The last virtual host, for hosts no service claims (passthrough.ts: allow_any, block_all). */
  catchAll?: VirtualHost;
}

export function buildSidecarRouteConfig(input: SidecarRouteInput): RouteConfiguration {
  const { port, site } = input;
  const seen = new Set<string>();
  const virtualHosts: VirtualHost[] = [];
  for (const svc of input.services) {
    // Each domain may appear once per route configuration; the first service claiming it keeps it.
    const domains = serviceDomains(svc, port, site.proxyNamespace, site.domainSuffix).filter(
      (d) => !seen.has(d),
    );
    if (domains.length === 0) continue;
    domains.forEach((d) => seen.add(d));
    const merged = input.routesByHost.get(svc.hostname);
    const routes =
      merged === undefined
        ? [defaultRoute(svc.hostname, port, site)]
        : merged.flatMap((r) => buildRoutes(r, site));
    virtualHosts.push({ name: virtualHostName(svc.hostname, port), domains, routes });
  }
  if (input.catchAll !== undefined && !seen.has('*')) virtualHosts.push(input.catchAll);
  return {
    name: input.name ?? sidecarRouteName(port),
    virtual_hosts: virtualHosts,
    validate_clusters: { value: false },
  };
}

export interface GatewayRouteInput {
  port: number;
  routesByHost: ReadonlyMap<string, readonly MergedRoute[]>;
  /** Hosts served on this port over plain HTTP whose server says httpsRedirect. */
  redirectHosts: ReadonlySet<string>;
  site: RouteSite;
}

export function buildGatewayRouteConfig(input: GatewayRouteInput): RouteConfiguration {
  const { port, site } = input;
  const virtualHosts: VirtualHost[] = [];
  const seen = new Set<string>();
  for (const [host, merged] of input.routesByHost) {
    const domains = (host === '*' ? ['*'] : [host, `${host}:${port}`]).filter((d) => !seen.has(d));
    if (domains.length === 0) continue;
    domains.forEach((d) => seen.add(d));
    const vh: VirtualHost = {
      name: virtualHostName(host, port),
      domains,
      routes: merged.flatMap((r) => buildRoutes(r, site)),
    };
    if (input.redirectHosts.has(host)) vh.require_tls = 'ALL';
    virtualHosts.push(vh);
  }
  return { name: gatewayRouteName(port), virtual_hosts: virtualHosts, validate_clusters: { value: false } };
}
