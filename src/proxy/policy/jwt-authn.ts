import { invalid, unsupported } from './proto-values.js';
import {
  defaultLocations,
  extractTokens,
  locationKey,
  type ExtractedToken,
  type TokenLocation,
  type TokenSource,
} from './jwt-extract.js';
import { compileJwks, verifyJwt, type JwtCheck, type JwtResult, type JwtStatus } from './jwt-verify.js';
import type { RouteMatch } from '../model/config.js';

/**
 * Envoy's jwt_authn filter as a decision: compiled providers and requirements, and `authenticate`
 * which, for one request and the requirement its rule selected, extracts the tokens, verifies
 * them (jwt-verify.ts) and says whether the requirement holds, with what verified tokens produce
 * (dynamic metadata, payload and claim headers, token headers to remove when forward is false).
 * https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/jwt_authn_filter
 *
 * Requirements, as Envoy evaluates them: `provider_name` needs every token found at that
 * provider's places to verify, and at least one token; `requires_any` holds when one child does
 * (else the most telling failure: a bad token before an unknown issuer before a missing one);
 * `requires_all` when all do; `allow_missing` holds with no token anywhere but fails on a token
 * that does not verify (what Istio's RequestAuthentication compiles to); `allow_missing_or_failed`
 * always holds. Tokens are verified once per request whatever the tree.
 *
 * Exports:
 *   compileJwtProvider(name, config, path): JwtProvider
 *   compileRequirement(config, providers, path): JwtRequirement
 *   authenticate(filter, requirement, request, nowSeconds): Promise<JwtOutcome>
 *   interface JwtAuthnFilter { providers, rules, bypassCorsPreflight, stripFailureResponse }
 */

export const JWT_AUTHN_FILTER = 'envoy.filters.http.jwt_authn';

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

export interface JwtOutcome {
  /** undefined: the requirement holds. */
  failure?: JwtStatus;
  /** Dynamic metadata under envoy.filters.http.jwt_authn, by payload_in_metadata key. */
  metadata: Record<string, unknown>;
  setHeaders: [string, string][];
  removeHeaders: string[];
}

// ---- compiling ----

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
  // Set by Istio; routes are matched before filters here, see the check below.
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
  if (c.clear_route_cache === true && (payloadHeader !== '' || claimToHeaders.length > 0))
    throw unsupported(
      `${path}.clear_route_cache`,
      'routes are matched before HTTP filters in this proxy: headers from JWT claims cannot select a route',
    );
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

// ---- deciding ----

type Verdict = { ok: true } | { ok: false; status: JwtStatus };

const OK: Verdict = { ok: true };
const MISSING: Verdict = { ok: false, status: 'missing' };

/** Verification of each (provider, token) once per request; successes remembered for outputs. */
class RequestVerifier {
  private readonly results = new Map<string, Promise<JwtResult>>();
  readonly verified = new Map<
    string,
    { provider: JwtProvider; token: ExtractedToken; result: JwtResult & { ok: true } }
  >();
  private allTokens?: ExtractedToken[];

  constructor(
    readonly filter: JwtAuthnFilter,
    private readonly source: TokenSource,
    private readonly now: number,
  ) {}

  tokensFor(provider: JwtProvider): ExtractedToken[] {
    return this.all().filter((t) => provider.locationKeys.has(t.location));
  }

  all(): ExtractedToken[] {
    this.allTokens ??= extractTokens(
      this.source,
      [...this.filter.providers.values()].flatMap((p) => p.locations),
    );
    return this.allTokens;
  }

  async verify(
    provider: JwtProvider,
    token: ExtractedToken,
    audiences?: readonly string[],
  ): Promise<Verdict> {
    const key = `${provider.name}\u0000${audiences?.join('\u0001') ?? ''}\u0000${token.location}\u0000${token.token}`;
    let pending = this.results.get(key);
    if (!pending) {
      const check = audiences ? { ...provider.check, audiences } : provider.check;
      pending = verifyJwt(token.token, check, this.now);
      this.results.set(key, pending);
    }
    const result = await pending;
    if (!result.ok) return { ok: false, status: result.status };
    this.verified.set(key, { provider, token, result });
    return OK;
  }
}

/** The failure that says most: a bad token, then an unknown issuer, then a missing token. */
function rank(status: JwtStatus): number {
  return status === 'missing' ? 0 : status === 'unknownIssuer' ? 1 : 2;
}

