/**
 * The Envoy matchers an AuthorizationPolicy value becomes, as Istio writes them
 * (pilot/pkg/security/authz/matcher and model/permission.go, principal.go): a value is exact,
 * `prefix*`, `*suffix` or `*` (presence, a `.+` regex so an empty value does not match), and
 * hosts compare case-insensitively. Pure builders, typed with Envoy's generated messages.
 */
import type {
  HeaderMatcher,
  RbacPermission,
  RbacPrincipal,
  StringMatcher,
} from '../../../protocol/envoy-types.js';
import { packAny, TYPE } from '../../../protocol/protos.js';

type MetadataMatcher = NonNullable<RbacPrincipal['metadata']>;
type ValueMatcher = NonNullable<MetadataMatcher['value']>;
type CidrRange = NonNullable<RbacPrincipal['direct_remote_ip']>;

/** Where the jwt_authn filter leaves the verified payload (`payload_in_metadata`, as Istio). */
export const JWT_FILTER = 'envoy.filters.http.jwt_authn';
export const JWT_PAYLOAD_KEY = 'payload';
export const SPIFFE_PREFIX = 'spiffe://';

/** Go's regexp.QuoteMeta, for RE2. */
export function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

export const regex = (re: string): StringMatcher => ({ safe_regex: { regex: re } });
export const exact = (v: string, ignoreCase = false): StringMatcher =>
  ignoreCase ? { exact: v, ignore_case: true } : { exact: v };
export const prefix = (v: string, ignoreCase = false): StringMatcher =>
  ignoreCase ? { prefix: v, ignore_case: true } : { prefix: v };
export const suffix = (v: string, ignoreCase = false): StringMatcher =>
  ignoreCase ? { suffix: v, ignore_case: true } : { suffix: v };

/** Matches any non-empty value. */
export const MATCH_ANY: StringMatcher = regex('.+');

/**
 * Istio's StringMatcherWithPrefix: `*` is presence (`.+`, the extra prefix ignored), `*x` a
 * suffix (a regex when there is an extra prefix), `x*` a prefix, anything else exact.
 */
export function valueMatcher(v: string, extra = ''): StringMatcher {
  if (v === '*') return MATCH_ANY;
  if (v.startsWith('*')) {
    return extra === '' ? suffix(v.slice(1)) : regex(`${quoteMeta(extra)}.*${quoteMeta(v.slice(1))}`);
  }
  if (v.endsWith('*')) return prefix(extra + v.slice(0, -1));
  return exact(extra + v);
}

/** Istio's HeaderMatcher / HostMatcher: `*` is presence; hosts ignore case. */
export function headerMatcher(name: string, v: string, ignoreCase = false): HeaderMatcher {
  if (v === '*') return { name, present_match: true };
  if (v.startsWith('*')) return { name, string_match: suffix(v.slice(1), ignoreCase) };
  if (v.endsWith('*')) return { name, string_match: prefix(v.slice(0, -1), ignoreCase) };
  return { name, string_match: exact(v, ignoreCase) };
}

/** `10.1.2.3` (a /32 or /128) or `10.0.0.0/16`, as Istio's AddrStrToCidrRange. */
export function cidrRange(value: string): CidrRange {
  const slash = value.indexOf('/');
  if (slash < 0) return { address_prefix: value, prefix_len: { value: value.includes(':') ? 128 : 32 } };
  return { address_prefix: value.slice(0, slash), prefix_len: { value: Number(value.slice(slash + 1)) } };
}

export function stringValue(m: StringMatcher): ValueMatcher {
  return { string_match: m };
}

/** One value matcher for several values: the value itself for one, an or_match for more. */
export function orValues(matchers: ValueMatcher[]): ValueMatcher {
  return matchers.length === 1 ? (matchers[0] as ValueMatcher) : { or_match: { value_matchers: matchers } };
}

export function metadataMatcher(
  filter: string,
  path: readonly string[],
  value: ValueMatcher,
): MetadataMatcher {
  return { filter, path: path.map((key) => ({ key })), value };
}

/**
 * A JWT claim in the jwt_authn payload: Istio's MetadataListValueMatcher with extended JWT, a
 * claim that is either a list holding a matching value or a matching value itself.
 */
export function jwtClaimMatcher(claims: readonly string[], value: ValueMatcher): MetadataMatcher {
  return metadataMatcher(JWT_FILTER, [JWT_PAYLOAD_KEY, ...claims], {
    or_match: { value_matchers: [{ list_match: { one_of: value } }, value] },
  });
}

/** A single string claim (`iss`, `sub`) in the jwt_authn payload. */
export function jwtStringClaim(claim: string, m: StringMatcher): MetadataMatcher {
  return metadataMatcher(JWT_FILTER, [JWT_PAYLOAD_KEY, claim], stringValue(m));
}

// Permission and principal combinators (Istio's permissionAnd, principalOr, ...).
export const permissionAny = (): RbacPermission => ({ any: true });
export const permissionAnd = (rules: RbacPermission[]): RbacPermission => ({ and_rules: { rules } });
export const permissionOr = (rules: RbacPermission[]): RbacPermission => ({ or_rules: { rules } });
export const permissionNot = (rule: RbacPermission): RbacPermission => ({ not_rule: rule });
export const principalAny = (): RbacPrincipal => ({ any: true });
export const principalAnd = (ids: RbacPrincipal[]): RbacPrincipal => ({ and_ids: { ids } });
export const principalOr = (ids: RbacPrincipal[]): RbacPrincipal => ({ or_ids: { ids } });
export const principalNot = (id: RbacPrincipal): RbacPrincipal => ({ not_id: id });

/** The mTLS peer identity (the certificate's URI SAN) matched by `m`. */
export function principalAuthenticated(m: StringMatcher): RbacPrincipal {
  return { authenticated: { principal_name: m } };
}

const MATCH_ONE_TEMPLATE = '{*}';
const MATCH_ANY_TEMPLATE = '{**}';

export function isPathTemplate(path: string): boolean {
  return path.includes(MATCH_ONE_TEMPLATE) || path.includes(MATCH_ANY_TEMPLATE);
}

/**
 * A `{*}` / `{**}` path as Envoy's uri_template matcher (`*` one segment, `**` any), the
 * extension Istio names `uri-template`.
 */
export function pathTemplatePermission(path: string): RbacPermission {
  const template = path.split(MATCH_ANY_TEMPLATE).join('**').split(MATCH_ONE_TEMPLATE).join('*');
  return {
    uri_template: {
      name: 'uri-template',
      typed_config: packAny(TYPE.uriTemplateMatch, { path_template: template }),
    },
  };
}
