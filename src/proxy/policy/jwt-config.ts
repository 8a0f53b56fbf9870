import { invalid, unsupported } from './proto-values.js';
import { defaultLocations, locationKey, type TokenLocation } from './jwt-extract.js';
import { compileJwks, type JwtCheck } from './jwt-verify.js';
import type { RouteMatch } from '../model/config.js';

/**
 * jwt_authn's configuration compiled: providers (issuer, audiences, inline JWKS, token places,
 * outputs) and requirements, with every field the proxy does not honour refused by path.
 * policy/jwt-authn.ts decides with them.
 *
 * Exports:
 *   compileJwtProvider(name, config, path): JwtProvider
 *   compileRequirement(config, providers, path): JwtRequirement
 *   types JwtProvider, JwtRequirement, JwtRule, JwtAuthnFilter and their config shapes
 */

export interface JwtProvider {
  name: string;
  check: JwtCheck;
  locations: readonly TokenLocation[];
  locationKeys: ReadonlySet<string>;
  forward: boolean;
  forwardPayloadHeader?: string;
  padForwardPayloadHeader: boolean;
  payloadInMetadata?: string;
  spaceDelimitedClaims: readonly string[];
  claimToHeaders: readonly { header: string; claim: string }[];
  /** clear_route_cache: a token verified here makes the connection manager choose the route again. */
  clearRouteCache: boolean;
}

export type JwtRequirement =
  | { kind: 'provider'; provider: JwtProvider; audiences?: readonly string[] }
  | { kind: 'any'; list: readonly JwtRequirement[] }
  | { kind: 'all'; list: readonly JwtRequirement[] }
  | { kind: 'allow_missing' }
  | { kind: 'allow_missing_or_failed' };

export interface JwtRule {
  match: RouteMatch;
  /** Absent: requests matching this rule are not verified. */
  requires?: JwtRequirement;
}

export interface JwtAuthnFilter {
  providers: ReadonlyMap<string, JwtProvider>;
  rules: readonly JwtRule[];
  bypassCorsPreflight: boolean;
  stripFailureResponse: boolean;
  /** Headers any provider writes: a client's own copies never reach the upstream. */
  outputHeaders: readonly string[];
}

export interface JwtProviderConfig {
  issuer?: string | null;
  audiences?: string[] | null;
  remote_jwks?: unknown;
  local_jwks?: {
    inline_string?: string | null;
    inline_bytes?: Uint8Array | null;
    [k: string]: unknown;
  } | null;
  forward?: boolean | null;
  from_headers?: { name?: string | null; value_prefix?: string | null }[] | null;
  from_params?: string[] | null;
  from_cookies?: string[] | null;
  forward_payload_header?: string | null;
  pad_forward_payload_header?: boolean | null;
  payload_in_metadata?: string | null;
  clock_skew_seconds?: number | null;
  claim_to_headers?: { header_name?: string | null; claim_name?: string | null }[] | null;
  clear_route_cache?: boolean | null;
  normalize_payload_in_metadata?: { space_delimited_claims?: string[] | null } | null;
  [other: string]: unknown;
}

const PROVIDER_FIELDS = new Set([
  'issuer',
  'audiences',
  'local_jwks',
  'forward',
  'from_headers',
  'from_params',
  'from_cookies',
  'forward_payload_header',
  'pad_forward_payload_header',
  'payload_in_metadata',
  'clock_skew_seconds',
  'claim_to_headers',
  'normalize_payload_in_metadata',
  // Tuning of Envoy's own token cache: no behaviour a request can see.
  'jwt_cache_config',
  // Set by Istio at gateways: the route is chosen again once a token is verified.
  'clear_route_cache',
  'jwks_source_specifier',
]);

