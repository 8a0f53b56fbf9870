/**
 * What a Router asks for: the ServiceEntry, DestinationRule and VirtualService of its service, as
 * Istio resources marked as owned by it. Pure; the rollout (rollout.ts) decides the order in which
 * they reach the store.
 *
 * - ServiceEntry: the host (default `NAME.NAMESPACE.svc.DOMAIN`, as Istio names a Service), the
 *   port and protocol, MESH_INTERNAL, STATIC; endpoints are WorkloadEntries selected by
 *   `spec.selector` (default `app: NAME`) and instances registered for the host.
 * - DestinationRule: one subset per branch and version, labels `{branch, version}` (a branch
 *   without versions: one subset for all of its workloads, labels `{branch}`).
 * - VirtualService: for each sandbox branch that has workloads, a route matching the lane header
 *   `x-trellis-lane: BRANCH` to that branch's subsets, before the production route; then the
 *   production branch's weighted route. Sticky and fallback are annotations the proxies read.
 */
import { fqdn } from '../../api/hosts.js';
import type { Resource } from '../../api/resource.js';
import {
  DEFAULT_BRANCH_LABEL,
  DEFAULT_PRODUCTION_BRANCH,
  DEFAULT_VERSION_LABEL,
  routerSubsetName,
  type RouterSpec,
  type RouterSubset,
} from '../../api/trellis/router.js';

export const OWNED_BY = 'trellis.io/owned-by';
export const STICKY_ANNOTATION = 'trellis.io/sticky-canary';
export const FALLBACK_ANNOTATION = 'trellis.io/fallback-subset';
export const LANE_HEADER = 'x-trellis-lane';

/** The three resources a Router owns; absent ones are not wanted (a deleted Router wants none). */
export interface RouterResources {
  serviceEntry?: Resource;
  destinationRule?: Resource;
  virtualService?: Resource;
}

export interface TargetOptions {
  domainSuffix?: string;
  /**
   * The labels of the service's known workloads (endpoints); sandbox branches without any get no
   * lane route (their requests fall through to production). Absent: every listed branch has one.
   */
  workloadLabels?: readonly Readonly<Record<string, string>>[];
}

/** `Router/NAMESPACE/NAME`: the owned-by annotation's value. */
export function ownerOf(router: Pick<Resource, 'metadata'>): string {
  return `Router/${router.metadata.namespace}/${router.metadata.name}`;
}

export function routerHost(router: Resource<RouterSpec>, domainSuffix = 'cluster.local'): string {
  const ns = router.metadata.namespace;
  const host = router.spec.host;
  return host !== undefined
    ? fqdn(host, ns, domainSuffix)
    : `${router.metadata.name}.${ns}.svc.${domainSuffix}`;
}

interface Destination {
  subset: string;
  weight: number;
}

/** The weighted destinations of a branch (weight 0 ones left out of the route; kept as subsets). */
function branchDestinations(b: RouterSubset): Destination[] {
  const versions = Object.entries(b.versions ?? {});
  if (versions.length === 0) return [{ subset: routerSubsetName(b.branch), weight: 100 }];
  return versions
    .filter(([, w]) => w > 0)
    .map(([v, w]) => ({ subset: routerSubsetName(b.branch, v), weight: w }));
}

/** The production version with the highest weight (the first listed on a tie): the stable one. */
export function stableSubset(spec: RouterSpec): string | undefined {
  const production = spec.productionBranch ?? DEFAULT_PRODUCTION_BRANCH;
  const b = spec.subsets.find((s) => s.branch === production);
  if (b === undefined) return undefined;
  const versions = Object.entries(b.versions ?? {});
  if (versions.length === 0) return routerSubsetName(b.branch);
  let best = versions[0] as [string, number];
  for (const v of versions) if (v[1] > best[1]) best = v;
  return routerSubsetName(b.branch, best[0]);
}

export function routerTarget(router: Resource<RouterSpec>, options: TargetOptions = {}): RouterResources {
  const spec = router.spec;
  const { namespace, name } = router.metadata;
  const host = routerHost(router, options.domainSuffix);
  const protocol = (spec.protocol ?? 'http').toLowerCase();
  const versionLabel = spec.versionLabel ?? DEFAULT_VERSION_LABEL;
  const branchLabel = spec.branchLabel ?? DEFAULT_BRANCH_LABEL;
  const production = spec.productionBranch ?? DEFAULT_PRODUCTION_BRANCH;
  const owner = ownerOf(router);
  const meta = (annotations: Record<string, string> = {}) => ({
    name,
    namespace,
    annotations: { [OWNED_BY]: owner, ...annotations },
  });

  const serviceEntry: Resource = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: meta(),
    spec: {
      hosts: [host],
      location: 'MESH_INTERNAL',
      resolution: 'STATIC',
      ports: [{ number: spec.port, name: `${protocol}-${spec.port}`, protocol: protocol.toUpperCase() }],
      workloadSelector: { labels: { app: name } },
    },
  };

  const subsets = spec.subsets.flatMap((b) => {
    const versions = Object.keys(b.versions ?? {});
    if (versions.length === 0)
      return [{ name: routerSubsetName(b.branch), labels: { [branchLabel]: b.branch } }];
    return versions.map((v) => ({
      name: routerSubsetName(b.branch, v),
      labels: { [branchLabel]: b.branch, [versionLabel]: v },
    }));
  });
  const destinationRule: Resource = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: meta(),
    spec: { host, subsets },
  };

  const route = (dests: Destination[]) =>
    dests.length === 1
      ? [{ destination: { host, subset: dests[0]?.subset } }]
      : dests.map((d) => ({ destination: { host, subset: d.subset }, weight: d.weight }));
  const withWorkloads = (branch: string) =>
    options.workloadLabels === undefined || options.workloadLabels.some((l) => l[branchLabel] === branch);
  const productionBranch = spec.subsets.find((b) => b.branch === production);
  const productionRoute = route(productionBranch ? branchDestinations(productionBranch) : []);
  const annotations: Record<string, string> = {};
  if (spec.sticky?.header) annotations[STICKY_ANNOTATION] = `header:${spec.sticky.header}`;
  if (spec.sticky?.cookie) annotations[STICKY_ANNOTATION] = `cookie:${spec.sticky.cookie}`;
  const stable = stableSubset(spec);
  if ((spec.fallback ?? true) && stable !== undefined) annotations[FALLBACK_ANNOTATION] = stable;

  let vsSpec: Record<string, unknown>;
  if (protocol === 'tcp') {
    vsSpec = { hosts: [host], tcp: [{ route: productionRoute }] };
  } else {
    const lanes = spec.subsets
      .filter((b) => b.branch !== production && withWorkloads(b.branch))
      .map((b) => ({
        name: `lane-${routerSubsetName(b.branch)}`,
        match: [{ headers: { [LANE_HEADER]: { exact: b.branch } } }],
        route: route(branchDestinations(b)),
      }));
    vsSpec = { hosts: [host], http: [...lanes, { name: 'production', route: productionRoute }] };
  }
  const virtualService: Resource = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: meta(annotations),
    spec: vsSpec,
  };
  return { serviceEntry, destinationRule, virtualService };
}
