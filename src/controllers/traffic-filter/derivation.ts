/**
 * The traffic-filter derivation: every TrafficFilter patched onto its frame (layering.ts), as a
 * pure function of the snapshot, so deleting a filter removes exactly its feature.
 *
 * Frames are the VirtualServices and DestinationRules of the target host in the filter's own
 * namespace (user-written, or derived by a Router). A filter never patches another namespace's
 * resources (that would let any namespace inject faults into any service) and never creates a
 * frame: a filter without one is reported and does nothing until the frame exists. Route
 * features land on the frame's forwarding http routes (those with `route`; redirects, direct
 * responses and delegations are left alone), or on the one named by `target.route`; traffic
 * policy features on `spec.trafficPolicy` or the named subset's; `retryBudget` on the
 * DestinationRule's `trellis.io/retry-budget` annotation. `rateLimit` filters of one host
 * layer into one local RateLimit, named `traffic-filter.<host>`.
 */
import { Problems, formatProblem, type Problem } from '../../core/errors.js';
import { fqdn } from '../../api/hosts.js';
import { findKind } from '../../api/kinds.js';
import { resourceKey, type Resource } from '../../api/resource.js';
import type { DestinationRuleSpec, VirtualServiceSpec } from '../../api/networking/types.js';
import { TRAFFIC_FILTER_KIND } from '../../api/trellis/traffic-filter.js';
import type { ConfigSnapshot } from '../../config/types.js';
import type { ConfigDerivation, DerivationProblem, DerivationResult } from '../derivation.js';
import type { PathStep } from './field-paths.js';
import { filterFieldPath, readFilters, type TrafficFilterInput } from './filters.js';
import { layerFilters, type FrameValidator, type LayerResult, type PlacedFilter } from './layering.js';
import { conflictProblems, rejectionProblems } from './problems.js';
import { frameConflicts, withProvenance } from './provenance.js';
import { rateLimitFrames } from './rate-limit.js';

export interface TrafficFilterDerivationOptions {
  domainSuffix?: string;
}

export function trafficFilterDerivation(options: TrafficFilterDerivationOptions = {}): ConfigDerivation {
  const domainSuffix = options.domainSuffix ?? 'cluster.local';
  return { name: 'traffic-filter', derive: (snapshot) => deriveTrafficFilters(snapshot, domainSuffix) };
}

type Found = { frames: number; places: number };

export function deriveTrafficFilters(
  snapshot: ConfigSnapshot,
  domainSuffix = 'cluster.local',
): DerivationResult {
  const filters = readFilters(snapshot.list(TRAFFIC_FILTER_KIND), domainSuffix);
  if (filters.length === 0) return {};
  const put: Resource[] = [];
  const problems = new Map<string, Problem[]>();
  const report = (f: { key: string }, p: Problem) => problems.set(f.key, [...(problems.get(f.key) ?? []), p]);
  const found = new Map<TrafficFilterInput, Found>(filters.map((f) => [f, { frames: 0, places: 0 }]));

  const patch = (frame: Resource, placed: PlacedFilter[]) => {
    if (placed.length === 0) return;
    const result = layerFilters(
      { metadata: frame.metadata, spec: frame.spec },
      placed,
      validatorOf(frame.kind),
    );
    collect(frame, result, report);
    if (Object.keys(result.provenance).length === 0 && result.conflicts.length === 0) return;
    const merged = { ...frame, ...(result.root as Pick<Resource, 'metadata' | 'spec'>) };
    put.push(
      withProvenance(merged, { provenance: result.provenance, conflicts: frameConflicts(result.conflicts) }),
    );
  };

  // Filters by namespace and host: a frame only ever takes its own namespace's filters.
  const byHost = new Map<string, TrafficFilterInput[]>();
  for (const f of filters)
    byHost.set(`${f.namespace} ${f.host}`, [...(byHost.get(`${f.namespace} ${f.host}`) ?? []), f]);
  const filtersOf = (frame: Resource, hosts: readonly string[]) =>
    [...new Set(hosts)].flatMap((h) => byHost.get(`${frame.metadata.namespace} ${h}`) ?? []);

  for (const vs of snapshot.list('VirtualService') as Resource<VirtualServiceSpec>[]) {
    const hosts = (vs.spec.hosts ?? []).map((h) => fqdn(h, vs.metadata.namespace, domainSuffix));
    const mine = filtersOf(vs, hosts).filter((f) => f.frame === 'route');
    const distinct = [...new Set(hosts)];
    for (const f of distinct.length > 1 ? mine : []) {
      const also = distinct.filter((h) => h !== f.host);
      report(f, {
        severity: 'warning',
        path: 'spec.target.host',
        message: `VirtualService ${vs.metadata.namespace}/${vs.metadata.name} also routes ${also.join(', ')}: ${f.feature} applies to their requests too; give ${f.host} a VirtualService of its own to keep it apart`,
      });
    }
    patch(
      vs,
      mine.flatMap((f) => place(f, routePlaces(f, vs), found)),
    );
  }
  for (const dr of snapshot.list('DestinationRule') as Resource<DestinationRuleSpec>[]) {
    const host = fqdn(dr.spec.host, dr.metadata.namespace, domainSuffix);
    const mine = filtersOf(dr, [host]).filter((f) => f.frame === 'trafficPolicy' || f.frame === 'annotation');
    patch(
      dr,
      mine.flatMap((f) => place(f, policyPlaces(f, dr), found)),
    );
  }
  const limits = rateLimitFrames(
    filters.filter((f) => f.frame === 'rateLimit'),
    snapshot,
  );
  put.push(...limits.put);
  for (const [key, list] of limits.problems) for (const p of list) report({ key }, p);

  for (const f of filters) {
    if (f.frame === 'rateLimit') continue;
    const seen = found.get(f) as Found;
    if (seen.frames === 0) report(f, noFrame(f, snapshot, domainSuffix));
    else if (seen.places === 0) report(f, noPlace(f));
  }

  const out: DerivationProblem[] = [...problems].map(([key, list]) => {
    const [namespace = '', name = ''] = key.split('/');
    return { source: { kind: TRAFFIC_FILTER_KIND, namespace, name }, problems: list };
  });
  return { put, problems: out };
}

