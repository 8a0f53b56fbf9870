/**
 * One RBAC filter applied to one request or connection, as Envoy's RBAC filters do it: the shadow
 * engine first (counted as `shadow_allowed` / `shadow_denied`, its result and matched policy
 * written as dynamic metadata, never enforced), then the enforced engine (`allowed` / `denied`;
 * a LOG engine always allows and counts `logged` / `not_logged`, setting `access_log_hint`).
 * Stats are named as Envoy names them: `<prefix>rbac.<rules_stat_prefix>allowed`, with `<prefix>`
 * `http.<stat_prefix>.` for the HTTP filter and the filter's own stat_prefix for the network one.
 *
 * Exports:
 *   evaluateRbacFilter(filter, request, scope): RbacFilterResult
 */
import type { RbacFilter } from '../model/config.js';
import type { RbacRequest } from '../policy/rbac.js';

export interface RbacScope {
  /** `http.<stat_prefix>` or the network filter's stat_prefix. */
  statPrefix: string;
  /** Where the shadow result goes: envoy.filters.http.rbac or envoy.filters.network.rbac. */
  metadataNamespace: string;
  /** Dynamic metadata of this request or connection, by namespace; written in place. */
  metadata: Record<string, unknown>;
  count?: (stat: string) => void;
}

export interface RbacFilterResult {
  allowed: boolean;
  /** The policy behind the decision (the matched DENY policy), for the response details. */
  policy?: string | undefined;
}

/** Envoy's statPrefixJoin: one dot between the parts. */
function join(prefix: string, rest: string): string {
  if (prefix === '') return rest;
  return prefix.endsWith('.') ? prefix + rest : `${prefix}.${rest}`;
}

export function evaluateRbacFilter(
  filter: RbacFilter,
  request: RbacRequest,
  scope: RbacScope,
): RbacFilterResult {
  const base = join(scope.statPrefix, 'rbac.');
  const count = (name: string) => scope.count?.(base + name);
  if (filter.shadowRules) {
    const shadow = filter.shadowRules.decide(request);
    const p = filter.shadowRulesStatPrefix;
    count(`${p}${shadow.allowed ? 'shadow_allowed' : 'shadow_denied'}`);
    const ns = (scope.metadata[scope.metadataNamespace] ??= {}) as Record<string, unknown>;
    if (shadow.policy !== undefined) ns[`${p}shadow_effective_policy_id`] = shadow.policy;
    ns[`${p}shadow_engine_result`] = shadow.allowed ? 'allowed' : 'denied';
  }
  const engine = filter.rules;
  if (!engine) return { allowed: true };
  const decision = engine.decide(request);
  const p = filter.rulesStatPrefix;
  if (engine.action === 'LOG') {
    const matched = decision.policy !== undefined;
    count(`${p}${matched ? 'logged' : 'not_logged'}`);
    const common = (scope.metadata['envoy.common'] ??= {}) as Record<string, unknown>;
    common.access_log_hint = matched;
  }
  count(`${p}${decision.allowed ? 'allowed' : 'denied'}`);
  return decision.allowed ? { allowed: true } : { allowed: false, policy: decision.policy };
}
