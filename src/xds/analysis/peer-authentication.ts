/**
 * Warnings about PeerAuthentication, the classic mTLS mistakes:
 *
 * - IST0113 (Istio's MTLSPolicyConflict, since retired there with its alpha policies; the code
 *   still names the mistake): a DestinationRule sends plaintext (`tls.mode: DISABLE`, or `tls`
 *   with no mode) or one-way TLS (SIMPLE: no client certificate) to workloads a
 *   PeerAuthentication makes STRICT, so those calls are refused. MUTUAL is left alone: its
 *   client certificate may well come from the mesh CA.
 *   Reported on the DestinationRule, at the `tls` that decides, for rules that some client
 *   namespace actually uses (ruleForHost, as the translation resolves them);
 * - IST0127 (NoMatchingWorkloadsFound): a policy whose selector matches no registered workload
 *   in its namespace, and a selector policy in the root namespace, which Istio ignores.
 *
 * `portLevelMtls` without a selector is rejected by validation (as Istio rejects it), so it
 * needs no warning here.
 */
import { fqdn, hostMatches } from '../../api/hosts.js';
import {
  destinationRuleSelectorLabels,
  type ClientTLSSettings,
  type Subset,
  type TrafficPolicy,
} from '../../api/networking/types.js';
import type { Resource } from '../../api/resource.js';
import type { Endpoint, Service } from '../../registry/types.js';
import type { DestinationRuleResource, PushContext } from '../translate/push-context.js';
import { ruleForHost } from '../translate/scope.js';
import { labelsMatch } from '../translate/selectors.js';
import { meshMtlsDefaults, modeForPort } from '../translate/security/peer-authn.js';

export const MTLS_CONFLICT_CODE = 'IST0113';
export const NO_MATCHING_WORKLOADS_CODE = 'IST0127';

export interface PeerAuthenticationWarning {
  readonly resource: Resource;
  /** Field path in the resource, e.g. `spec.trafficPolicy.tls.mode`. */
  readonly path: string;
  readonly message: string;
  /** What the warning is about, for de-duplicating log lines. */
  readonly reference: string;
}

/**
 * Whether a tls block sends no client certificate a STRICT workload accepts: DISABLE, no mode
 * (the enum's zero is DISABLE) or SIMPLE.
 */
function plaintext(tls: ClientTLSSettings | undefined): boolean {
  return tls !== undefined && (tls.mode === undefined || tls.mode === 'DISABLE' || tls.mode === 'SIMPLE');
}

/** The tls that decides for a port (and subset), with its path; Istio's overlay order. */
function decidingTls(
  rule: DestinationRuleResource,
  port: number,
  subset: { s: Subset; i: number } | undefined,
): { tls: ClientTLSSettings; path: string } | undefined {
  const levels: { policy: TrafficPolicy | undefined; path: string }[] = [
    { policy: rule.spec.trafficPolicy, path: 'spec.trafficPolicy' },
  ];
  if (subset !== undefined)
    levels.push({ policy: subset.s.trafficPolicy, path: `spec.subsets[${subset.i}].trafficPolicy` });
  let found: { tls: ClientTLSSettings; path: string } | undefined;
  for (const { policy, path } of levels) {
    if (policy?.tls !== undefined) found = { tls: policy.tls, path: `${path}.tls` };
    const i = (policy?.portLevelSettings ?? []).findIndex((p) => p.port.number === port);
    const pl = i >= 0 ? policy?.portLevelSettings?.[i] : undefined;
    if (pl?.tls !== undefined) found = { tls: pl.tls, path: `${path}.portLevelSettings[${i}].tls` };
  }
  return found;
}

/** Namespaces a client could be in: every namespace the push knows of. */
function knownNamespaces(push: PushContext): string[] {
  const out = new Set<string>([push.rootNamespace]);
  for (const s of push.index.services) out.add(s.namespace);
  for (const r of push.index.destinationRules.rules) out.add(r.metadata.namespace);
  return [...out].sort();
}

/** Whether some client uses `rule` for `service` (selector rules: the workloads they select). */
function ruleInUse(
  push: PushContext,
  rule: DestinationRuleResource,
  service: Service,
  namespaces: string[],
): boolean {
  if (destinationRuleSelectorLabels(rule.spec) !== undefined) return true;
  return namespaces.some((ns) => ruleForHost(push, service.hostname, ns, service.namespace) === rule);
}

function strictWorkloads(
  push: PushContext,
  endpoints: readonly Endpoint[],
  service: Service,
  port: number,
): Endpoint[] {
  const sp = service.ports.find((p) => p.number === port);
  return endpoints.filter((ep) => {
    const target = (sp !== undefined ? ep.ports[sp.name] : undefined) ?? sp?.targetPort ?? port;
    const mesh = meshMtlsDefaults(push);
    const merged = push.index.peerAuthentications.forWorkload(mesh, ep.namespace, ep.labels).merged;
    return modeForPort(merged, target) === 'STRICT';
  });
}

