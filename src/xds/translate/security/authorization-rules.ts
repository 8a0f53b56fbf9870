/**
 * One AuthorizationPolicy rule -> one Envoy RBAC policy, following Istio's model
 * (pilot/pkg/security/authz/model/model.go and generator.go):
 *
 * - the policy's permissions are one `and_rules` per `to` (any of them), its principals one
 *   `and_ids` per `from` (any of them); `when` conditions join every `to` (destination.ip/port,
 *   connection.sni, experimental.envoy.filters.*) or every `from` (all other keys);
 * - within one `to`/`from`, each field is a condition: `values` become an or of matchers,
 *   `notValues` a not of an or; Istio's field order is kept (hosts, methods, paths, ports;
 *   principals, requestPrincipals, serviceAccounts, trustDomains, namespaces, remoteIpBlocks,
 *   ipBlocks), then the `when` conditions in the order written;
 * - a rule without `to` (or `from`) matches any request (or source).
 *
 * On a TCP filter chain the HTTP-only attributes (hosts, methods, paths, requestPrincipals,
 * request.headers, request.auth.*) cannot be evaluated. Istio's rule, kept here: an ALLOW rule
 * using one is dropped whole (the policy allows less); in DENY and AUDIT policies just those
 * values are dropped, so the rule matches more (the policy denies more). The result says which,
 * for the warning the control plane shows.
 *
 * Request principals and `request.auth.*` read the verified JWT payload the jwt_authn filter
 * leaves in dynamic metadata (`envoy.filters.http.jwt_authn` -> `payload`), as current Istio
 * emits them ("extended JWT"): `ISS/SUB` is an and of matchers on the `iss` and `sub` claims
 * (split at the last `/`, since issuers are URLs); audiences, presenter and claims match a claim
 * that is a list holding the value or the value itself (or_match of list_match and the value).
 * This works on upstream Envoy, with no Istio-specific filter.
 */
import type { RbacPermission, RbacPolicy, RbacPrincipal } from '../../../protocol/envoy-types.js';
import type { AuthorizationRule, Condition, Operation, Source } from '../../../api/security/types.js';
import {
  cidrRange,
  headerMatcher,
  isPathTemplate,
  jwtClaimMatcher,
  jwtStringClaim,
  MATCH_ANY,
  metadataMatcher,
  orValues,
  pathTemplatePermission,
  permissionAnd,
  permissionAny,
  permissionNot,
  permissionOr,
  prefix,
  principalAnd,
  principalAny,
  principalAuthenticated,
  principalNot,
  principalOr,
  quoteMeta,
  regex,
  SPIFFE_PREFIX,
  stringValue,
  suffix,
  exact,
  valueMatcher,
} from './authorization-matchers.js';

export type RbacAction = 'ALLOW' | 'DENY' | 'LOG';

/** Why a value cannot be translated for this filter chain (an HTTP attribute on TCP). */
class NotApplicable {
  constructor(readonly key: string) {}
}

type Gen<T> = (value: string, forTcp: boolean) => T | NotApplicable;
type ExtendedGen<T> = (values: readonly string[], forTcp: boolean) => T | NotApplicable;

interface Condition_<T> {
  key: string;
  values: readonly string[];
  notValues: readonly string[];
  one?: Gen<T>;
  all?: ExtendedGen<T>;
}

const httpOnly = (key: string, forTcp: boolean): NotApplicable | undefined =>
  forTcp ? new NotApplicable(key) : undefined;

// --- permissions ----------------------------------------------------------------------------

const hostGen: Gen<RbacPermission> = (v, tcp) =>
  httpOnly('hosts', tcp) ?? { header: headerMatcher(':authority', v, true) };
const methodGen: Gen<RbacPermission> = (v, tcp) =>
  httpOnly('methods', tcp) ?? { header: headerMatcher(':method', v) };
const pathGen: Gen<RbacPermission> = (v, tcp) =>
  httpOnly('paths', tcp) ??
  (isPathTemplate(v) ? pathTemplatePermission(v) : { url_path: { path: valueMatcher(v) } });
const portGen: Gen<RbacPermission> = (v) => ({ destination_port: Number(v) });
const destIpGen: Gen<RbacPermission> = (v) => ({ destination_ip: cidrRange(v) });
const sniGen: Gen<RbacPermission> = (v) => ({ requested_server_name: valueMatcher(v) });

