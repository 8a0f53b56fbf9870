/**
 * VirtualService header matches on JWT claims, Istio's `@request.auth.claims` names
 * (istio pkg/jwt/routing.go ToRoutingClaim): `@request.auth.claims.a.b` or
 * `@request.auth.claims[a][b]` name the nested claim a -> b; the prefix is compared without case.
 * Only a VirtualService bound to gateways (not `mesh`) may use them.
 *
 * Exports:
 *   JWT_CLAIM_HEADER
 *   jwtClaimPath(headerName): string[] | undefined   the claim path, or undefined for a header
 *   jwtClaimPathError(headerName): string | undefined   why a claim name is unusable
 */

export const JWT_CLAIM_HEADER = '@request.auth.claims';

/** The claim path a header name denotes; undefined when the name is an ordinary header. */
export function jwtClaimPath(headerName: string): string[] | undefined {
  if (!headerName.toLowerCase().startsWith(JWT_CLAIM_HEADER)) return undefined;
  const rest = headerName.slice(JWT_CLAIM_HEADER.length);
  if (rest.startsWith('.') && rest.length > 1) return rest.slice(1).split('.');
  if (rest.startsWith('[') && rest.endsWith(']') && rest.length > 2) return rest.slice(1, -1).split('][');
  return undefined;
}

/**
 * Istio accepts empty segments (`claims.a..b`, `claims[a][]`) and then generates a metadata path
 * Envoy rejects; refusing them here says so at the field instead.
 */
export function jwtClaimPathError(headerName: string): string | undefined {
  const path = jwtClaimPath(headerName);
  if (path === undefined || path.every((p) => p !== '')) return undefined;
  return `claim names in ${JSON.stringify(headerName)} cannot be empty: write ${JWT_CLAIM_HEADER}.NAME or ${JWT_CLAIM_HEADER}[NAME][NESTED]`;
}
