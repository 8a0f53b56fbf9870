/**
 * Canary weights and header routes. A service with a Router keeps its weights there (the
 * production branch's versions); header routes are not the Router's to express, so the console
 * says so. Otherwise the host's VirtualService is written (its own, or a new one named after the
 * service) with one route per header match, then the weighted default route, and its
 * DestinationRule with a subset per version (`version` label), other fields kept.
 */
import type { EditPlan, ResourceObject, ServiceConfig, ServiceInfo } from './model.js';

export interface HeaderRoute {
  header: string;
  /** Exact value to match. */
  value: string;
  version: string;
}

export interface RoutingValues {
  /** Version -> weight as typed (percent). */
  weights: Readonly<Record<string, string>>;
  headerRoutes: readonly HeaderRoute[];
}

/** The Router's production branch when it names none (as api/trellis/router.ts). */
const DEFAULT_PRODUCTION_BRANCH = 'master';

/** A weight as a number when it is one; the text otherwise, for the validator to name. */
const weightOf = (text: string): number | string =>
  /^\d+$/.test(text.trim()) ? Number(text.trim()) : text.trim();

function routerEdit(router: ResourceObject, values: RoutingValues): EditPlan {
  if (values.headerRoutes.length > 0)
    return {
      ok: false,
      message: `${router.metadata.name} is routed by its Router, which has no header routes: set weights here, or route by header with a sandbox branch`,
    };
  const spec = router.spec as {
    productionBranch?: string;
    subsets?: { branch: string; versions?: Record<string, unknown> }[];
  };
  const production = spec.productionBranch ?? DEFAULT_PRODUCTION_BRANCH;
  const versions = Object.fromEntries(Object.entries(values.weights).map(([v, w]) => [v, weightOf(w)]));
  const subsets = [...(spec.subsets ?? [])];
  const at = subsets.findIndex((s) => s.branch === production);
  if (at < 0) subsets.unshift({ branch: production, versions });
  else subsets[at] = { ...subsets[at], branch: production, versions };
  return {
    ok: true,
    resources: [{ ...router, metadata: strip(router.metadata), spec: { ...router.spec, subsets } }],
  };
}

/** Metadata as written, without what the store adds (so the edit applies as a user's would). */
function strip(meta: ResourceObject['metadata']): ResourceObject['metadata'] {
  return {
    name: meta.name,
    namespace: meta.namespace,
    ...(meta.labels ? { labels: meta.labels } : {}),
    ...(meta.annotations ? { annotations: meta.annotations } : {}),
  };
}

export function routingEdit(service: ServiceInfo, config: ServiceConfig, values: RoutingValues): EditPlan {
  if (config.router) return routerEdit(config.router, values);
  const destination = (version: string) => ({ host: service.host, subset: version });
  const weighted = Object.entries(values.weights).filter(([, w]) => w.trim() !== '');
  if (weighted.length === 0) return { ok: false, message: 'give at least one version a weight' };
  const http: Record<string, unknown>[] = values.headerRoutes.map((r, i) => ({
    name: `header-${i + 1}`,
    match: [{ headers: { [r.header.trim().toLowerCase()]: { exact: r.value } } }],
    route: [{ destination: destination(r.version) }],
  }));
  http.push({
    name: 'default',
    route: weighted.map(([version, w]) => ({ destination: destination(version), weight: weightOf(w) })),
  });
  const vs = config.virtualService;
  const virtualService: ResourceObject = {
    apiVersion: vs?.apiVersion ?? 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: vs ? strip(vs.metadata) : { name: service.name, namespace: service.namespace },
    spec: { ...(vs?.spec ?? { hosts: [service.host] }), http },
  };
  const dr = config.destinationRule;
  const subsets = [...((dr?.spec.subsets as { name: string }[] | undefined) ?? [])];
  const wanted = new Set([...weighted.map(([v]) => v), ...values.headerRoutes.map((r) => r.version)]);
  for (const version of [...wanted].sort())
    if (!subsets.some((s) => s.name === version))
      subsets.push({ name: version, labels: { version } } as { name: string });
  const destinationRule: ResourceObject = {
    apiVersion: dr?.apiVersion ?? 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: dr ? strip(dr.metadata) : { name: service.name, namespace: service.namespace },
    spec: { ...(dr?.spec ?? { host: service.host }), subsets },
  };
  // The subsets first: a route naming a subset that does not exist yet would fail requests.
  return { ok: true, resources: [destinationRule, virtualService] };
}

/** The access log switch: a Telemetry for the workloads of one app (telemetry.istio.io/v1). */
export function accessLogEdit(service: ServiceInfo, app: string, on: boolean): ResourceObject {
  return {
    apiVersion: 'telemetry.istio.io/v1',
    kind: 'Telemetry',
    metadata: { name: `${app}-console-access-log`, namespace: service.namespace },
    spec: {
      selector: { matchLabels: { app } },
      accessLogging: [{ providers: [{ name: 'envoy' }], disabled: !on }],
    },
  };
}
