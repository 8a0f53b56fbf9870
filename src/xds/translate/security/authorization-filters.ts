/**
 * The RBAC filters for the AuthorizationPolicies selected for one workload, as Istio's builder
 * arranges them (pilot/pkg/security/authz/builder/builder.go):
 *
 * - one filter per action, in Istio's order: AUDIT (RBAC action LOG, first so that denied
 *   requests are audited too), DENY, ALLOW. CUSTOM policies come before all of them (see
 *   `customDenyFilters`). No policy of an action: no filter for it, so with no ALLOW policy
 *   everything the DENY filter lets through is allowed;
 * - every rule is one RBAC policy named `ns[NS]-policy[NAME]-rule[N]`; a policy without rules
 *   is one policy that never matches (so an ALLOW policy without rules denies everything that
 *   no other ALLOW policy allows), and `rules: [{}]` matches every request;
 * - a policy annotated `istio.io/dry-run: "true"` goes to the filter's shadow rules: evaluated
 *   and logged, never enforced (shadow_rules_stat_prefix `istio_dry_run_allow_` / `_deny_`);
 * - HTTP filter chains get `envoy.filters.http.rbac`; TCP ones `envoy.filters.network.rbac`
 *   (stat prefix `tcp.`), built with the TCP rules of authorization-rules.ts.
 *
 * CUSTOM policies go first: a shadow RBAC filter and the provider's ext_authz (see customFilters
 * and authorization-ext-authz.ts). When the provider cannot be used, Istio's fallback is kept:
 * the requests the policy selects are denied (a DENY filter, policies suffixed
 * `-deny-due-to-bad-CUSTOM-action`), never allowed.
 */
import type { Resource } from '../../../api/resource.js';
import type { AuthorizationPolicySpec } from '../../../api/security/types.js';
import type { HttpFilter, NetworkFilter, RbacConfig, RbacPolicy } from '../../../protocol/envoy-types.js';
import { packAny, TYPE } from '../../../protocol/protos.js';
import {
  EXT_AUTHZ_PREFIX,
  EXT_AUTHZ_SHADOW_PREFIX,
  type ResolvedProvider,
} from './authorization-ext-authz.js';
import { MATCH_NEVER, translateRule, type RbacAction } from './authorization-rules.js';

export const HTTP_RBAC_FILTER = 'envoy.filters.http.rbac';
export const NETWORK_RBAC_FILTER = 'envoy.filters.network.rbac';
export const DRY_RUN_ANNOTATION = 'istio.io/dry-run';
const HTTP_EXT_AUTHZ_FILTER = 'envoy.filters.http.ext_authz';
const NETWORK_EXT_AUTHZ_FILTER = 'envoy.filters.network.ext_authz';
const TCP_STAT_PREFIX = 'tcp.';
const BAD_CUSTOM_SUFFIX = '-deny-due-to-bad-CUSTOM-action';

type Policy = Resource<AuthorizationPolicySpec>;

export function ruleName(namespace: string, name: string, rule: number, provider?: string): string {
  const pre = provider === undefined ? '' : `${EXT_AUTHZ_PREFIX}-${provider}-`;
  return `${pre}ns[${namespace}]-policy[${name}]-rule[${rule}]`;
}

export function isDryRun(p: Policy): boolean {
  return p.metadata.annotations?.[DRY_RUN_ANNOTATION]?.toLowerCase() === 'true';
}

/** The RBAC policies of some AuthorizationPolicies, by rule name. */
function rbacPolicies(
  policies: readonly Policy[],
  action: RbacAction,
  forTcp: boolean,
  provider?: (p: Policy) => string,
): Record<string, RbacPolicy> {
  const out: Record<string, RbacPolicy> = {};
  for (const p of policies) {
    const { namespace, name } = p.metadata;
    const rules = p.spec.rules ?? [];
    rules.forEach((rule, i) => {
      const t = translateRule(rule, namespace, forTcp, action);
      if (t.policy !== undefined) out[ruleName(namespace, name, i, provider?.(p))] = t.policy;
    });
    if (rules.length === 0) out[ruleName(namespace, name, 0, provider?.(p))] = MATCH_NEVER;
  }
  return out;
}

interface RbacFilterConfig {
  rules?: RbacConfig;
  shadow_rules?: RbacConfig;
  shadow_rules_stat_prefix?: string;
}

/** The enforced and dry-run halves of one action's filter; undefined when no policy has it. */
function actionConfig(
  policies: readonly Policy[],
  action: RbacAction,
  forTcp: boolean,
): RbacFilterConfig | undefined {
  if (policies.length === 0) return undefined;
  const enforced = policies.filter((p) => !isDryRun(p));
  const dry = policies.filter(isDryRun);
  const out: RbacFilterConfig = {};
  if (enforced.length > 0) out.rules = { action, policies: rbacPolicies(enforced, action, forTcp) };
  if (dry.length > 0) {
    out.shadow_rules = { action, policies: rbacPolicies(dry, action, forTcp) };
    const prefix =
      action === 'ALLOW' ? 'istio_dry_run_allow_' : action === 'DENY' ? 'istio_dry_run_deny_' : '';
    if (prefix !== '') out.shadow_rules_stat_prefix = prefix;
  }
  return out;
}

