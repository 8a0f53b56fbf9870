import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { compactVerify } from 'jose';
import { invalid } from './proto-values.js';

/**
 * One JWT checked against one jwt_authn provider, in Envoy's order (jwt_verify_lib and
 * jwt_authn's authenticator): the token's form, its issuer, its time window (with
 * clock_skew_seconds), its audiences, then its signature with a key of the provider's JWKS
 * chosen by `kid` and `alg`. Failures carry jwt_verify_lib's status text, which Envoy sends as
 * the 401 body. Keys are imported once (node:crypto) when the provider is compiled; the
 * signature is checked with `jose`. `alg: none` and any algorithm outside JWS's asymmetric and
 * HMAC families is refused before a key is looked at.
 *
 * Exports:
 *   compileJwks(json, path): JwksKeys                     throws with `path` on bad JSON / keys
 *   verifyJwt(token, check, nowSeconds): Promise<JwtResult>
 *   JWT_STATUS                                            jwt_verify_lib's status strings
 */

export const JWT_STATUS = {
  missing: 'Jwt is missing',
  notYetValid: 'Jwt not yet valid',
  expired: 'Jwt is expired',
  badFormat: 'Jwt is not in the form of Header.Payload.Signature',
  headerParse: 'Jwt header is an invalid Base64url input or an invalid JSON',
  headerBadAlg: 'Jwt header [alg] field is not a string',
  headerAlgNotImplemented: 'Jwt header [alg] field value is invalid',
  headerBadKid: 'Jwt header [kid] field is not a string',
  payloadParse: 'Jwt payload is an invalid Base64 or an invalid JSON',
  signatureParse: 'Jwt signature is an invalid Base64',
  unknownIssuer: 'Jwt issuer is not configured',
  audienceNotAllowed: 'Audiences in Jwt are not allowed',
  verificationFail: 'Jwt verification fails',
  kidAlgMismatch: "Jwks doesn't have key to match kid or alg from Jwt",
} as const;

export type JwtStatus = keyof typeof JWT_STATUS;

export type JwtResult =
  { ok: true; payload: Record<string, unknown>; payloadBase64Url: string } | { ok: false; status: JwtStatus };

interface JwksKey {
  kid?: string;
  alg?: string;
  /** Which `alg` families the key can verify: RSA (RS/PS), EC with its curve, oct (HS), OKP (EdDSA). */
  family: 'RSA' | 'EC' | 'oct' | 'OKP';
  crv?: string;
  key: KeyObject;
}

export type JwksKeys = readonly JwksKey[];

/** What a provider checks a token against. */
export interface JwtCheck {
  issuer: string;
  /** Empty: any audience, or none. */
  audiences: readonly string[];
  clockSkewSeconds: number;
  keys: JwksKeys;
}

const ALG_FAMILY: Record<string, JwksKey['family']> = {
  RS256: 'RSA',
  RS384: 'RSA',
  RS512: 'RSA',
  PS256: 'RSA',
  PS384: 'RSA',
  PS512: 'RSA',
  ES256: 'EC',
  ES384: 'EC',
  ES512: 'EC',
  HS256: 'oct',
  HS384: 'oct',
  HS512: 'oct',
  EdDSA: 'OKP',
};
const EC_CURVE: Record<string, string> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };

/** A JWKS document (`{"keys": [...]}`) as Envoy's local_jwks holds it; every key must import. */
export function compileJwks(json: string, path: string): JwksKeys {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    throw invalid(path, 'Jwks is an invalid JSON');
  }
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw invalid(path, 'Jwks does not have [keys] field (an array)');
  const out: JwksKey[] = keys.map((k: unknown, i) => {
    const jwk = k as Record<string, unknown>;
    const kpath = `${path}.keys[${i}]`;
    const kty = jwk?.kty;
    if (kty !== 'RSA' && kty !== 'EC' && kty !== 'oct' && kty !== 'OKP')
      throw invalid(kpath, `[kty] ${JSON.stringify(kty)} is not supported`);
    let key: KeyObject;
    try {
      if (kty === 'oct') {
        if (typeof jwk.k !== 'string') throw new Error('[k] field is missing for an HMAC key');
        key = createSecretKey(Buffer.from(jwk.k, 'base64url'));
      } else {
        // Only the public half: a private JWK in a JWKS must not make a signing key here.
        const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk;
        key = createPublicKey({ key: pub as never, format: 'jwk' });
      }
    } catch (err) {
      throw invalid(kpath, `the key does not import: ${(err as Error).message}`);
    }
    const entry: JwksKey = { family: kty, key };
    if (typeof jwk.kid === 'string') entry.kid = jwk.kid;
    if (typeof jwk.alg === 'string') entry.alg = jwk.alg;
    if (typeof jwk.crv === 'string') entry.crv = jwk.crv;
    return entry;
  });
  if (out.length === 0) throw invalid(path, "Jwks doesn't have any valid public key");
  return Object.freeze(out);
}

