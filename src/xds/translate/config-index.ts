/**
 * Indexes over the configuration of one push: DestinationRules by host, VirtualServices by host
 * and by gateway, Sidecars by namespace and selector. Each is built from one kind's resources
 * only, so a push whose resources of that kind are the very objects of the previous push (config
 * snapshots reuse unchanged, frozen resources) reuses the previous index (`sameResources`).
 * Each carries a fingerprint of every resource it holds, for cache keys of results that read
 * "all rules" or "all VirtualServices".
 */
import { fqdn, hostMatches, isWildcardHost } from '../../api/hosts.js';
import { destinationRuleSelectorLabels } from '../../api/networking/types.js';
import type { Resource } from '../../api/resource.js';
import type {
  DestinationRuleSpec,
  GatewaySpec,
  SidecarSpec,
  VirtualServiceSpec,
} from '../../api/networking/types.js';
import { digest, fingerprint } from './memo.js';
import { gatewayRef } from './route-match.js';
import { exportedTo, SelectorIndex, type Labels } from './selectors.js';

export type VirtualServiceResource = Resource<VirtualServiceSpec>;
export type DestinationRuleResource = Resource<DestinationRuleSpec>;
export type GatewayResource = Resource<GatewaySpec>;
export type SidecarResource = Resource<SidecarSpec>;