/** CUSTOM policies whose provider cannot be used: deny what they select (Istio's fallback). */
function customDenyConfig(custom: readonly Policy[], forTcp: boolean): RbacFilterConfig {
  const policies = rbacPolicies(custom, 'DENY', forTcp, (p) => p.spec.provider?.name ?? '');
  const renamed: Record<string, RbacPolicy> = {};
  for (const [k, v] of Object.entries(policies)) renamed[`${k}${BAD_CUSTOM_SUFFIX}`] = v;
  return { rules: { action: 'DENY', policies: renamed } };
}

/**
 * The CUSTOM part: for the one provider the enforced CUSTOM policies name, a shadow RBAC filter
 * marking their requests and the provider's ext_authz (authorization-ext-authz.ts). Several
 * providers on one workload (Istio: only behind PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS,
 * off by default) or an unusable provider: a DENY filter for what the policies select. Dry-run
 * CUSTOM policies are left out (nothing calls the provider for them).
 */
function customFilters<F>(
  custom: readonly Policy[],
  forTcp: boolean,
  resolve: ProviderResolver,
  make: { rbac: (c: RbacFilterConfig) => F; extAuthz: (r: ResolvedProvider & { ok: true }) => F | undefined },
): F[] {
  const enforced = custom.filter((p) => !isDryRun(p));
  if (enforced.length === 0) return [];
  const providers = [...new Set(enforced.map((p) => p.spec.provider?.name ?? ''))].sort();
  const resolved = providers.length === 1 ? resolve(providers[0] as string) : undefined;
  if (resolved === undefined || !resolved.ok) return [make.rbac(customDenyConfig(enforced, forTcp))];
  const ext = make.extAuthz(resolved);
  // An HTTP provider has no TCP filter: Istio leaves CUSTOM unenforced on TCP chains then.
  if (ext === undefined) return [];
  const shadow: RbacFilterConfig = {
    shadow_rules: {
      action: 'DENY',
      policies: rbacPolicies(enforced, 'DENY', forTcp, (p) => p.spec.provider?.name ?? ''),
    },
    shadow_rules_stat_prefix: EXT_AUTHZ_SHADOW_PREFIX,
  };
  return [make.rbac(shadow), ext];
}

/** The selected policies split by action, each list in selection order. */
export function byAction(
  policies: readonly Policy[],
): Record<'CUSTOM' | 'AUDIT' | 'DENY' | 'ALLOW', Policy[]> {
  const out = { CUSTOM: [] as Policy[], AUDIT: [] as Policy[], DENY: [] as Policy[], ALLOW: [] as Policy[] };
  for (const p of policies) out[p.spec.action ?? 'ALLOW'].push(p);
  return out;
}

/** The local RBAC filters, in Istio's order: AUDIT, DENY, ALLOW. */
function localConfigs(policies: readonly Policy[], forTcp: boolean): RbacFilterConfig[] {
  const a = byAction(policies);
  return [
    actionConfig(a.AUDIT, 'LOG', forTcp),
    actionConfig(a.DENY, 'DENY', forTcp),
    actionConfig(a.ALLOW, 'ALLOW', forTcp),
  ].filter((c) => c !== undefined);
}

/** How CUSTOM policies reach their provider (authorization-ext-authz.ts resolveProvider). */
export type ProviderResolver = (name: string) => ResolvedProvider;
const NO_PROVIDERS: ProviderResolver = (name) => ({ ok: false, error: `no extension provider ${name}` });

export interface AuthorizationFilters<F> {
  /** Before authentication (jwt_authn). */
  custom: F[];
  /** After authentication. */
  local: F[];
}

/** HTTP RBAC (and ext_authz) filters for an HTTP connection manager (inbound sidecar or gateway). */
export function httpAuthorizationFilters(
  policies: readonly Policy[],
  resolve: ProviderResolver = NO_PROVIDERS,
): AuthorizationFilters<HttpFilter> {
  const rbac = (config: RbacFilterConfig): HttpFilter => ({
    name: HTTP_RBAC_FILTER,
    typed_config: packAny(TYPE.rbac, config),
  });
  return {
    custom: customFilters(byAction(policies).CUSTOM, false, resolve, {
      rbac,
      extAuthz: (r) => ({ name: HTTP_EXT_AUTHZ_FILTER, typed_config: packAny(TYPE.extAuthz, r.http) }),
    }),
    local: localConfigs(policies, false).map(rbac),
  };
}

/** Network RBAC (and ext_authz) filters for a TCP filter chain, before its tcp_proxy. */
export function networkAuthorizationFilters(
  policies: readonly Policy[],
  resolve: ProviderResolver = NO_PROVIDERS,
): NetworkFilter[] {
  const rbac = (config: RbacFilterConfig): NetworkFilter => ({
    name: NETWORK_RBAC_FILTER,
    typed_config: packAny(TYPE.networkRbac, { ...config, stat_prefix: TCP_STAT_PREFIX }),
  });
  return [
    ...customFilters(byAction(policies).CUSTOM, true, resolve, {
      rbac,
      extAuthz: (r) =>
        r.tcp === undefined
          ? undefined
          : { name: NETWORK_EXT_AUTHZ_FILTER, typed_config: packAny(TYPE.networkExtAuthz, r.tcp) },
    }),
    ...localConfigs(policies, true).map(rbac),
  ];
}