/** `experimental.envoy.filters.a.b[c]`: metadata of filter `envoy.filters.a.b` at key `c`; `[v]` is a list. */
function envoyFilterGen(key: string): ExtendedGen<RbacPermission> {
  const [filter, name] = splitBracket(key.slice('experimental.'.length));
  return (values) => ({
    metadata: metadataMatcher(
      filter,
      [name],
      orValues(
        values.map((v) =>
          v.startsWith('[') && v.endsWith(']')
            ? { list_match: { one_of: stringValue(valueMatcher(v.slice(1, -1))) } }
            : stringValue(valueMatcher(v)),
        ),
      ),
    ),
  });
}

// --- principals -----------------------------------------------------------------------------

const principalGen: Gen<RbacPrincipal> = (v) => principalAuthenticated(valueMatcher(v, SPIFFE_PREFIX));
const namespaceGen: Gen<RbacPrincipal> = (v) =>
  principalAuthenticated(regex(`.*/ns/${v.split('*').map(quoteMeta).join('.*')}/.*`));
const ipGen: Gen<RbacPrincipal> = (v) => ({ direct_remote_ip: cidrRange(v) });
const remoteIpGen: Gen<RbacPrincipal> = (v) => ({ remote_ip: cidrRange(v) });

/** `NAME` (the policy's namespace) or `NS/NAME`: the SPIFFE path `/ns/NS/.../sa/NAME`. */
function serviceAccountGen(policyNamespace: string): Gen<RbacPrincipal> {
  return (v) => {
    const slash = v.indexOf('/');
    const [ns, sa] = slash < 0 ? [policyNamespace, v] : [v.slice(0, slash), v.slice(slash + 1)];
    return principalAuthenticated(regex(`spiffe://.+/ns/${quoteMeta(ns)}/(.+/|)sa/${quoteMeta(sa)}(/.+)?`));
  };
}

const trustDomainGen: Gen<RbacPrincipal> = (v) => {
  if (v === '*') return principalAuthenticated(prefix(SPIFFE_PREFIX));
  if (!v.includes('*')) return principalAuthenticated(prefix(`${SPIFFE_PREFIX}${v}/`));
  const star = v.indexOf('*');
  return principalAuthenticated(
    regex(`spiffe://${quoteMeta(v.slice(0, star))}[^/]*${quoteMeta(v.slice(star + 1))}/.*`),
  );
};

const requestHeaderGen =
  (key: string): Gen<RbacPrincipal> =>
  (v, tcp) =>
    httpOnly(key, tcp) ?? { header: headerMatcher(splitBracket(key)[1], v) };

/** `ISS/SUB` with Istio's wildcard forms, split at the last `/`. */
const requestPrincipalGen: ExtendedGen<RbacPrincipal> = (values, tcp) => {
  const na = httpOnly('requestPrincipals', tcp);
  if (na !== undefined) return na;
  const ids = values.map((value) => {
    const idx = value.lastIndexOf('/');
    const found = idx >= 0;
    const [iss, sub] = found ? [value.slice(0, idx), value.slice(idx + 1)] : [value, ''];
    let mi = exact(iss);
    let ms = exact(sub);
    if (value === '*') [mi, ms] = [MATCH_ANY, MATCH_ANY];
    else if (value.startsWith('*')) {
      if (found) [mi, ms] = [iss === '*' ? MATCH_ANY : suffix(iss.slice(1)), exact(sub)];
      else [mi, ms] = [MATCH_ANY, suffix(value.slice(1))];
    } else if (value.endsWith('*')) {
      if (found) [mi, ms] = [exact(iss), sub === '*' ? MATCH_ANY : prefix(sub.slice(0, -1))];
      else [mi, ms] = [prefix(value.slice(0, -1)), MATCH_ANY];
    }
    return principalAnd([{ metadata: jwtStringClaim('iss', mi) }, { metadata: jwtStringClaim('sub', ms) }]);
  });
  return ids.length === 1 ? (ids[0] as RbacPrincipal) : principalOr(ids);
};

