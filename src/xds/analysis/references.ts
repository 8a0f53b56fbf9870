/**
 * Istio's cross-reference analyzers, over a set of resources (files) and, when it is known in
 * full, the service registry (a `trellis up` manifest's workloads plus ServiceEntries):
 *
 * - IST0101 ReferencedResourceNotFound: a VirtualService naming a Gateway that does not exist
 *   (`spec.gateways`, short names in its namespace, `ns/name`, `mesh` reserved); with the
 *   registry, a destination host no service has, and a Sidecar whose selector matches no workload;
 * - IST0109: VirtualServices bound to the mesh defining the same host in the same scope
 *   (exportTo), as Istio's conflictingmeshgatewayhosts analyzer groups them;
 * - IST0173 / IST0174 (with the registry): a subset selecting no workload of its host, and a
 *   DestinationRule host matching no service;
 * - TRL0101: DestinationRules one namespace holds twice for the same host and workloads (Trellis
 *   applies the first, Istio merges).
 *
 * Checks that need the registry are skipped without one: a control plane's services also come
 * from registrations no file shows.
 */
import { fqdn, hostMatches, isWildcardHost } from '../../api/hosts.js';
import type {
  Destination,
  DestinationRuleSpec,
  SidecarSpec,
  VirtualServiceSpec,
} from '../../api/networking/types.js';
import { destinationRuleSelectorLabels } from '../../api/networking/types.js';
import type { Resource } from '../../api/resource.js';
import type { ServiceIndexSnapshot } from '../../registry/types.js';
import { byCreation, labelsMatch } from '../translate/selectors.js';
import { MESSAGES, coded, type MessageType } from './messages.js';

export interface Finding {
  readonly resource: Resource;
  /** Field path in the resource, e.g. `spec.gateways[0]`. */
  readonly path: string;
  readonly type: MessageType;
  /** `[CODE] text`. */
  readonly message: string;
}

export interface AnalysisInput {
  readonly resources: readonly Resource[];
  /** Every service and workload there is; undefined when some may come from elsewhere. */
  readonly registry?: ServiceIndexSnapshot;
  readonly domainSuffix?: string;
}

const MESH_GATEWAY = 'mesh';

function ofKind<S>(resources: readonly Resource[], kind: string): Resource<S>[] {
  return resources.filter((r) => r.kind === kind) as Resource<S>[];
}

function finding(resource: Resource, path: string, type: MessageType, text: string): Finding {
  return { resource, path, type, message: coded(type, text) };
}

/** Every destination of a VirtualService with the field path of its `destination`. */
function destinations(
  spec: VirtualServiceSpec,
): { path: string; destination: Destination; mirror: boolean }[] {
  const out: { path: string; destination: Destination; mirror: boolean }[] = [];
  (spec.http ?? []).forEach((route, i) => {
    (route.route ?? []).forEach((d, j) =>
      out.push({
        path: `spec.http[${i}].route[${j}].destination`,
        destination: d.destination,
        mirror: false,
      }),
    );
    if (route.mirror !== undefined)
      out.push({ path: `spec.http[${i}].mirror`, destination: route.mirror, mirror: true });
    (route.mirrors ?? []).forEach((m, j) =>
      out.push({
        path: `spec.http[${i}].mirrors[${j}].destination`,
        destination: m.destination,
        mirror: true,
      }),
    );
  });
  for (const kind of ['tls', 'tcp'] as const) {
    (spec[kind] ?? []).forEach((route, i) =>
      (route.route ?? []).forEach((d, j) =>
        out.push({
          path: `spec.${kind}[${i}].route[${j}].destination`,
          destination: d.destination,
          mirror: false,
        }),
      ),
    );
  }
  return out;
}

/** IST0101 for gateways: `spec.gateways` entries naming no Gateway. */
export function missingGateways(input: AnalysisInput): Finding[] {
  const gateways = new Set(
    input.resources
      .filter((r) => r.kind === 'Gateway')
      .map((g) => `${g.metadata.namespace}/${g.metadata.name}`),
  );
  const out: Finding[] = [];
  for (const vs of ofKind<VirtualServiceSpec>(input.resources, 'VirtualService')) {
    (vs.spec.gateways ?? []).forEach((name, i) => {
      if (name === MESH_GATEWAY) return;
      const full = name.includes('/') ? name : `${vs.metadata.namespace}/${name}`;
      if (gateways.has(full)) return;
      out.push(
        finding(
          vs,
          `spec.gateways[${i}]`,
          MESSAGES.ReferencedResourceNotFound,
          `Referenced gateway not found: ${JSON.stringify(name)} (no Gateway ${full}; the VirtualService's routes are served at no gateway)`,
        ),
      );
    });
  }
  return out;
}

