/**
 * What a workload credential says about itself, read without verifying it (only the control
 * plane can verify; it does at every request). The agent uses it to default the workload's
 * namespace and service account and to refuse, before dialing anyone, a credential that is not
 * a Trellis credential or has already expired, with what to do about it.
 */
import { decodeJwt } from 'jose';

export interface CredentialClaims {
  namespace: string;
  serviceAccount: string;
  kind: string;
  expiresAt: Date | undefined;
}

export function readCredentialClaims(
  token: string,
  nowMs: number,
): { ok: true; claims: CredentialClaims } | { ok: false; reason: string } {
  let payload: Record<string, unknown>;
  try {
    payload = decodeJwt(token);
  } catch {
    return {
      ok: false,
      reason: 'it is not a Trellis credential (a JWT from `trellis token create` or `trellis up`)',
    };
  }
  const { ns, sa, kind, exp } = payload;
  if (typeof ns !== 'string' || typeof sa !== 'string' || ns === '' || sa === '')
    return { ok: false, reason: 'it names no namespace and service account (claims ns, sa)' };
  const expiresAt = typeof exp === 'number' ? new Date(exp * 1000) : undefined;
  if (expiresAt !== undefined && expiresAt.getTime() <= nowMs)
    return {
      ok: false,
      reason: `it expired at ${expiresAt.toISOString()}; get a new one (\`trellis token create --namespace ${ns} --service-account ${sa}\`)`,
    };
  return {
    ok: true,
    claims: { namespace: ns, serviceAccount: sa, kind: typeof kind === 'string' ? kind : '', expiresAt },
  };
}
