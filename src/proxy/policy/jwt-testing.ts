/**
 * Keys and tokens for the jwt_authn tests (imported by tests only): an issuer with a signing key
 * and its JWKS, and tokens signed with it or forged in the ways attackers try.
 */
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';

export interface TestIssuer {
  iss: string;
  kid: string;
  /** `{"keys":[...]}` with the public key. */
  jwks: string;
  publicJwk: Record<string, unknown>;
  sign(claims: JWTPayload, opts?: { alg?: string; kid?: string | null; typ?: string }): Promise<string>;
}

export async function testIssuer(
  iss = 'https://idp.example.com',
  kid = 'k1',
  alg = 'ES256',
): Promise<TestIssuer> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } as Record<string, unknown>;
  return {
    iss,
    kid,
    publicJwk,
    jwks: JSON.stringify({ keys: [publicJwk] }),
    async sign(claims, opts = {}) {
      const header: { alg: string; kid?: string; typ?: string } = { alg: opts.alg ?? alg };
      if (opts.kid !== null) header.kid = opts.kid ?? kid;
      if (opts.typ) header.typ = opts.typ;
      return await new SignJWT({ iss, ...claims }).setProtectedHeader(header).sign(privateKey);
    },
  };
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** An unsigned token (`alg: none`), as attackers send them. */
export function unsignedToken(payload: Record<string, unknown>): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'none', typ: 'JWT' })}.${enc(payload)}.`;
}

/** A signed token whose payload was swapped afterwards (the signature no longer matches). */
export function tamperedToken(token: string, payload: Record<string, unknown>): string {
  const [h, , s] = token.split('.');
  return `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
}
