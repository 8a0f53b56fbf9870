/**
 * Security policies that are accepted and enforced, but not the way their author probably
 * expects; shown by the control plane beside the config problems (controlplane/config-warnings):
 *
 * - a rule with HTTP-only fields (methods, paths, hosts, request principals, request headers,
 *   request.auth.*) in a policy that selects a workload with a TCP port: on that port an ALLOW
 *   rule is dropped (its connections are denied) and a DENY or AUDIT rule loses those fields
 *   (it matches more connections), as Istio does;
 * - a targetRef Trellis reads differently from Istio (Service / ServiceEntry: enforced at the
 *   service's sidecars rather than at a waypoint) or cannot honour (GatewayClass: nothing);
 * - a CUSTOM policy whose extension provider cannot be used: what it selects is denied.
 */
import type { Resource } from '../../../api/resource.js';
import type { AuthorizationPolicySpec, RequestAuthenticationSpec } from '../../../api/security/types.js';
import { isHttpPort } from '../cluster.js';
import type { PushContext } from '../push-context.js';
import { resolveProvider } from './authorization-ext-authz.js';
import { translateRule } from './authorization-rules.js';
import {
  gatewayTarget,
  policyApplies,
  serviceTarget,
  targetRefs,
  type WorkloadTarget,
} from './policy-select.js';

export interface SecurityWarning {
  readonly resource: Resource;
  /** Field path, e.g. `spec.rules[0]`. */
  readonly path: string;
  readonly message: string;
  /** What the warning is about, for de-duplicating log lines. */
  readonly reference: string;
}

/** Sidecar workloads (from the registry) that have a TCP port: where TCP rules apply. */
function tcpWorkloads(push: PushContext): WorkloadTarget[] {
  const out = new Map<string, WorkloadTarget>();
  for (const svc of push.index.services) {
    if (svc.ports.every((p) => isHttpPort(p))) continue;
    for (const ep of push.index.endpoints(svc.hostname)) {
      const key = `${ep.namespace}|${JSON.stringify(ep.labels)}|${svc.hostname}`;
      out.set(key, {
        kind: 'sidecar',
        namespace: ep.namespace,
        labels: ep.labels,
        services: [svc.hostname],
        serviceSources: [svc.source],
      });
    }
  }
  return [...out.values()];
}

function selectsAny(
  push: PushContext,
  p: Resource<AuthorizationPolicySpec>,
  targets: WorkloadTarget[],
): boolean {
  const root = push.rootNamespace;
  return targets.some(
    (t) =>
      (p.metadata.namespace === root || p.metadata.namespace === t.namespace) &&
      policyApplies(p, t, push.domainSuffix),
  );
}

function tcpRuleWarnings(
  push: PushContext,
  policies: readonly Resource<AuthorizationPolicySpec>[],
): SecurityWarning[] {
  const out: SecurityWarning[] = [];
  let targets: WorkloadTarget[] | undefined;
  for (const p of policies) {
    const action = p.spec.action ?? 'ALLOW';
    if (action === 'CUSTOM') continue;
    const rbacAction = action === 'AUDIT' ? 'LOG' : action;
    (p.spec.rules ?? []).forEach((rule, i) => {
      const t = translateRule(rule, p.metadata.namespace, true, rbacAction);
      if (t.httpOnly.length === 0) return;
      targets ??= tcpWorkloads(push);
      if (!selectsAny(push, p, targets)) return;
      const fields = t.httpOnly.join(', ');
      const message =
        t.policy === undefined
          ? `this ALLOW rule uses ${fields}, which TCP traffic does not have: on the TCP ports of the workloads it selects the rule is skipped, so it allows no connection there`
          : `this ${action} rule uses ${fields}, which TCP traffic does not have: on the TCP ports of the workloads it selects those fields are ignored, so it matches every connection its other fields match`;
      out.push({ resource: p, path: `spec.rules[${i}]`, message, reference: `tcp:${fields}` });
    });
  }
  return out;
}

function targetWarnings(
  policies: readonly Resource<AuthorizationPolicySpec | RequestAuthenticationSpec>[],
): SecurityWarning[] {
  const out: SecurityWarning[] = [];
  for (const p of policies) {
    const field =
      p.spec.targetRefs !== undefined && p.spec.targetRefs.length > 0 ? 'targetRefs' : 'targetRef';
    targetRefs(p.spec).forEach((ref, i) => {
      const path = field === 'targetRefs' ? `spec.targetRefs[${i}]` : 'spec.targetRef';
      if (gatewayTarget(ref) !== undefined) return;
      const svc = serviceTarget(ref);
      const message =
        svc !== undefined
          ? `Istio enforces a policy attached to a ${svc.kind} at its waypoint; Trellis has no waypoints and enforces it at the sidecars of the ${svc.kind}'s workloads`
          : `${ref.kind} targets are for Istio's waypoints, which Trellis does not run: this reference selects nothing`;
      out.push({ resource: p, path, message, reference: `target:${ref.kind}/${ref.name}` });
    });
  }
  return out;
}

export function securityWarnings(push: PushContext): SecurityWarning[] {
  const index = push.index.security;
  if (index.empty) return [];
  const policies = index.authorization.source as Resource<AuthorizationPolicySpec>[];
  const custom = policies.flatMap((p): SecurityWarning[] => {
    if (p.spec.action !== 'CUSTOM') return [];
    const resolved = resolveProvider(push, p.spec.provider?.name ?? '');
    if (resolved.ok) return [];
    return [
      {
        resource: p,
        path: 'spec.provider.name',
        message: `${resolved.error}: the requests this policy selects are denied`,
        reference: 'custom',
      },
    ];
  });
  return [
    ...custom,
    ...tcpRuleWarnings(push, policies),
    ...targetWarnings([
      ...policies,
      ...(index.authentication.source as Resource<RequestAuthenticationSpec>[]),
    ]),
  ];
}
