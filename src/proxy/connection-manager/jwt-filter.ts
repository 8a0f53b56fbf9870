/**
 * envoy.filters.http.jwt_authn applied to one request: the first rule whose match accepts the
 * request names the requirement (none: nothing is verified), policy/jwt-authn.ts decides, and
 * the outcome is either the 401/403 Envoy sends (jwt_verify_lib's text as the body and a
 * `www-authenticate: Bearer realm="<url>"` challenge, `error="invalid_token"` unless the token was
 * missing) or what verified tokens produce: dynamic metadata for RBAC, payload and claim headers,
 * and the token's header removed when the provider does not forward it.
 *
 * Stricter than Envoy on purpose: a client's own copies of the headers a provider writes
 * (forward_payload_header, claim_to_headers) are always removed, so a request without a token
 * cannot arrive upstream with a forged `x-jwt-payload` or claim header. With clear_route_cache
 * (Istio sets it at gateways) the route is chosen again after this filter: Envoy does it when a
 * token verified; here it is done whenever the filter passes, so a route cannot stay chosen by
 * a forged claim header the filter has just removed (with unchanged inputs the choice is the same).
 */
import type { JwtAuthnFilter } from '../policy/jwt-authn.js';
import { authenticate, JWT_AUTHN_FILTER } from '../policy/jwt-authn.js';
import { JWT_STATUS } from '../policy/jwt-verify.js';
import { headerValue } from '../policy/string-matcher.js';
import { routeMatches } from './route-table.js';
import type { LocalReplyReason } from './local-reply.js';

export interface JwtRequestView {
  method: string;
  /** The normalized path with its query. */
  path: string;
  authority: string;
  scheme: string;
  /** Lower-case names with the pseudo-headers. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

export type JwtFilterResult =
  | {
      kind: 'continue';
      /** Dynamic metadata to add under envoy.filters.http.jwt_authn (by payload_in_metadata key). */
      metadata: Record<string, unknown>;
      setHeaders: [string, string][];
      removeHeaders: string[];
      /** The route is to be chosen again (a provider has clear_route_cache). */
      clearRouteCache: boolean;
    }
  | { kind: 'deny'; reason: LocalReplyReason };

export { JWT_AUTHN_FILTER };

function isCorsPreflight(req: JwtRequestView): boolean {
  return (
    req.method === 'OPTIONS' &&
    headerValue(req.headers, 'origin') !== undefined &&
    headerValue(req.headers, 'access-control-request-method') !== undefined
  );
}

export async function runJwtAuthn(
  filter: JwtAuthnFilter,
  req: JwtRequestView,
  nowSeconds: number,
): Promise<JwtFilterResult> {
  const removeHeaders = [...filter.outputHeaders];
  let clearRouteCache = false;
  for (const p of filter.providers.values()) clearRouteCache ||= p.clearRouteCache;
  const pass: JwtFilterResult = {
    kind: 'continue',
    metadata: {},
    setHeaders: [],
    removeHeaders,
    clearRouteCache,
  };
  if (filter.bypassCorsPreflight && isCorsPreflight(req)) return pass;
  const routable = { authority: req.authority, path: req.path, method: req.method, headers: req.headers };
  const rule = filter.rules.find((r) => routeMatches(r.match, routable));
  if (!rule?.requires) return pass;
  const outcome = await authenticate(
    filter,
    rule.requires,
    { headers: req.headers, path: req.path },
    nowSeconds,
  );
  if (outcome.failure === undefined) {
    removeHeaders.push(...outcome.removeHeaders);
    return {
      kind: 'continue',
      metadata: outcome.metadata,
      setHeaders: outcome.setHeaders,
      removeHeaders,
      clearRouteCache,
    };
  }
  const message = JWT_STATUS[outcome.failure];
  const q = req.path.search(/[?#]/);
  const realm = `${req.scheme}://${req.authority}${q === -1 ? req.path : req.path.slice(0, q)}`;
  const challenge =
    outcome.failure === 'missing'
      ? `Bearer realm="${realm}"`
      : `Bearer realm="${realm}", error="invalid_token"`;
  return {
    kind: 'deny',
    reason: {
      kind: 'jwt-denied',
      // Envoy answers a token whose audiences are not allowed with 403, every other failure 401.
      status: outcome.failure === 'audienceNotAllowed' ? 403 : 401,
      message,
      wwwAuthenticate: challenge,
      strip: filter.stripFailureResponse,
    },
  };
}