function serviceFor(registry: ServiceIndexSnapshot, pattern: string): boolean {
  return registry.services.some((s) => hostMatches(pattern, s.hostname) || hostMatches(s.hostname, pattern));
}

/** IST0101 for hosts (registry known): destinations no service has. */
export function missingHosts(input: AnalysisInput): Finding[] {
  const registry = input.registry;
  if (registry === undefined) return [];
  const out: Finding[] = [];
  for (const vs of ofKind<VirtualServiceSpec>(input.resources, 'VirtualService')) {
    for (const { path, destination, mirror } of destinations(vs.spec)) {
      const host = fqdn(destination.host, vs.metadata.namespace, input.domainSuffix);
      if (isWildcardHost(host)) continue;
      if (registry.services.some((s) => hostMatches(s.hostname, host))) continue;
      out.push(
        finding(
          vs,
          `${path}.host`,
          MESSAGES.ReferencedResourceNotFound,
          `Referenced ${mirror ? 'mirror host' : 'host'} not found: ${JSON.stringify(destination.host)} (no service ${host}; requests routed to it fail with 503 NC)`,
        ),
      );
    }
  }
  return out;
}

/** IST0174 and IST0173 (registry known): rules for no service, subsets selecting no workload. */
export function destinationRuleTargets(input: AnalysisInput): Finding[] {
  const registry = input.registry;
  if (registry === undefined) return [];
  const out: Finding[] = [];
  for (const dr of ofKind<DestinationRuleSpec>(input.resources, 'DestinationRule')) {
    const pattern = fqdn(dr.spec.host, dr.metadata.namespace, input.domainSuffix);
    if (!serviceFor(registry, pattern)) {
      out.push(
        finding(
          dr,
          'spec.host',
          MESSAGES.UnknownDestinationRuleHost,
          `The host ${dr.spec.host} defined in the DestinationRule does not match any services in the mesh (no service ${pattern})`,
        ),
      );
      continue;
    }
    const endpoints = registry.services
      .filter((s) => hostMatches(pattern, s.hostname))
      .flatMap((s) => registry.endpoints(s.hostname));
    (dr.spec.subsets ?? []).forEach((subset, i) => {
      if (endpoints.some((ep) => labelsMatch(subset.labels, ep.labels))) return;
      const labels = Object.entries(subset.labels ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      out.push(
        finding(
          dr,
          `spec.subsets[${i}].labels`,
          MESSAGES.DestinationRuleSubsetNotSelectPods,
          `The Subset ${subset.name} defined in the DestinationRule does not select any pods (no workload of ${pattern} has ${labels}); traffic routed to it fails with 503 UH`,
        ),
      );
    });
  }
  return out;
}

/** IST0101 for Sidecar selectors (registry known): a selector matching no workload in its namespace. */
export function sidecarSelectors(input: AnalysisInput): Finding[] {
  const registry = input.registry;
  if (registry === undefined) return [];
  const endpoints = registry.services.flatMap((s) => registry.endpoints(s.hostname));
  const out: Finding[] = [];
  for (const sc of ofKind<SidecarSpec>(input.resources, 'Sidecar')) {
    const labels = sc.spec.workloadSelector?.labels;
    if (labels === undefined || Object.keys(labels).length === 0) continue;
    const ns = sc.metadata.namespace;
    if (endpoints.some((ep) => ep.namespace === ns && labelsMatch(labels, ep.labels))) continue;
    const selector = Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    out.push(
      finding(
        sc,
        'spec.workloadSelector.labels',
        MESSAGES.ReferencedResourceNotFound,
        `Referenced selector not found: ${JSON.stringify(selector)} (no workload in namespace ${ns} has these labels, so this Sidecar applies to nothing)`,
      ),
    );
  }
  return out;
}

/** The scopes a VirtualService's hosts are visible in: `*` or namespaces (Istio's exportTo). */
function scopes(vs: Resource<VirtualServiceSpec>): string[] {
  const exportTo = vs.spec.exportTo;
  if (exportTo === undefined || exportTo.length === 0 || exportTo.includes('*')) return ['*'];
  return [...new Set(exportTo.map((e) => (e === '.' ? vs.metadata.namespace : e)))];
}

/** IST0109: mesh VirtualServices defining the same host in the same scope. */
export function conflictingMeshHosts(input: AnalysisInput): Finding[] {
  const byHost = new Map<string, { vs: Resource<VirtualServiceSpec>; index: number; host: string }[]>();
  for (const vs of ofKind<VirtualServiceSpec>(input.resources, 'VirtualService')) {
    const gws = vs.spec.gateways ?? [];
    if (gws.length > 0 && !gws.includes(MESH_GATEWAY)) continue;
    for (const scope of scopes(vs)) {
      (vs.spec.hosts ?? []).forEach((h, index) => {
        const host = fqdn(h, vs.metadata.namespace, input.domainSuffix);
        const key = `${scope}|${host}`;
        byHost.set(key, [...(byHost.get(key) ?? []), { vs, index, host }]);
      });
    }
  }
  // A host exported to every namespace conflicts with the same host in each namespace scope.
  for (const [key, list] of byHost) {
    const [scope, host] = key.split('|') as [string, string];
    if (scope === '*') continue;
    for (const other of byHost.get(`*|${host}`) ?? []) if (!list.includes(other)) list.push(other);
  }
  const out: Finding[] = [];
  const reported = new Set<string>();
  for (const list of byHost.values()) {
    // Each VirtualService once, at the first of its hosts that conflicts.
    const distinct = list.filter((e, i) => list.findIndex((o) => o.vs === e.vs) === i);
    if (distinct.length < 2) continue;
    const names = distinct.map((e) => `${e.vs.metadata.namespace}/${e.vs.metadata.name}`).sort();
    for (const e of distinct) {
      const id = `${e.vs.metadata.namespace}/${e.vs.metadata.name}|${e.host}`;
      if (reported.has(id)) continue;
      reported.add(id);
      out.push(
        finding(
          e.vs,
          `spec.hosts[${e.index}]`,
          MESSAGES.ConflictingMeshGatewayVirtualServiceHosts,
          `The VirtualServices ${names.join(',')} associated with mesh gateway define the same host ${e.host}; only one of them routes it. Merge them into a single VirtualService`,
        ),
      );
    }
  }
  return out;
}

/** TRL0101: DestinationRules for the same host and workloads in one namespace; the later ones lose. */
export function conflictingDestinationRules(input: AnalysisInput): Finding[] {
  const first = new Map<string, Resource<DestinationRuleSpec>>();
  const out: Finding[] = [];
  // In the translation's precedence (oldest, then namespace/name): the first one is applied.
  for (const dr of ofKind<DestinationRuleSpec>(input.resources, 'DestinationRule').sort(byCreation)) {
    const selector = JSON.stringify(Object.entries(destinationRuleSelectorLabels(dr.spec) ?? {}).sort());
    const host = fqdn(dr.spec.host, dr.metadata.namespace, input.domainSuffix);
    const key = `${dr.metadata.namespace}|${host}|${selector}`;
    const winner = first.get(key);
    if (winner === undefined) {
      first.set(key, dr);
      continue;
    }
    const theirs = new Set((winner.spec.subsets ?? []).map((s) => s.name));
    const lost = (dr.spec.subsets ?? []).map((s) => s.name).filter((n) => !theirs.has(n));
    out.push(
      finding(
        dr,
        'spec.host',
        MESSAGES.ConflictingDestinationRules,
        `DestinationRules ${dr.metadata.namespace}/${winner.metadata.name} and ${dr.metadata.namespace}/${dr.metadata.name} are both for ${host}: Trellis applies only ${winner.metadata.name}` +
          (lost.length > 0 ? `, so subsets ${lost.join(', ')} of this one do not exist` : '') +
          '. Merge them into one rule',
      ),
    );
  }
  return out;
}

/** Every cross-reference finding, in analyzer order. */
export function referenceFindings(input: AnalysisInput): Finding[] {
  return [
    ...missingGateways(input),
    ...missingHosts(input),
    ...destinationRuleTargets(input),
    ...sidecarSelectors(input),
    ...conflictingMeshHosts(input),
    ...conflictingDestinationRules(input),
  ];
}