const claimGen =
  (claims: readonly string[], key: string): ExtendedGen<RbacPrincipal> =>
  (values, tcp) =>
    httpOnly(key, tcp) ?? {
      metadata: jwtClaimMatcher(claims, orValues(values.map((v) => stringValue(valueMatcher(v))))),
    };

// --- keys -----------------------------------------------------------------------------------

/** `a[b]` -> [a, b]. */
function splitBracket(key: string): [string, string] {
  const open = key.indexOf('[');
  return [key.slice(0, open), key.slice(open + 1, -1)];
}

/** `[a][b]` -> [a, b] (nested claims); anything else is one name in brackets. */
function nestedNames(s: string): string[] {
  const out: string[] = [];
  const re = /\[([^[\]]*)\]/gy;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(s)) !== null) {
    out.push(m[1] as string);
    end = re.lastIndex;
  }
  return end === s.length && out.length > 0 ? out : [s.slice(1, -1)];
}

function whenCondition(
  c: Condition,
  policyNamespace: string,
):
  | { side: 'permission'; cond: Condition_<RbacPermission> }
  | { side: 'principal'; cond: Condition_<RbacPrincipal> } {
  const base = { key: c.key, values: c.values ?? [], notValues: c.notValues ?? [] };
  const k = c.key;
  const perm = (g: Partial<Condition_<RbacPermission>>) => ({
    side: 'permission' as const,
    cond: { ...base, ...g },
  });
  const prin = (g: Partial<Condition_<RbacPrincipal>>) => ({
    side: 'principal' as const,
    cond: { ...base, ...g },
  });
  if (k === 'destination.ip') return perm({ one: destIpGen });
  if (k === 'destination.port') return perm({ one: portGen });
  if (k === 'connection.sni') return perm({ one: sniGen });
  if (k.startsWith('experimental.envoy.filters.')) return perm({ all: envoyFilterGen(k) });
  if (k === 'source.ip') return prin({ one: ipGen });
  if (k === 'remote.ip') return prin({ one: remoteIpGen });
  if (k === 'source.namespace') return prin({ one: namespaceGen });
  if (k === 'source.trustDomain') return prin({ one: trustDomainGen });
  if (k === 'source.serviceAccount') return prin({ one: serviceAccountGen(policyNamespace) });
  if (k === 'source.principal') return prin({ one: principalGen });
  if (k === 'request.auth.principal') return prin({ all: requestPrincipalGen });
  if (k === 'request.auth.audiences') return prin({ all: claimGen(['aud'], k) });
  if (k === 'request.auth.presenter') return prin({ all: claimGen(['azp'], k) });
  if (k.startsWith('request.headers')) return prin({ one: requestHeaderGen(k) });
  if (k.startsWith('request.auth.claims'))
    return prin({ all: claimGen(nestedNames(k.slice('request.auth.claims'.length)), k) });
  // The validator refuses every other key. One that slips through is treated like an HTTP
  // attribute on TCP: fail closed (an ALLOW rule is dropped, a DENY rule matches more).
  return perm({ one: () => new NotApplicable(k) });
}

function operationConditions(o: Operation): Condition_<RbacPermission>[] {
  const c = (
    key: string,
    values: string[] | undefined,
    notValues: string[] | undefined,
    one: Gen<RbacPermission>,
  ) => ({ key, values: values ?? [], notValues: notValues ?? [], one });
  return [
    c('hosts', o.hosts, o.notHosts, hostGen),
    c('methods', o.methods, o.notMethods, methodGen),
    c('paths', o.paths, o.notPaths, pathGen),
    c('ports', o.ports, o.notPorts, portGen),
  ];
}

function sourceConditions(s: Source, policyNamespace: string): Condition_<RbacPrincipal>[] {
  const c = (
    key: string,
    values: string[] | undefined,
    notValues: string[] | undefined,
    g: { one?: Gen<RbacPrincipal>; all?: ExtendedGen<RbacPrincipal> },
  ) => ({ key, values: values ?? [], notValues: notValues ?? [], ...g });
  return [
    c('principals', s.principals, s.notPrincipals, { one: principalGen }),
    c('requestPrincipals', s.requestPrincipals, s.notRequestPrincipals, { all: requestPrincipalGen }),
    c('serviceAccounts', s.serviceAccounts, s.notServiceAccounts, {
      one: serviceAccountGen(policyNamespace),
    }),
    c('trustDomains', s.trustDomains, s.notTrustDomains, { one: trustDomainGen }),
    c('namespaces', s.namespaces, s.notNamespaces, { one: namespaceGen }),
    c('remoteIpBlocks', s.remoteIpBlocks, s.notRemoteIpBlocks, { one: remoteIpGen }),
    c('ipBlocks', s.ipBlocks, s.notIpBlocks, { one: ipGen }),
  ];
}