const HEADER_NAME = /^[a-z0-9!#$%&'*+\-.^_`|~]+$/;

export function compileJwtProvider(name: string, c: JwtProviderConfig, path: string): JwtProvider {
  if (c.remote_jwks !== undefined && c.remote_jwks !== null)
    throw unsupported(
      `${path}.remote_jwks`,
      'remote JWKS are not fetched by this proxy: the control plane inlines them',
    );
  for (const [k, v] of Object.entries(c))
    if (v !== undefined && v !== null && !PROVIDER_FIELDS.has(k))
      throw unsupported(`${path}.${k}`, 'is not supported by this proxy');
  const jwks = c.local_jwks;
  if (!jwks) throw invalid(`${path}.local_jwks`, 'a JWKS is required (local_jwks inline_string)');
  for (const [k, v] of Object.entries(jwks))
    if (v !== undefined && v !== null && k !== 'inline_string' && k !== 'inline_bytes' && k !== 'specifier')
      throw unsupported(`${path}.local_jwks.${k}`, 'only inline JWKS are supported');
  const text =
    jwks.inline_string ?? (jwks.inline_bytes ? Buffer.from(jwks.inline_bytes).toString('utf8') : '');
  const keys = compileJwks(text, `${path}.local_jwks`);
  const locations: TokenLocation[] = [];
  (c.from_headers ?? []).forEach((h, i) => {
    const header = (h.name ?? '').toLowerCase();
    if (!HEADER_NAME.test(header)) throw invalid(`${path}.from_headers[${i}].name`, 'must be a header name');
    locations.push({ kind: 'header', name: header, valuePrefix: h.value_prefix ?? '' });
  });
  for (const p of c.from_params ?? []) locations.push({ kind: 'param', name: p });
  for (const k of c.from_cookies ?? []) locations.push({ kind: 'cookie', name: k });
  if (locations.length === 0) locations.push(...defaultLocations());
  const claimToHeaders = (c.claim_to_headers ?? []).map((h, i) => {
    const header = (h.header_name ?? '').toLowerCase();
    if (!HEADER_NAME.test(header))
      throw invalid(`${path}.claim_to_headers[${i}].header_name`, 'must be a header name');
    if (!h.claim_name) throw invalid(`${path}.claim_to_headers[${i}].claim_name`, 'must be non-empty');
    return { header, claim: h.claim_name };
  });
  const payloadHeader = (c.forward_payload_header ?? '').toLowerCase();
  if (payloadHeader !== '' && !HEADER_NAME.test(payloadHeader))
    throw invalid(`${path}.forward_payload_header`, 'must be a header name');
  const provider: JwtProvider = {
    name,
    check: {
      issuer: c.issuer ?? '',
      audiences: Object.freeze([...(c.audiences ?? [])]),
      clockSkewSeconds: c.clock_skew_seconds ?? 60,
      keys,
    },
    locations: Object.freeze(locations),
    locationKeys: new Set(locations.map(locationKey)),
    forward: c.forward === true,
    padForwardPayloadHeader: c.pad_forward_payload_header === true,
    spaceDelimitedClaims: Object.freeze([...(c.normalize_payload_in_metadata?.space_delimited_claims ?? [])]),
    claimToHeaders: Object.freeze(claimToHeaders),
    clearRouteCache: c.clear_route_cache === true,
  };
  if (payloadHeader !== '') provider.forwardPayloadHeader = payloadHeader;
  if (c.payload_in_metadata) provider.payloadInMetadata = c.payload_in_metadata;
  return Object.freeze(provider);
}

export interface JwtRequirementConfig {
  provider_name?: string | null;
  provider_and_audiences?: { provider_name?: string | null; audiences?: string[] | null } | null;
  requires_any?: { requirements?: JwtRequirementConfig[] | null } | null;
  requires_all?: { requirements?: JwtRequirementConfig[] | null } | null;
  allow_missing?: object | null;
  allow_missing_or_failed?: object | null;
  requires_type?: string;
}

export function compileRequirement(
  c: JwtRequirementConfig,
  providers: ReadonlyMap<string, JwtProvider>,
  path: string,
): JwtRequirement {
  const provider = (name: string | null | undefined, p: string) => {
    const found = providers.get(name ?? '');
    if (!found) throw invalid(p, `no provider named ${JSON.stringify(name ?? '')}`);
    return found;
  };
  if (c.provider_name)
    return { kind: 'provider', provider: provider(c.provider_name, `${path}.provider_name`) };
  if (c.provider_and_audiences) {
    const pa = c.provider_and_audiences;
    return {
      kind: 'provider',
      provider: provider(pa.provider_name, `${path}.provider_and_audiences.provider_name`),
      audiences: Object.freeze([...(pa.audiences ?? [])]),
    };
  }
  for (const kind of ['requires_any', 'requires_all'] as const) {
    const list = c[kind];
    if (!list) continue;
    const reqs = (list.requirements ?? []).map((r, i) =>
      compileRequirement(r, providers, `${path}.${kind}.requirements[${i}]`),
    );
    if (reqs.length < 2) throw invalid(`${path}.${kind}.requirements`, 'must have at least 2 requirements');
    return { kind: kind === 'requires_any' ? 'any' : 'all', list: Object.freeze(reqs) };
  }
  if (c.allow_missing) return { kind: 'allow_missing' };
  if (c.allow_missing_or_failed) return { kind: 'allow_missing_or_failed' };
  throw invalid(
    path,
    'expected one of provider_name, provider_and_audiences, requires_any, requires_all, allow_missing, allow_missing_or_failed',
  );
}
