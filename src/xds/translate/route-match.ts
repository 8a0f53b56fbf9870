/**
 * Istio HTTPMatchRequest -> Envoy RouteMatch. Pure; which matches apply to a given proxy
 * (port, sourceLabels, sourceNamespace, gateways) is decided before this by the caller.
 */
import type {
  HeaderMatcher,
  QueryParameterMatcher,
  RouteMatch,
  StringMatcher,
} from '../../protocol/envoy-types.js';
import type { HTTPMatchRequest, StringMatch } from '../../api/networking/types.js';
import { jwtClaimPath } from '../../api/networking/jwt-claim-route.js';
import {
  JWT_FILTER,
  JWT_PAYLOAD_KEY,
  jwtClaimMatcher,
  metadataMatcher,
} from './security/authorization-matchers.js';

type MetadataMatcher = NonNullable<RouteMatch['dynamic_metadata']>[number];

/** StringMatch -> Envoy StringMatcher; `{}` (Istio's "present") -> undefined. */
export function stringMatcher(m: StringMatch, ignoreCase = false): StringMatcher | undefined {
  const out: StringMatcher = {};
  if ('exact' in m) out.exact = m.exact;
  else if ('prefix' in m) out.prefix = m.prefix;
  else if ('regex' in m) out.safe_regex = { regex: m.regex };
  else return undefined;
  if (ignoreCase) out.ignore_case = true;
  return out;
}

function headerMatcher(name: string, m: StringMatch, invert: boolean): HeaderMatcher {
  const sm = stringMatcher(m);
  const out: HeaderMatcher = sm === undefined ? { name, present_match: true } : { name, string_match: sm };
  if (invert) out.invert_match = true;
  return out;
}

/**
 * `@request.auth.claims.a.b` / `@request.auth.claims[a][b]` as Istio routes on it
 * (pilot route.go translateMetadataMatch): a dynamic metadata matcher on the payload the
 * jwt_authn filter verified, the claim a string or a list holding the value. The gateway's
 * jwt_authn clears the route cache, so the route is chosen again once the token is verified;
 * a request header cannot stand in for the claim. `{}` (Istio's "present") is the claim being
 * present (Istio emits an empty string matcher there, which Envoy rejects).
 */
function claimMatcher(claims: readonly string[], m: StringMatch, invert: boolean): MetadataMatcher {
  const sm = stringMatcher(m);
  const out =
    sm === undefined
      ? metadataMatcher(JWT_FILTER, [JWT_PAYLOAD_KEY, ...claims], { present_match: true })
      : jwtClaimMatcher(claims, { string_match: sm });
  if (invert) out.invert = true;
  return out;
}

export function routeMatch(match: HTTPMatchRequest | undefined): RouteMatch {
  const out: RouteMatch = {};
  const uri = match?.uri;
  if (uri !== undefined && 'exact' in uri) out.path = uri.exact;
  else if (uri !== undefined && 'regex' in uri) out.safe_regex = { regex: uri.regex };
  else if (uri !== undefined && 'prefix' in uri) out.prefix = uri.prefix;
  else out.prefix = '/';
  if (match === undefined) return out;
  if (match.ignoreUriCase === true) out.case_sensitive = { value: false };
  const headers: HeaderMatcher[] = [];
  const claims: MetadataMatcher[] = [];
  const add = (name: string, m: StringMatch, invert: boolean) => {
    const claim = jwtClaimPath(name);
    if (claim !== undefined) claims.push(claimMatcher(claim, m, invert));
    else headers.push(headerMatcher(name, m, invert));
  };
  for (const [name, m] of Object.entries(match.headers ?? {})) add(name, m, false);
  for (const [name, m] of Object.entries(match.withoutHeaders ?? {})) add(name, m, true);
  if (claims.length > 0) out.dynamic_metadata = claims;
  if (match.method !== undefined) headers.push(headerMatcher(':method', match.method, false));
  if (match.authority !== undefined) headers.push(headerMatcher(':authority', match.authority, false));
  if (match.scheme !== undefined) headers.push(headerMatcher(':scheme', match.scheme, false));
  if (headers.length > 0) out.headers = headers;
  const params = Object.entries(match.queryParams ?? {}).map(([name, m]): QueryParameterMatcher => {
    const sm = stringMatcher(m);
    return sm === undefined ? { name, present_match: true } : { name, string_match: sm };
  });
  if (params.length > 0) out.query_parameters = params;
  return out;
}

/** Where a route is being generated, for deciding which matches apply. */
export interface MatchSite {
  /** Port of the listener / route config. */
  port: number;
  /** `mesh` for sidecars and proxyless gRPC; `namespace/name` of each gateway for routers. */
  gateways: readonly string[];
  proxyNamespace: string;
  /** Ids of matches whose sourceLabels exclude this proxy (pre-evaluated; part of the key). */
  excluded: ReadonlySet<string>;
}

/** Resolves a gateway reference written in a VirtualService to `namespace/name` (or `mesh`). */
export function gatewayRef(ref: string, vsNamespace: string): string {
  if (ref === 'mesh') return ref;
  return ref.includes('/') ? ref : `${vsNamespace}/${ref}`;
}

export function matchApplies(
  match: HTTPMatchRequest,
  id: string,
  vsNamespace: string,
  site: MatchSite,
): boolean {
  if (match.port !== undefined && match.port !== site.port) return false;
  if (match.sourceNamespace !== undefined && match.sourceNamespace !== site.proxyNamespace) return false;
  if (site.excluded.has(id)) return false;
  if (match.gateways !== undefined && match.gateways.length > 0) {
    if (!match.gateways.some((g) => site.gateways.includes(gatewayRef(g, vsNamespace)))) return false;
  }
  return true;
}