/** A filter with its places in one frame; counts what was found for the problems. */
function place(
  f: TrafficFilterInput,
  places: PathStep[][],
  found: Map<TrafficFilterInput, Found>,
): PlacedFilter[] {
  const seen = found.get(f) as Found;
  seen.frames++;
  seen.places += places.length;
  if (places.length === 0) return [];
  return [
    {
      key: f.key,
      owner: f.owner,
      priority: f.priority,
      places,
      leaves: f.leaves,
      specPath: (leaf) => filterFieldPath(f, leaf),
    },
  ];
}

function routePlaces(f: TrafficFilterInput, vs: Resource<VirtualServiceSpec>): PathStep[][] {
  const out: PathStep[][] = [];
  (vs.spec.http ?? []).forEach((route, i) => {
    if ((route.route?.length ?? 0) === 0) return;
    if (f.route !== undefined && route.name !== f.route) return;
    out.push(['spec', 'http', i]);
  });
  return out;
}

function policyPlaces(f: TrafficFilterInput, dr: Resource<DestinationRuleSpec>): PathStep[][] {
  if (f.frame === 'annotation') return [['metadata', 'annotations']];
  if (f.subset === undefined) return [['spec', 'trafficPolicy']];
  const index = (dr.spec.subsets ?? []).findIndex((s) => s.name === f.subset);
  return index < 0 ? [] : [['spec', 'subsets', index, 'trafficPolicy']];
}

function validatorOf(kind: string): FrameValidator {
  const def = findKind(kind);
  return (root) => {
    if (def === undefined) return [];
    const problems = new Problems();
    def.validate(root.spec, problems, 'spec');
    return problems.errors.map(formatProblem);
  };
}

function collect(
  frame: Resource,
  result: LayerResult,
  report: (f: { key: string }, p: Problem) => void,
): void {
  const name = `${frame.kind} ${frame.metadata.namespace}/${frame.metadata.name}`;
  for (const [key, p] of conflictProblems(name, result.conflicts)) report({ key }, p);
  for (const [key, p] of rejectionProblems(name, result.rejected)) report({ key }, p);
}

const FRAME_KIND = {
  route: 'VirtualService',
  trafficPolicy: 'DestinationRule',
  annotation: 'DestinationRule',
} as const;

function noFrame(f: TrafficFilterInput, snapshot: ConfigSnapshot, domainSuffix: string): Problem {
  const kind = FRAME_KIND[f.frame as keyof typeof FRAME_KIND];
  const elsewhere = snapshot
    .list(kind)
    .filter((r) => {
      const spec = r.spec as { hosts?: string[]; host?: string };
      const hosts = kind === 'VirtualService' ? (spec.hosts ?? []) : [spec.host ?? ''];
      return hosts.some((h) => fqdn(h, r.metadata.namespace, domainSuffix) === f.host);
    })
    .map((r) => resourceKey(kind, r.metadata.namespace, r.metadata.name).slice(kind.length + 1));
  const message =
    elsewhere.length > 0
      ? `no ${kind} in namespace ${f.namespace} serves ${f.host}; ${elsewhere.join(', ')} does, but a TrafficFilter patches only its own namespace's resources: create the filter in that namespace`
      : `no ${kind} serves ${f.host} in namespace ${f.namespace}, so ${f.feature} is not applied: a TrafficFilter patches the host's ${kind} (its frame) and creates none; write one for the host (or a Router)`;
  return { severity: 'warning', path: 'spec.target.host', message };
}

function noPlace(f: TrafficFilterInput): Problem {
  if (f.subset !== undefined) {
    return {
      severity: 'warning',
      path: 'spec.target.subset',
      message: `the DestinationRule of ${f.host} has no subset named ${JSON.stringify(f.subset)}, so ${f.feature} is not applied: name one of its subsets, or leave subset out`,
    };
  }
  return {
    severity: 'warning',
    path: f.route !== undefined ? 'spec.target.route' : 'spec.target.host',
    message:
      f.route !== undefined
        ? `the VirtualService of ${f.host} has no forwarding http route named ${JSON.stringify(f.route)}, so ${f.feature} is not applied: name one of its routes (with a route: list), or leave route out`
        : `the VirtualService of ${f.host} has no forwarding http route (only redirects, direct responses or delegations), so ${f.feature} is not applied`,
  };
}