/** Whether a rule writes a plaintext tls anywhere (most rules do not: skip them cheaply). */
function mentionsPlaintext(rule: DestinationRuleResource): boolean {
  const policies = [rule.spec.trafficPolicy, ...(rule.spec.subsets ?? []).map((s) => s.trafficPolicy)];
  return policies.some(
    (p) => plaintext(p?.tls) || (p?.portLevelSettings ?? []).some((pl) => plaintext(pl.tls)),
  );
}

/** IST0113: DestinationRules sending plaintext to STRICT workloads. */
export function mtlsConflicts(push: PushContext): PeerAuthenticationWarning[] {
  const out: PeerAuthenticationWarning[] = [];
  const policies = push.index.peerAuthentications.all;
  const anyStrict = policies.some(
    (p) =>
      p.spec.mtls?.mode === 'STRICT' ||
      Object.values(p.spec.portLevelMtls ?? {}).some((m) => m?.mode === 'STRICT'),
  );
  if (!anyStrict) return out;
  const namespaces = knownNamespaces(push);
  const seen = new Set<string>();
  for (const rule of push.index.destinationRules.rules) {
    if (!mentionsPlaintext(rule)) continue;
    const pattern = fqdn(rule.spec.host, rule.metadata.namespace, push.domainSuffix);
    for (const service of push.index.services) {
      if (service.location === 'MESH_EXTERNAL' || !hostMatches(pattern, service.hostname)) continue;
      if (!ruleInUse(push, rule, service, namespaces)) continue;
      const all = push.index.endpoints(service.hostname);
      for (const port of service.ports) {
        const subsets = [undefined, ...(rule.spec.subsets ?? []).map((s, i) => ({ s, i }))];
        for (const subset of subsets) {
          const decided = decidingTls(rule, port.number, subset);
          if (decided === undefined || !plaintext(decided.tls)) continue;
          const endpoints = all.filter((ep) => labelsMatch(subset?.s.labels, ep.labels));
          const strict = strictWorkloads(push, endpoints, service, port.number);
          if (strict.length === 0) continue;
          const reference = `${service.hostname}:${port.number}|${decided.path}`;
          if (seen.has(`${rule.metadata.namespace}/${rule.metadata.name}|${reference}`)) continue;
          seen.add(`${rule.metadata.namespace}/${rule.metadata.name}|${reference}`);
          const who = strict
            .map((ep) => ep.workloadName ?? ep.address)
            .filter((v, i, a) => a.indexOf(v) === i)
            .join(', ');
          out.push({
            resource: rule,
            path: decided.tls.mode === undefined ? decided.path : `${decided.path}.mode`,
            reference,
            message:
              `[${MTLS_CONFLICT_CODE}] DestinationRule sends ${decided.tls.mode === 'SIMPLE' ? 'TLS without a client certificate' : 'plaintext'}` +
              ` (tls mode ${decided.tls.mode ?? 'unset, meaning DISABLE'})` +
              ` to ${service.hostname} port ${port.number}${subset ? ` subset ${subset.s.name}` : ''},` +
              ` but PeerAuthentication makes ${who} STRICT: those calls are refused` +
              ' (use ISTIO_MUTUAL, or remove tls to let auto mTLS choose)',
          });
        }
      }
    }
  }
  return out;
}

/** IST0127: selector policies that select no workload (or that Istio ignores). */
export function unmatchedPeerAuthentications(push: PushContext): PeerAuthenticationWarning[] {
  const out: PeerAuthenticationWarning[] = [];
  const workloads = push.index.services.flatMap((s) => push.index.endpoints(s.hostname));
  for (const policy of push.index.peerAuthentications.all) {
    const labels = policy.spec.selector?.matchLabels ?? {};
    if (Object.keys(labels).length === 0) continue;
    const text = Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const reference = `${policy.metadata.namespace}/${policy.metadata.name}`;
    if (policy.metadata.namespace === push.rootNamespace) {
      out.push({
        resource: policy,
        path: 'spec.selector',
        reference,
        message:
          `[${NO_MATCHING_WORKLOADS_CODE}] a PeerAuthentication with a selector in the root namespace` +
          ` ${push.rootNamespace} applies to no workload (Istio ignores it); remove the selector for a` +
          ' mesh-wide policy, or move it to the workloads’ namespace',
      });
      continue;
    }
    const matched = workloads.some(
      (ep) => ep.namespace === policy.metadata.namespace && labelsMatch(labels, ep.labels),
    );
    if (matched) continue;
    out.push({
      resource: policy,
      path: 'spec.selector.matchLabels',
      reference,
      message:
        `[${NO_MATCHING_WORKLOADS_CODE}] No matching workloads for this resource with the following labels: ${text}` +
        ` (no workload in namespace ${policy.metadata.namespace} has them, so this policy changes nothing)`,
    });
  }
  return out;
}

/** Every PeerAuthentication warning of a push. */
export function peerAuthenticationWarnings(push: PushContext): PeerAuthenticationWarning[] {
  return [...mtlsConflicts(push), ...unmatchedPeerAuthentications(push)];
}
