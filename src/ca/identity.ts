/** The SPIFFE identity the CA writes into workload certificates. */
import { TrellisError } from '../core/errors.js';

export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

export interface WorkloadIdentity {
  /** Default `cluster.local`. */
  trustDomain?: string;
  namespace: string;
  serviceAccount: string;
}

// SPIFFE ID spec: trust domain lowercase letters, digits, '.', '-', '_'; path segments of
// letters, digits, '.', '-', '_' and not '.' or '..'.
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;

/** `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`; refuses malformed parts. */
export function spiffeId(identity: WorkloadIdentity): string {
  const td = identity.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  if (!TRUST_DOMAIN.test(td))
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `trust domain ${JSON.stringify(td)} is not a SPIFFE trust domain (lowercase letters, digits, ".", "-", "_")`,
      { path: 'identity.trustDomain' },
    );
  for (const [field, value] of [
    ['namespace', identity.namespace],
    ['serviceAccount', identity.serviceAccount],
  ] as const) {
    if (!SEGMENT.test(value) || value === '.' || value === '..')
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `${field} ${JSON.stringify(value)} cannot be a SPIFFE path segment (letters, digits, ".", "-", "_")`,
        { path: `identity.${field}` },
      );
  }
  return `spiffe://${td}/ns/${identity.namespace}/sa/${identity.serviceAccount}`;
}