/** Decoded parts of a compact JWS, or the status that refuses it. */
function parse(
  token: string,
):
  | { header: Record<string, unknown>; payload: Record<string, unknown>; payloadBase64Url: string }
  | JwtStatus {
  const parts = token.split('.');
  if (parts.length !== 3) return 'badFormat';
  const [h, p, s] = parts as [string, string, string];
  const json = (part: string): Record<string, unknown> | undefined => {
    if (!/^[A-Za-z0-9_-]*$/.test(part)) return undefined;
    try {
      const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
      return v !== null && typeof v === 'object' && !Array.isArray(v)
        ? (v as Record<string, unknown>)
        : undefined;
    } catch {
      return undefined;
    }
  };
  const header = json(h);
  if (!header) return 'headerParse';
  if (typeof header.alg !== 'string') return 'headerBadAlg';
  if (ALG_FAMILY[header.alg] === undefined) return 'headerAlgNotImplemented';
  if (header.kid !== undefined && typeof header.kid !== 'string') return 'headerBadKid';
  const payload = json(p);
  if (!payload) return 'payloadParse';
  if (!/^[A-Za-z0-9_-]+$/.test(s)) return 'signatureParse';
  return { header, payload, payloadBase64Url: p };
}

/** Numeric claims as JWT defines them (NumericDate); anything else counts as absent. */
function numeric(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export async function verifyJwt(token: string, check: JwtCheck, nowSeconds: number): Promise<JwtResult> {
  const parsed = parse(token);
  if (typeof parsed === 'string') return { ok: false, status: parsed };
  const { header, payload } = parsed;
  // A provider with an issuer accepts only tokens that name it (Envoy: JwtUnknownIssuer).
  if (check.issuer !== '' && payload.iss !== check.issuer) return { ok: false, status: 'unknownIssuer' };
  const nbf = numeric(payload.nbf);
  const exp = numeric(payload.exp);
  if (nbf !== undefined && nbf > nowSeconds + check.clockSkewSeconds)
    return { ok: false, status: 'notYetValid' };
  if (exp !== undefined && exp + check.clockSkewSeconds < nowSeconds) return { ok: false, status: 'expired' };
  if (check.audiences.length > 0) {
    const aud =
      typeof payload.aud === 'string' ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud : [];
    if (!aud.some((a) => typeof a === 'string' && check.audiences.includes(a)))
      return { ok: false, status: 'audienceNotAllowed' };
  }
  const alg = header.alg as string;
  const kid = header.kid as string | undefined;
  const candidates = check.keys.filter(
    (k) =>
      k.family === ALG_FAMILY[alg] &&
      (k.alg === undefined || k.alg === alg) &&
      (kid === undefined || k.kid === undefined || k.kid === kid) &&
      (k.family !== 'EC' || k.crv === undefined || k.crv === EC_CURVE[alg]),
  );
  if (candidates.length === 0) return { ok: false, status: 'kidAlgMismatch' };
  const ok: JwtResult = { ok: true, payload, payloadBase64Url: parsed.payloadBase64Url };
  // Signatures verified before with these very keys need not be verified again; the claims
  // (time, audience) above were checked anew. A new JWKS is a new key set, with an empty cache.
  let verified = signatureCache.get(check.keys);
  if (verified?.has(token)) return ok;
  for (const k of candidates) {
    try {
      await compactVerify(token, k.key, { algorithms: [alg] });
      if (!verified) signatureCache.set(check.keys, (verified = new Set()));
      // Bounded: forgotten wholesale when full.
      if (verified.size >= SIGNATURE_CACHE_SIZE) verified.clear();
      verified.add(token);
      return ok;
    } catch {
      // Try the next key that fits; none verifying is a verification failure.
    }
  }
  return { ok: false, status: 'verificationFail' };
}

const SIGNATURE_CACHE_SIZE = 1000;
const signatureCache = new WeakMap<JwksKeys, Set<string>>();
