/**
 * The security.istio.io kinds, registered in ../kinds.ts. AuthorizationPolicy and
 * RequestAuthentication are enforced through RBAC and jwt_authn filters
 * (xds/translate/security), PeerAuthentication through the inbound listeners' TLS.
 */
import type { KindDefinition } from '../kinds.js';
import { SECURITY_GROUP, SECURITY_VERSIONS } from './types.js';
import { validateAuthorizationPolicy } from './validate-authorization-policy.js';
import { validatePeerAuthentication } from './validate-peer-authentication.js';
import { validateRequestAuthentication } from './validate-request-authentication.js';

const sec = { group: SECURITY_GROUP, versions: SECURITY_VERSIONS, namespaced: true } as const;

export const SECURITY_KINDS: readonly KindDefinition[] = Object.freeze([
  { ...sec, kind: 'PeerAuthentication', validate: validatePeerAuthentication },
  { ...sec, kind: 'AuthorizationPolicy', validate: validateAuthorizationPolicy },
  { ...sec, kind: 'RequestAuthentication', validate: validateRequestAuthentication },
]);
