/**
 * What one proxy can see: the Sidecar that applies to it, the services visible after
 * exportTo and Sidecar egress scoping, and the DestinationRule that applies to each service.
 * Every result here is memoized on a key that names the derived inputs (the chosen Sidecar,
 * the chosen rules), never on the raw proxy, so proxies with equal views share results.
 */
import { fqdn, hostMatches, isWildcardHost } from '../../api/hosts.js';
import type { Service } from '../../registry/types.js';
import type { ProxyNode } from '../proxy-node.js';
import { digest, fingerprint } from './memo.js';
import {
  exportedTo,
  resourceFp,
  type DestinationRuleResource,
  type PushContext,
  type SidecarResource,
} from './push-context.js';

export interface ProxyScope {
  /** Digest of everything below; equal keys mean equal scopes. */
  readonly key: string;
  readonly namespace: string;
  readonly sidecar: SidecarResource | undefined;
  /** Visible services, sorted by hostname. */
  readonly services: readonly Service[];
  readonly servicesByHost: ReadonlyMap<string, Service>;
}

/**
 * Istio's choice of Sidecar: one in the proxy's namespace whose workloadSelector matches its
 * labels (oldest first), else the namespace's selector-less one, else the root namespace's.
 */
export function selectSidecar(push: PushContext, proxy: ProxyNode): SidecarResource | undefined {
  // Sidecar resources configure sidecars (and proxyless clients); gateways see every service.
  if (proxy.type === 'router') return undefined;
  const sidecars = push.index.sidecars;
  return (
    sidecars.selected(proxy.namespace, proxy.labels) ??
    sidecars.namespaceDefault(proxy.namespace) ??
    sidecars.namespaceDefault(push.rootNamespace)
  );
}

/**
 * Whether an egress host `ns/dnsName` admits a service. `.` is the Sidecar's namespace, except
 * in the root namespace's default Sidecar, where Istio reads it as the proxy's namespace.
 */
export function egressAdmits(entry: string, sidecarNamespace: string, service: Service): boolean {
  const slash = entry.indexOf('/');
  const ns = slash >= 0 ? entry.slice(0, slash) : '*';
  const host = slash >= 0 ? entry.slice(slash + 1) : entry;
  if (ns === '~') return false;
  if (ns !== '*' && (ns === '.' ? sidecarNamespace : ns) !== service.namespace) return false;
  return host === '*' || hostMatches(host, service.hostname);
}

export function proxyScope(push: PushContext, proxy: ProxyNode): ProxyScope {
  const sidecar = selectSidecar(push, proxy);
  // The scope reads the namespace, the Sidecar, every service and the root namespace (fixed
  // along a memo's lineage); endpoints are not read, so they do not move it.
  const key = `scope|${proxy.namespace}|${sidecar ? resourceFp(sidecar) : '-'}|${push.index.catalog.fingerprint}`;
  return push.index.cached(key, () => buildScope(push, proxy.namespace, sidecar));
}

/** Candidates an egress entry can admit, found by hostname or namespace instead of a scan. */
function egressCandidates(push: PushContext, entry: string, sidecarNs: string): readonly Service[] {
  const catalog = push.index.catalog;
  const slash = entry.indexOf('/');
  const ns = slash >= 0 ? entry.slice(0, slash) : '*';
  const host = slash >= 0 ? entry.slice(slash + 1) : entry;
  if (ns === '~') return [];
  if (!isWildcardHost(host)) return catalog.byHostname(host);
  return ns === '*' ? catalog.services : catalog.inNamespace(ns === '.' ? sidecarNs : ns);
}

/**
 * The egress hosts of a Sidecar. One without `egress` (or with an empty list) sees what a proxy
 * without a Sidecar sees (every host of every namespace), as Istio reads it: its ingress or
 * outboundTrafficPolicy may be all the resource is for.
 */
export function egressHosts(sidecar: SidecarResource): readonly string[] {
  const hosts = (sidecar.spec.egress ?? []).flatMap((l) => l.hosts);
  return (sidecar.spec.egress ?? []).length === 0 ? ['*/*'] : hosts;
}