async function evaluate(req: JwtRequirement, v: RequestVerifier): Promise<Verdict> {
  switch (req.kind) {
    case 'provider': {
      const tokens = v.tokensFor(req.provider);
      if (tokens.length === 0) return MISSING;
      // Every token at the provider's places must verify, so a second, bad token cannot ride along.
      const verdicts = await Promise.all(tokens.map((t) => v.verify(req.provider, t, req.audiences)));
      return verdicts.find((x) => !x.ok) ?? OK;
    }
    case 'any': {
      const verdicts = await Promise.all(req.list.map((r) => evaluate(r, v)));
      if (verdicts.some((x) => x.ok)) return OK;
      let worst = verdicts[0]!;
      for (const x of verdicts) if (!x.ok && !worst.ok && rank(x.status) > rank(worst.status)) worst = x;
      return worst;
    }
    case 'all': {
      const verdicts = await Promise.all(req.list.map((r) => evaluate(r, v)));
      return verdicts.find((x) => !x.ok) ?? OK;
    }
    case 'allow_missing':
    case 'allow_missing_or_failed': {
      const verdicts = await Promise.all(v.all().map((t) => verifyAnyProvider(t, v)));
      if (req.kind === 'allow_missing_or_failed') return OK;
      return verdicts.find((x) => !x.ok) ?? OK;
    }
  }
}

/** A token checked by the provider its `iss` names among those reading its place. */
async function verifyAnyProvider(token: ExtractedToken, v: RequestVerifier): Promise<Verdict> {
  const readers = [...v.filter.providers.values()].filter((p) => p.locationKeys.has(token.location));
  const iss = issuerOf(token.token);
  const provider = readers.find((p) => p.check.issuer === iss) ?? readers.find((p) => p.check.issuer === '');
  // No reader trusts this issuer: the provider check reports the token's own problem (bad form)
  // before the unknown issuer, as Envoy's does.
  return v.verify(provider ?? readers[0]!, token);
}

function issuerOf(token: string): string | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const iss = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { iss?: unknown }).iss;
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}

export async function authenticate(
  filter: JwtAuthnFilter,
  requirement: JwtRequirement,
  source: TokenSource,
  nowSeconds: number,
): Promise<JwtOutcome> {
  const v = new RequestVerifier(filter, source, nowSeconds);
  const verdict = await evaluate(requirement, v);
  const outcome: JwtOutcome = { metadata: {}, setHeaders: [], removeHeaders: [] };
  if (!verdict.ok) {
    outcome.failure = verdict.status;
    return outcome;
  }
  for (const { provider, token, result } of v.verified.values())
    writeOutputs(provider, token, result, outcome);
  return outcome;
}

function writeOutputs(
  p: JwtProvider,
  token: ExtractedToken,
  result: JwtResult & { ok: true },
  out: JwtOutcome,
): void {
  if (p.payloadInMetadata !== undefined) out.metadata[p.payloadInMetadata] = normalized(result.payload, p);
  if (p.forwardPayloadHeader !== undefined) {
    let b64 = result.payloadBase64Url;
    if (p.padForwardPayloadHeader) b64 += '='.repeat((4 - (b64.length % 4)) % 4);
    out.setHeaders.push([p.forwardPayloadHeader, b64]);
  }
  for (const { header, claim } of p.claimToHeaders) {
    const value = claimText(claimAt(result.payload, claim));
    if (value !== undefined) out.setHeaders.push([header, value]);
  }
  if (!p.forward && token.header !== undefined) out.removeHeaders.push(token.header);
}

/** normalize_payload_in_metadata: space-delimited claims (`scope`) become lists. */
function normalized(payload: Record<string, unknown>, p: JwtProvider): Record<string, unknown> {
  if (p.spaceDelimitedClaims.length === 0) return payload;
  const out = { ...payload };
  for (const c of p.spaceDelimitedClaims) {
    const v = out[c];
    if (typeof v === 'string') out[c] = v.split(' ').filter((s) => s !== '');
  }
  return out;
}

/** A claim by name, nested with `.` (`a.b`) when there is no top-level claim of that name. */
function claimAt(payload: Record<string, unknown>, name: string): unknown {
  if (name in payload) return payload[name];
  let v: unknown = payload;
  for (const part of name.split('.')) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function claimText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (
    Array.isArray(v) &&
    v.every((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean')
  )
    return v.join(',');
  return undefined;
}
