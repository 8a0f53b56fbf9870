/** Which written resources belong to a service: the host's VirtualService, DestinationRule, Router and filters. */
import type { ResourceObject, ServiceConfig, ServiceInfo } from './model.js';

/** Does `name` (as a resource writes hosts: short, `name.ns`, or full) name the service? */
export function namesHost(name: unknown, service: ServiceInfo): boolean {
  if (typeof name !== 'string') return false;
  return (
    name === service.host ||
    name === service.name ||
    name === `${service.name}.${service.namespace}` ||
    name === `${service.name}.${service.namespace}.svc`
  );
}

export interface WrittenConfig {
  virtualServices: readonly ResourceObject[];
  destinationRules: readonly ResourceObject[];
  routers: readonly ResourceObject[];
  trafficFilters: readonly ResourceObject[];
}

export function configFor(
  service: ServiceInfo,
  written: WrittenConfig,
): ServiceConfig & { filters: ResourceObject[] } {
  const inNs = (r: ResourceObject) => r.metadata.namespace === service.namespace;
  const virtualService = written.virtualServices.find(
    (r) => inNs(r) && ((r.spec.hosts as unknown[] | undefined) ?? []).some((x) => namesHost(x, service)),
  );
  const destinationRule = written.destinationRules.find((r) => inNs(r) && namesHost(r.spec.host, service));
  const router = written.routers.find(
    (r) =>
      inNs(r) &&
      (namesHost(r.spec.host, service) || (r.spec.host === undefined && r.metadata.name === service.name)),
  );
  const filters = written.trafficFilters.filter(
    (r) => inNs(r) && namesHost((r.spec.target as { host?: unknown } | undefined)?.host, service),
  );
  return {
    ...(virtualService ? { virtualService } : {}),
    ...(destinationRule ? { destinationRule } : {}),
    ...(router ? { router } : {}),
    filters,
  };
}

/** The weights of the VirtualService's last route by subset, to prefill the canary form. */
export function currentWeights(config: ServiceConfig): Record<string, number> {
  const router = config.router?.spec.subsets as
    { branch: string; versions?: Record<string, number> }[] | undefined;
  if (config.router) {
    const production = (config.router.spec.productionBranch as string | undefined) ?? 'master';
    return { ...router?.find((s) => s.branch === production)?.versions };
  }
  const http =
    (config.virtualService?.spec.http as
      { match?: unknown; route?: { destination?: { subset?: string }; weight?: number }[] }[] | undefined) ??
    [];
  const last = [...http].reverse().find((r) => r.match === undefined);
  const out: Record<string, number> = {};
  const routes = last?.route ?? [];
  for (const d of routes) {
    const subset = d.destination?.subset;
    if (subset !== undefined) out[subset] = d.weight ?? (routes.length === 1 ? 100 : 0);
  }
  return out;
}