/** Whether two lists hold the same objects in the same order (then every index over them holds). */
export function sameResources(a: readonly Resource[], b: readonly Resource[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function setFingerprint(resources: readonly Resource[]): string {
  return digest(resources.map(fingerprint).join(','));
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  let list = map.get(key);
  if (!list) map.set(key, (list = []));
  list.push(value);
}

const NO_SELECTOR: Labels = {};

export class DestinationRuleIndex {
  /** Fingerprint of every rule: results reading "all rules" put it in their keys. */
  readonly fingerprint: string;
  /** Rules with a workloadSelector apply only in their namespace, to the workloads selected. */
  private readonly selectorRules = new Map<string, SelectorIndex<DestinationRuleResource>>();
  /** Rules without a workloadSelector, by exact host (lower case); wildcard hosts apart. */
  private readonly exact = new Map<string, number[]>();
  private readonly wildcard: number[] = [];
  private readonly patterns: string[];

  /** `rules` oldest first. */
  constructor(
    readonly source: readonly Resource[],
    readonly rules: readonly DestinationRuleResource[],
    domainSuffix: string,
  ) {
    this.fingerprint = setFingerprint(rules);
    this.patterns = rules.map((r) => fqdn(r.spec.host, r.metadata.namespace, domainSuffix));
    const withSelector = new Map<string, DestinationRuleResource[]>();
    rules.forEach((r, i) => {
      if (destinationRuleSelectorLabels(r.spec) !== undefined) {
        push(withSelector, r.metadata.namespace, r);
        return;
      }
      const pattern = this.patterns[i] as string;
      if (isWildcardHost(pattern)) this.wildcard.push(i);
      else push(this.exact, pattern.toLowerCase(), i);
    });
    for (const [ns, list] of withSelector) {
      this.selectorRules.set(
        ns,
        new SelectorIndex(list, (r) => destinationRuleSelectorLabels(r.spec) ?? NO_SELECTOR),
      );
    }
  }

  /** Rules with a workloadSelector in `namespace` that select `labels`, oldest first. */
  selecting(namespace: string, labels: Labels): DestinationRuleResource[] {
    return this.selectorRules.get(namespace)?.matching(labels) ?? [];
  }

  /**
   * Selector-less rules whose host matches `host` and that are exported to `namespace`, oldest
   * first, each with its fully qualified host pattern.
   */
  forHost(host: string, namespace: string): { rule: DestinationRuleResource; pattern: string }[] {
    const positions = [...(this.exact.get(host.toLowerCase()) ?? [])];
    for (const i of this.wildcard) if (hostMatches(this.patterns[i] as string, host)) positions.push(i);
    positions.sort((a, b) => a - b);
    const out: { rule: DestinationRuleResource; pattern: string }[] = [];
    for (const i of positions) {
      const rule = this.rules[i] as DestinationRuleResource;
      if (exportedTo(rule.spec.exportTo, rule.metadata.namespace, namespace)) {
        out.push({ rule, pattern: this.patterns[i] as string });
      }
    }
    return out;
  }
}

export interface IndexedVirtualService {
  readonly vs: VirtualServiceResource;
  /** Hosts, fully qualified. */
  readonly hosts: readonly string[];
  /** Bound to sidecars: no gateways, or `mesh` among them. */
  readonly mesh: boolean;
}

export class VirtualServiceIndex {
  /** Fingerprint of every VirtualService, delegates included. */
  readonly fingerprint: string;
  /** Fingerprint of the delegates alone: all that merging a host's routes reads besides its roots. */
  readonly delegatesFingerprint: string;
  /** VirtualServices with hosts (roots), oldest first. */
  readonly roots: readonly IndexedVirtualService[];
  /** Delegate VirtualServices (no hosts) by `namespace/name`. */
  readonly delegates: ReadonlyMap<string, VirtualServiceResource>;
  /** Roots by each host as written (fully qualified), and those with a wildcard host. */
  private readonly exact = new Map<string, number[]>();
  private readonly wildcard: number[] = [];
  private readonly byGateway = new Map<string, number[]>();

  /** `all` oldest first. */
  constructor(
    readonly source: readonly Resource[],
    all: readonly VirtualServiceResource[],
    domainSuffix: string,
  ) {
    this.fingerprint = setFingerprint(all);
    const roots: IndexedVirtualService[] = [];
    const delegates = new Map<string, VirtualServiceResource>();
    for (const vs of all) {
      if ((vs.spec.hosts ?? []).length === 0) {
        delegates.set(`${vs.metadata.namespace}/${vs.metadata.name}`, vs);
        continue;
      }
      const gateways = vs.spec.gateways ?? [];
      roots.push({
        vs,
        hosts: (vs.spec.hosts ?? []).map((h) => fqdn(h, vs.metadata.namespace, domainSuffix)),
        mesh: gateways.length === 0 || gateways.includes('mesh'),
      });
    }
    roots.forEach((r, i) => {
      for (const h of new Set(r.hosts)) push(this.exact, h, i);
      if (r.hosts.some(isWildcardHost)) this.wildcard.push(i);
      for (const g of new Set(
        (r.vs.spec.gateways ?? []).map((g) => gatewayRef(g, r.vs.metadata.namespace)),
      )) {
        push(this.byGateway, g, i);
      }
    });
    this.roots = roots;
    this.delegates = delegates;
    this.delegatesFingerprint = setFingerprint([...delegates.values()]);
  }

  /**
   * The mesh VirtualServices exported to `namespace` that decide `host`: every one naming it
   * exactly, else those whose most specific matching wildcard is the longest (oldest first).
   */
  deciding(host: string, namespace: string): VirtualServiceResource[] {
    const visible = (r: IndexedVirtualService): boolean =>
      r.mesh && exportedTo(r.vs.spec.exportTo, r.vs.metadata.namespace, namespace);
    const exact = (this.exact.get(host) ?? [])
      .map((i) => this.roots[i] as IndexedVirtualService)
      .filter(visible);
    if (exact.length > 0) return exact.map((r) => r.vs);
    let best = -1;
    let out: VirtualServiceResource[] = [];
    for (const i of this.wildcard) {
      const r = this.roots[i] as IndexedVirtualService;
      if (!visible(r)) continue;
      let longest = -1;
      for (const h of r.hosts)
        if (isWildcardHost(h) && hostMatches(h, host) && h.length > longest) longest = h.length;
      if (longest < 0) continue;
      if (longest > best) {
        best = longest;
        out = [r.vs];
      } else if (longest === best) {
        out.push(r.vs);
      }
    }
    return out;
  }

  /** Roots bound to any of the gateways `refs` (`namespace/name`), oldest first. */
  boundTo(refs: Iterable<string>): IndexedVirtualService[] {
    const positions = new Set<number>();
    for (const ref of refs) for (const i of this.byGateway.get(ref) ?? []) positions.add(i);
    return [...positions].sort((a, b) => a - b).map((i) => this.roots[i] as IndexedVirtualService);
  }
}

export class SidecarIndex {
  readonly fingerprint: string;
  private readonly selecting = new Map<string, SelectorIndex<SidecarResource>>();
  private readonly defaults = new Map<string, SidecarResource>();

  /** `sidecars` oldest first. */
  constructor(
    readonly source: readonly Resource[],
    sidecars: readonly SidecarResource[],
  ) {
    this.fingerprint = setFingerprint(sidecars);
    const withSelector = new Map<string, SidecarResource[]>();
    for (const sc of sidecars) {
      const ns = sc.metadata.namespace;
      if (sc.spec.workloadSelector?.labels !== undefined) push(withSelector, ns, sc);
      else if (!this.defaults.has(ns)) this.defaults.set(ns, sc);
    }
    for (const [ns, list] of withSelector) {
      this.selecting.set(ns, new SelectorIndex(list, (s) => s.spec.workloadSelector?.labels ?? NO_SELECTOR));
    }
  }

  /** The oldest Sidecar in `namespace` whose workloadSelector selects `labels`. */
  selected(namespace: string, labels: Labels): SidecarResource | undefined {
    return this.selecting.get(namespace)?.matching(labels)[0];
  }

  /** The oldest selector-less Sidecar of `namespace`. */
  namespaceDefault(namespace: string): SidecarResource | undefined {
    return this.defaults.get(namespace);
  }
}
