import { extractTokens, type ExtractedToken, type TokenSource } from './jwt-extract.js';
import { verifyJwt, type JwtResult, type JwtStatus } from './jwt-verify.js';
import type { JwtAuthnFilter, JwtProvider, JwtRequirement } from './jwt-config.js';

export {
  compileJwtProvider,
  compileRequirement,
  type JwtAuthnFilter,
  type JwtProvider,
  type JwtProviderConfig,
  type JwtRequirement,
  type JwtRequirementConfig,
  type JwtRule,
} from './jwt-config.js';

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
 * Compiling the configuration is jwt-config.ts's (re-exported here).
 *
 * Exports:
 *   authenticate(filter, requirement, request, nowSeconds): Promise<JwtOutcome>
 */

export const JWT_AUTHN_FILTER = 'envoy.filters.http.jwt_authn';

export interface JwtOutcome {
  /** undefined: the requirement holds. */
  failure?: JwtStatus;
  /** Dynamic metadata under envoy.filters.http.jwt_authn, by payload_in_metadata key. */
  metadata: Record<string, unknown>;
  setHeaders: [string, string][];
  removeHeaders: string[];
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
