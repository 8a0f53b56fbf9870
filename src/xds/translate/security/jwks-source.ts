/**
 * The JWKS documents the control plane fetched for RequestAuthentication `jwksUri`s (and
 * issuers' OpenID discovery), as the translation reads them: one immutable snapshot per push
 * (an input of the push context; controlplane/jwks-resolver.ts fills it). Istio inlines fetched
 * keys the same way (`local_jwks`), so proxies never fetch anything themselves.
 *
 * A source never fetched successfully is absent; the translation then inlines REJECT_ALL_JWKS,
 * as istiod inlines its fake JWKS: a token is still checked, and no token can verify.
 */
import { tryParseDuration } from '../../../core/duration.js';
import { digest } from '../memo.js';

/** Where keys come from: the jwksUri, or `oidc:ISSUER` for discovery from the issuer. */
export function jwksSourceId(rule: { jwksUri?: string; jwks_uri?: string; issuer?: string }): string {
  const uri = rule.jwksUri ?? rule.jwks_uri ?? '';
  return uri !== '' ? uri : `oidc:${rule.issuer ?? ''}`;
}

export class JwksSnapshot {
  private readonly docs: ReadonlyMap<string, { jwks: string; fp: string }>;

  constructor(docs: ReadonlyMap<string, string> = new Map()) {
    this.docs = new Map([...docs].map(([k, jwks]) => [k, { jwks, fp: digest(jwks) }]));
  }

  /** The last good JWKS of a source, or undefined when none was ever fetched. */
  get(source: string): string | undefined {
    return this.docs.get(source)?.jwks;
  }

  /** A short fingerprint of what `get` returns (`-` for nothing), for generator keys. */
  fingerprint(source: string): string {
    return this.docs.get(source)?.fp ?? '-';
  }
}

export const EMPTY_JWKS = new JwksSnapshot();

/**
 * A JWKS no token verifies against: an RSA public key whose private half was thrown away when
 * it was generated (for this file, not taken from anywhere).
 */
export const REJECT_ALL_JWKS = JSON.stringify({
  keys: [
    {
      kty: 'RSA',
      kid: 'trellis-reject-all',
      alg: 'RS256',
      use: 'sig',
      n:
        'rGN7owr3CSIs5_jtefLvTRXkCsVS4rM19mLtvUKiywm1CjWhcpQC881aoXQ8u4wSvQvkf44UT_9Nj6Uz_XIsR8ZkUs8RSPmYjkQv6Em4' +
        'xqzJkLJTclR4FO1zznnBQsNnkJu7uGmoyYqjLh12leBxzjlwusH0mAguTFBlbLHdUR66XjS7wDu9DA4UHfOox2WWIrtxFGFaaGz07B' +
        'mrH3I4iNlwircuci_MbLOe8PqrKxiXBiopYAvGJhfDfjN1aCAbelJY-Yx8NBjpYyj6HKlI2cGo0zCQX9DLlUvluzL0tATI2bbC-khlT' +
        'J58_fi4TDXVfEBP1MDoCZhfoT_ac3aacw',
      e: 'AQAB',
    },
  ],
});

/** What the control plane must fetch for one source. */
export interface JwksRequest {
  /** jwksSourceId: the URI, or `oidc:ISSUER`. */
  id: string;
  /** The JWKS URI, when given; else keys are discovered from `issuer`. */
  uri?: string;
  issuer?: string;
  /** The rule's `timeout` (default 5 s, Istio's). */
  timeoutMs: number;
}

const DEFAULT_JWKS_TIMEOUT_MS = 5000;

/**
 * Every JWKS source the RequestAuthentications of a config read (all of them, selected by a
 * workload or not: fetching ahead means a new workload gets real keys at once). Rules with an
 * inline `jwks` need nothing. The longest timeout wins when rules share a source.
 */
export function jwksRequests(resources: readonly { spec: unknown }[]): JwksRequest[] {
  const out = new Map<string, JwksRequest>();
  for (const r of resources) {
    const rules = (
      r.spec as {
        jwtRules?: {
          jwks?: string;
          jwksUri?: string;
          jwks_uri?: string;
          issuer?: string;
          timeout?: string;
        }[];
      }
    ).jwtRules;
    for (const rule of rules ?? []) {
      if (rule.jwks !== undefined && rule.jwks !== '') continue;
      const id = jwksSourceId(rule);
      const uri = rule.jwksUri ?? rule.jwks_uri;
      const timeoutMs =
        (rule.timeout === undefined ? undefined : tryParseDuration(rule.timeout)) ?? DEFAULT_JWKS_TIMEOUT_MS;
      const known = out.get(id);
      if (known !== undefined) {
        known.timeoutMs = Math.max(known.timeoutMs, timeoutMs);
        continue;
      }
      const req: JwksRequest = { id, timeoutMs };
      if (uri !== undefined && uri !== '') req.uri = uri;
      else req.issuer = rule.issuer ?? '';
      out.set(id, req);
    }
  }
  return [...out.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
}