/** What one rule became on one kind of filter chain. */
export interface RuleTranslation {
  /** Undefined: the rule is dropped (an ALLOW rule with HTTP-only attributes on TCP). */
  policy: RbacPolicy | undefined;
  /** HTTP-only attributes the TCP translation could not use (dropped rule, or widened DENY/AUDIT). */
  httpOnly: string[];
}

type Combine<T> = { and: (xs: T[]) => T; or: (xs: T[]) => T; not: (x: T) => T; any: () => T };
const PERMISSION: Combine<RbacPermission> = {
  and: permissionAnd,
  or: permissionOr,
  not: permissionNot,
  any: permissionAny,
};
const PRINCIPAL: Combine<RbacPrincipal> = {
  and: principalAnd,
  or: principalOr,
  not: principalNot,
  any: principalAny,
};

class Dropped extends Error {}

/** One `to` or `from` entry: an and of its conditions (any when none). */
function generate<T>(
  conds: readonly Condition_<T>[],
  combine: Combine<T>,
  forTcp: boolean,
  action: RbacAction,
  skipped: Set<string>,
): T {
  const and: T[] = [];
  const accept = (r: T | NotApplicable): T | undefined => {
    if (!(r instanceof NotApplicable)) return r;
    skipped.add(r.key);
    // ALLOW: the whole rule goes; DENY and AUDIT: only this value (the rule matches more).
    if (action === 'ALLOW') throw new Dropped();
    return undefined;
  };
  for (const c of conds) {
    for (const [list, negate] of [
      [c.values, false],
      [c.notValues, true],
    ] as const) {
      if (list.length === 0) continue;
      let m: T | undefined;
      if (c.all !== undefined) m = accept(c.all(list, forTcp));
      else {
        const or = list.map((v) => accept((c.one as Gen<T>)(v, forTcp))).filter((x) => x !== undefined);
        if (or.length > 0) m = combine.or(or);
      }
      if (m !== undefined) and.push(negate ? combine.not(m) : m);
    }
  }
  return combine.and(and.length > 0 ? and : [combine.any()]);
}

/** Translates one rule of a policy in `policyNamespace` (see the module comment). */
export function translateRule(
  rule: AuthorizationRule,
  policyNamespace: string,
  forTcp: boolean,
  action: RbacAction,
): RuleTranslation {
  const basePermission: Condition_<RbacPermission>[] = [];
  const basePrincipal: Condition_<RbacPrincipal>[] = [];
  for (const w of rule.when ?? []) {
    const t = whenCondition(w, policyNamespace);
    if (t.side === 'permission') basePermission.push(t.cond);
    else basePrincipal.push(t.cond);
  }
  const tos = (rule.to ?? []).map((t) => [...operationConditions(t.operation), ...basePermission]);
  const froms = (rule.from ?? []).map((f) => [
    ...sourceConditions(f.source, policyNamespace),
    ...basePrincipal,
  ]);
  if (tos.length === 0) tos.push(basePermission);
  if (froms.length === 0) froms.push(basePrincipal);
  const skipped = new Set<string>();
  try {
    const permissions = tos.map((conds) => generate(conds, PERMISSION, forTcp, action, skipped));
    const principals = froms.map((conds) => generate(conds, PRINCIPAL, forTcp, action, skipped));
    return { policy: { permissions, principals }, httpOnly: [...skipped].sort() };
  } catch (err) {
    if (!(err instanceof Dropped)) throw err;
    return { policy: undefined, httpOnly: [...skipped].sort() };
  }
}

/** Istio's policy for an ALLOW/AUDIT policy without rules: matches nothing. */
export const MATCH_NEVER: RbacPolicy = Object.freeze({
  permissions: [{ not_rule: { any: true } }],
  principals: [{ not_id: { any: true } }],
});
