/**
 * The security.istio.io kinds, defined but NOT registered: nothing in Trellis enforces them
 * yet, and accepting a PeerAuthentication or an AuthorizationPolicy that nothing enforces would
 * tell users their traffic is protected when it is not. Until then a document of these kinds
 * is refused as an unknown kind of a recognised group (see lookupKind in ../kinds.ts).
 *
 * To switch them on, once enforcement lands, register them beside the networking kinds in
 * ../kinds.ts:
 *
 *     for (const def of SECURITY_KINDS) registerKind(def);
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
