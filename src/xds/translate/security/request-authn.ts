/**
 * RequestAuthentication -> `envoy.filters.http.jwt_authn`, as Istio builds it
 * (pilot/pkg/security/authn/policy_applier.go, convertToEnvoyJwtConfig):
 *
 * - the jwtRules of every RequestAuthentication selected for the workload, together, sorted by
 *   issuer (stable), become providers `origins-0`, `origins-1`, ...;
 * - each provider: issuer, audiences, the keys inline (`local_jwks`: the rule's `jwks`, else what
 *   the control plane fetched from `jwksUri` or the issuer's discovery, else a JWKS that rejects
 *   every token), from_headers / from_params / from_cookies (none: Envoy's default,
 *   `Authorization: Bearer`), forward (forwardOriginalToken), forward_payload_header
 *   (outputPayloadToHeader), claim_to_headers (outputClaimToHeaders), and the verified payload
 *   in dynamic metadata under `payload` (what authorization-rules.ts matches), with `scope` and
 *   `permission` (plus spaceDelimitedClaims) split into lists;
 * - the requirement: a token that is present must verify against some provider (else 401); a
 *   request without a token passes, without identity. One provider: requires_any
 *   [provider, allow_missing]. Several: requires_any [P1, ..., Pn, requires_all [any(Pi,
 *   allow_missing)...]]; the leading Pi let a token pass when providers share a location (the
 *   and would then fail on the other providers' verdict for the same token);
 * - CORS preflights bypass the check (bypass_cors_preflight), as Istio sets it.
 */
import type { Resource } from '../../../api/resource.js';
import type { JWTRule, RequestAuthenticationSpec } from '../../../api/security/types.js';
import type { HttpFilter, JwtAuthentication, JwtProvider } from '../../../protocol/envoy-types.js';
import { packAny, TYPE } from '../../../protocol/protos.js';
import { JWT_FILTER, JWT_PAYLOAD_KEY } from './authorization-matchers.js';
import { jwksSourceId, REJECT_ALL_JWKS, type JwksSnapshot } from './jwks-source.js';

type Requirement = NonNullable<JwtAuthentication['requirement_map']>[string];

/** Claims Envoy splits on spaces into lists in the metadata, always (Istio's defaults). */
const DEFAULT_SPACE_DELIMITED = ['permission', 'scope'];

/** Every jwtRule of the selected policies, in Istio's order (by issuer, stable). */
export function jwtRulesOf(policies: readonly Resource<RequestAuthenticationSpec>[]): JWTRule[] {
  const rules = policies.flatMap((p) => p.spec.jwtRules ?? []);
  return rules
    .map((rule, i) => ({ rule, i }))
    .sort((a, b) => {
      const ia = a.rule.issuer ?? '';
      const ib = b.rule.issuer ?? '';
      return ia < ib ? -1 : ia > ib ? 1 : a.i - b.i;
    })
    .map((x) => x.rule);
}

/** The JWKS a rule's provider carries inline. */
export function inlineJwks(rule: JWTRule, jwks: JwksSnapshot): string {
  if (rule.jwks !== undefined && rule.jwks !== '') return rule.jwks;
  return jwks.get(jwksSourceId(rule)) ?? REJECT_ALL_JWKS;
}

function provider(rule: JWTRule, jwks: JwksSnapshot, clearRouteCache: boolean): JwtProvider {
  const p: JwtProvider = {
    issuer: rule.issuer ?? '',
    local_jwks: { inline_string: inlineJwks(rule, jwks) },
    payload_in_metadata: JWT_PAYLOAD_KEY,
    normalize_payload_in_metadata: {
      space_delimited_claims: [
        ...new Set([...DEFAULT_SPACE_DELIMITED, ...(rule.spaceDelimitedClaims ?? [])]),
      ].sort(),
    },
  };
  // Istio sets it everywhere but at sidecars: gateways route on claims (`@request.auth.claims`),
  // so the route is chosen again once a token is verified.
  if (clearRouteCache) p.clear_route_cache = true;
  if ((rule.audiences ?? []).length > 0) p.audiences = rule.audiences;
  if (rule.forwardOriginalToken === true) p.forward = true;
  if (rule.outputPayloadToHeader !== undefined && rule.outputPayloadToHeader !== '')
    p.forward_payload_header = rule.outputPayloadToHeader;
  if ((rule.fromHeaders ?? []).length > 0) {
    p.from_headers = (rule.fromHeaders ?? []).map((h) =>
      h.prefix === undefined || h.prefix === '' ? { name: h.name } : { name: h.name, value_prefix: h.prefix },
    );
  }
  if ((rule.fromParams ?? []).length > 0) p.from_params = rule.fromParams;
  if ((rule.fromCookies ?? []).length > 0) p.from_cookies = rule.fromCookies;
  if ((rule.outputClaimToHeaders ?? []).length > 0) {
    p.claim_to_headers = (rule.outputClaimToHeaders ?? []).map((c) => ({
      header_name: c.header,
      claim_name: c.claim,
    }));
  }
  return p;
}

const byName = (name: string): Requirement => ({ provider_name: name });
const anyOf = (requirements: Requirement[]): Requirement => ({ requires_any: { requirements } });

/** The jwt_authn config for some rules; undefined when there are none. */
export function jwtAuthentication(
  rules: readonly JWTRule[],
  jwks: JwksSnapshot,
  clearRouteCache = false,
): JwtAuthentication | undefined {
  if (rules.length === 0) return undefined;
  const providers: Record<string, JwtProvider> = {};
  const names = rules.map((rule, i) => {
    const name = `origins-${i}`;
    providers[name] = provider(rule, jwks, clearRouteCache);
    return name;
  });
  const orMissing = names.map((n) => anyOf([byName(n), { allow_missing: {} }]));
  const requires =
    names.length === 1
      ? (orMissing[0] as Requirement)
      : anyOf([...names.map(byName), { requires_all: { requirements: orMissing } }]);
  return {
    providers,
    rules: [{ match: { prefix: '/' }, requires }],
    bypass_cors_preflight: true,
  };
}

export function jwtAuthnFilter(config: JwtAuthentication): HttpFilter {
  return { name: JWT_FILTER, typed_config: packAny(TYPE.jwtAuthn, config) };
}

/** The jwks sources the rules read (for generator keys and for the fetcher). */
export function jwksSourcesOf(rules: readonly JWTRule[]): string[] {
  return [...new Set(rules.filter((r) => r.jwks === undefined || r.jwks === '').map(jwksSourceId))].sort();
}