function buildScope(push: PushContext, namespace: string, sidecar: SidecarResource | undefined): ProxyScope {
  const sidecarNs =
    sidecar === undefined || sidecar.metadata.namespace === push.rootNamespace
      ? namespace
      : sidecar.metadata.namespace;
  let services: Service[];
  if (sidecar === undefined) {
    services = push.index.services.filter((s) => exportedTo(s.exportTo, s.namespace, namespace));
  } else {
    const chosen = new Set<Service>();
    for (const entry of egressHosts(sidecar)) {
      for (const s of egressCandidates(push, entry, sidecarNs)) {
        if (
          !chosen.has(s) &&
          egressAdmits(entry, sidecarNs, s) &&
          exportedTo(s.exportTo, s.namespace, namespace)
        ) {
          chosen.add(s);
        }
      }
    }
    services = push.index.catalog.ordered(chosen);
  }
  const parts = [namespace, sidecar ? resourceFp(sidecar) : '-', ...services.map((s) => fingerprint(s))];
  return Object.freeze({
    key: digest(parts.join(',')),
    namespace,
    sidecar,
    services,
    servicesByHost: new Map(services.map((s) => [s.hostname, s])),
  });
}

/** DestinationRules with a workloadSelector in the proxy's namespace that select it. */
export function selectedRules(push: PushContext, proxy: ProxyNode): DestinationRuleResource[] {
  return push.index.destinationRules.selecting(proxy.namespace, proxy.labels);
}

export interface RuleView {
  /** Digest of the rule chosen for each visible service. */
  readonly key: string;
  readonly rules: ReadonlyMap<string, DestinationRuleResource>;
}

/**
 * The DestinationRule for each visible service, in Istio's lookup order: rules selecting this
 * workload, then the proxy's namespace, then the service's namespace, then the root namespace,
 * then any namespace exporting to the proxy's. Within a tier an exact host beats a wildcard,
 * a longer wildcard beats a shorter one, then the oldest rule wins (no merging).
 */
export function ruleView(push: PushContext, proxy: ProxyNode, scope: ProxyScope): RuleView {
  const selected = selectedRules(push, proxy);
  const rulesIndex = push.index.destinationRules;
  // Reads the scope, the selected rules and every selector-less rule (their fingerprint).
  const key = `rules|${scope.key}|${selected.map(resourceFp).join(',')}|${rulesIndex.fingerprint}`;
  return push.index.cached(key, () => {
    const rules = new Map<string, DestinationRuleResource>();
    const parts: string[] = [];
    const selectedPatterns = selected.map((rule) => ({
      rule,
      pattern: fqdn(rule.spec.host, rule.metadata.namespace, push.domainSuffix),
    }));
    for (const svc of scope.services) {
      const best = ruleForHost(push, svc.hostname, scope.namespace, svc.namespace, selectedPatterns);
      if (best) {
        rules.set(svc.hostname, best);
        parts.push(`${svc.hostname}=${resourceFp(best)}`);
      }
    }
    return Object.freeze({ key: digest(parts.join(',')), rules });
  });
}

/**
 * The DestinationRule that decides `host` for workloads in `clientNamespace`, in the lookup
 * order of ruleView: `selected` (rules whose workloadSelector picks the workload, with their
 * fully qualified host patterns), then rules in the client's namespace, the service's, the root
 * namespace, then any namespace exporting to the client's. Also what the analyzers ask, so a
 * warning about a rule means what the generated config does.
 */
export function ruleForHost(
  push: PushContext,
  host: string,
  clientNamespace: string,
  serviceNamespace: string | undefined,
  selected: readonly { rule: DestinationRuleResource; pattern: string }[] = [],
): DestinationRuleResource | undefined {
  const candidates = push.index.destinationRules.forHost(host, clientNamespace);
  const tiers = [
    selected,
    candidates.filter((c) => c.rule.metadata.namespace === clientNamespace),
    candidates.filter((c) => c.rule.metadata.namespace === serviceNamespace),
    candidates.filter((c) => c.rule.metadata.namespace === push.rootNamespace),
    candidates,
  ];
  for (const tier of tiers) {
    const best = bestRule(tier, host);
    if (best) return best;
  }
  return undefined;
}

function bestRule(
  rules: readonly { rule: DestinationRuleResource; pattern: string }[],
  host: string,
): DestinationRuleResource | undefined {
  let best: DestinationRuleResource | undefined;
  let bestScore = -1;
  for (const { rule, pattern } of rules) {
    if (!hostMatches(pattern, host)) continue;
    // Exact names outrank every wildcard; longer wildcards are more specific.
    const score = pattern.startsWith('*') ? pattern.length : Number.MAX_SAFE_INTEGER;
    if (score > bestScore) {
      best = rule;
      bestScore = score;
    }
  }
  return best;
}

/** The hostnames a proxy can see, sorted. */
export function visibleServices(push: PushContext, proxy: ProxyNode): readonly string[] {
  return proxyScope(push, proxy).services.map((s) => s.hostname);
}
