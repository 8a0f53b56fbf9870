/**
 * Workload credentials: how a proxy proves to the CA who it is when there is no Kubernetes
 * service-account token to show. The control plane signs a JWT (ES256) whose subject is the
 * workload's SPIFFE identity, with `ns`/`sa` claims, audience `trellis-ca` and an expiry.
 *
 * Two kinds, told apart by the `kind` claim:
 * - `workload`: what `trellis up` provisions for each workload (long-lived, re-issued at every
 *   start, so rotating one is issuing it again);
 * - `join`: short-lived, for a host joining from elsewhere (`trellis token create`). The CA
 *   exchanges it for a workload credential with the first certificate, so the proxy can keep
 *   renewing after the join token expired (Istio's VMs do the same with their provisioned cert).
 *
 * The signing key is one ECDSA P-256 key kept in the control plane's state directory
 * (credential-keys.ts); its JWK thumbprint is each token's `kid`.
 */
import { createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, decodeProtectedHeader, exportJWK, jwtVerify, errors } from 'jose';
import { systemClock, type Clock } from '../core/clock.js';
import { TrellisError } from '../core/errors.js';
import { DEFAULT_TRUST_DOMAIN, spiffeId, type WorkloadIdentity } from './identity.js';

export const CREDENTIAL_AUDIENCE = 'trellis-ca';
export const CREDENTIAL_ISSUER = 'trellis-control-plane';
export const CREDENTIAL_KINDS = ['workload', 'join'] as const;
export type CredentialKind = (typeof CREDENTIAL_KINDS)[number];

const DAY = 86_400;
/** Defaults: a workload credential lives a year (re-issued at every `trellis up`), a join token an hour. */
export const DEFAULT_CREDENTIAL_TTL: Record<CredentialKind, number> = { workload: 365 * DAY, join: 3600 };
/** A join token is for joining now, not a standing key: at most a week. */
export const MAX_JOIN_TTL_SECONDS = 7 * DAY;
/** Clock skew tolerated on exp/nbf/iat between the host that signed and the one that verifies. */
export const CREDENTIAL_SKEW_SECONDS = 60;

export interface VerifiedCredential {
  identity: Required<WorkloadIdentity>;
  /** spiffe://<trust-domain>/ns/<ns>/sa/<sa> */
  spiffeId: string;
  kind: CredentialKind;
  /** The token's `jti`. */
  id: string;
  expiresAt: Date;
}

export interface IssueOptions {
  namespace: string;
  serviceAccount: string;
  kind: CredentialKind;
  /** Default DEFAULT_CREDENTIAL_TTL[kind]. */
  ttlSeconds?: number;
}

/** Why a credential was refused; `reason` is stable (metrics, tests), `message` is for people. */
export class CredentialError extends TrellisError {
  constructor(
    readonly reason: 'missing' | 'malformed' | 'signature' | 'expired' | 'audience' | 'kind' | 'trust-domain',
    message: string,
  ) {
    super('TRELLIS_INVALID_ARGUMENT', message, { path: 'credential' });
    this.name = 'CredentialError';
  }
}

/** Signs and verifies workload credentials with one P-256 key pair. */
export class CredentialAuthority {
  readonly trustDomain: string;
  private readonly clock: Pick<Clock, 'wallNow'>;

  private constructor(
    private readonly privateKey: KeyObject,
    private readonly publicKey: KeyObject,
    readonly keyId: string,
    options: { trustDomain?: string; clock?: Pick<Clock, 'wallNow'> },
  ) {
    this.trustDomain = options.trustDomain ?? DEFAULT_TRUST_DOMAIN;
    this.clock = options.clock ?? systemClock;
  }

  /** `privateKey` must be an EC P-256 private key (credential-keys.ts loads or makes one). */
  static async fromKey(
    privateKey: KeyObject,
    options: { trustDomain?: string; clock?: Pick<Clock, 'wallNow'> } = {},
  ): Promise<CredentialAuthority> {
    if (privateKey.type !== 'private' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
      throw new TrellisError(
        'TRELLIS_INVALID_CONFIG',
        'the credential signing key must be an EC P-256 private key',
      );
    spiffeId({
      trustDomain: options.trustDomain ?? DEFAULT_TRUST_DOMAIN,
      namespace: 'x',
      serviceAccount: 'x',
    });
    const publicKey = createPublicKey(privateKey);
    const kid = await calculateJwkThumbprint(await exportJWK(publicKey));
    return new CredentialAuthority(privateKey, publicKey, kid, options);
  }

  /** A signed credential for `namespace`/`serviceAccount` in this trust domain. */
  async issue(options: IssueOptions): Promise<string> {
    const identity = {
      trustDomain: this.trustDomain,
      namespace: options.namespace,
      serviceAccount: options.serviceAccount,
    };
    const sub = spiffeId(identity);
    if (!CREDENTIAL_KINDS.includes(options.kind))
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `credential kind ${JSON.stringify(options.kind)}: expected workload or join`,
      );
    const ttl = options.ttlSeconds ?? DEFAULT_CREDENTIAL_TTL[options.kind];
    if (!Number.isFinite(ttl) || ttl <= 0)
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `ttl must be a positive number of seconds, got ${ttl}`,
        {
          path: 'ttl',
        },
      );
    if (options.kind === 'join' && ttl > MAX_JOIN_TTL_SECONDS)
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `a join token lives at most ${MAX_JOIN_TTL_SECONDS / DAY} days (${MAX_JOIN_TTL_SECONDS}s), got ${ttl}s`,
        { path: 'ttl' },
      );
    const now = Math.floor(this.clock.wallNow() / 1000);
    return new SignJWT({ ns: identity.namespace, sa: identity.serviceAccount, kind: options.kind })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: this.keyId })
      .setIssuer(CREDENTIAL_ISSUER)
      .setSubject(sub)
      .setAudience(CREDENTIAL_AUDIENCE)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + Math.ceil(ttl))
      .setJti(randomUUID())
      .sign(this.privateKey);
  }

  /**
   * The identity a credential proves, or a CredentialError saying why not: signature (ES256
   * with this key only), issuer, audience, expiry and not-before with CREDENTIAL_SKEW_SECONDS,
   * the kind (one of `kinds`), and a subject that is exactly the SPIFFE id of its ns/sa claims
   * in this trust domain.
   */
  async verify(
    token: string,
    kinds: readonly CredentialKind[] = CREDENTIAL_KINDS,
  ): Promise<VerifiedCredential> {
    if (token === '') throw new CredentialError('missing', 'no credential');
    // Only one key signs today; a kid naming another is a token from another control plane.
    let kid: unknown;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      throw new CredentialError('malformed', 'the credential is not a JWT');
    }
    if (kid !== this.keyId)
      throw new CredentialError('signature', "the credential was not signed by this control plane's key");
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.publicKey, {
        algorithms: ['ES256'],
        audience: CREDENTIAL_AUDIENCE,
        issuer: CREDENTIAL_ISSUER,
        clockTolerance: CREDENTIAL_SKEW_SECONDS,
        currentDate: new Date(this.clock.wallNow()),
        requiredClaims: ['exp', 'sub', 'jti'],
      }));
    } catch (err) {
      throw verifyError(err);
    }
    const kind = payload.kind;
    if (typeof kind !== 'string' || !(CREDENTIAL_KINDS as readonly string[]).includes(kind))
      throw new CredentialError(
        'kind',
        `the credential's kind ${JSON.stringify(kind)} is not workload or join`,
      );
    if (!kinds.includes(kind as CredentialKind))
      throw new CredentialError(
        'kind',
        `a ${kind} credential is not accepted here (expected ${kinds.join(' or ')})`,
      );
    const { ns, sa, sub } = payload;
    if (typeof ns !== 'string' || typeof sa !== 'string')
      throw new CredentialError('malformed', 'the credential has no ns/sa claims');
    let expected: string;
    try {
      expected = spiffeId({ trustDomain: this.trustDomain, namespace: ns, serviceAccount: sa });
    } catch (err) {
      throw new CredentialError(
        'malformed',
        `the credential's identity is invalid: ${(err as Error).message}`,
      );
    }
    if (sub !== expected) {
      const otherDomain = typeof sub === 'string' && !sub.startsWith(`spiffe://${this.trustDomain}/`);
      throw otherDomain
        ? new CredentialError(
            'trust-domain',
            `the credential is for ${String(sub)}, not this trust domain ${this.trustDomain}`,
          )
        : new CredentialError(
            'malformed',
            `the credential's subject ${String(sub)} does not match its ns/sa claims`,
          );
    }
    return {
      identity: { trustDomain: this.trustDomain, namespace: ns, serviceAccount: sa },
      spiffeId: expected,
      kind: kind as CredentialKind,
      id: String(payload.jti),
      expiresAt: new Date(Number(payload.exp) * 1000),
    };
  }
}

function verifyError(err: unknown): CredentialError {
  if (err instanceof errors.JWTExpired) return new CredentialError('expired', 'the credential has expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'aud')
      return new CredentialError('audience', `the credential is not for ${CREDENTIAL_AUDIENCE}`);
    if (err.claim === 'nbf' || err.claim === 'iat')
      return new CredentialError('expired', 'the credential is not valid yet');
    return new CredentialError('malformed', `the credential's ${err.claim} claim is invalid (${err.reason})`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return new CredentialError('signature', "the credential's signature does not verify");
  if (err instanceof errors.JOSEAlgNotAllowed)
    return new CredentialError('signature', 'the credential is not signed with ES256');
  return new CredentialError(
    'malformed',
    `the credential cannot be read (${err instanceof Error ? err.message : String(err)})`,
  );
}
