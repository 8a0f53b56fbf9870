/**
 * What RBAC sees of an HTTP request, as Envoy's connection manager presents it to the filter:
 * the normalized path without its query, the headers with their pseudo-headers, the peer
 * (direct_remote_ip), the client address the HCM trusts (remote_ip: x-forwarded-for under
 * use_remote_address / xff_num_trusted_hops), the local port, the connection's mTLS principal and
 * SNI, and the dynamic metadata earlier filters wrote (jwt_authn payloads).
 *
 * Exports:
 *   trustedClientAddress(peer, xff, policy): string     pure, Envoy's XFF rules
 *   httpRbacRequest(input): RbacRequest
 */
import { isIP } from 'node:net';
import type { ClientAddressPolicy } from '../model/config.js';
import type { RbacRequest } from '../policy/rbac.js';
import type { ConnectionSecurity } from './downstream.js';

/**
 * Envoy (ConnectionManagerUtility::mutateRequestHeaders, "x-forwarded-for" in its docs): with
 * use_remote_address and no trusted hops, the peer; with use_remote_address and N trusted hops,
 * the Nth address from the right of x-forwarded-for; without use_remote_address, the (N+1)th.
 * Too few addresses, or one that is not an IP, and it is the peer.
 */
export function trustedClientAddress(
  peer: string,
  xff: string | string[] | undefined,
  policy: ClientAddressPolicy | undefined,
): string {
  const useRemote = policy?.useRemoteAddress ?? false;
  const hops = policy?.xffNumTrustedHops ?? 0;
  const fromRight = useRemote ? hops : hops + 1;
  if (fromRight === 0 || xff === undefined) return peer;
  const list = (Array.isArray(xff) ? xff.join(',') : xff)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const pick = list[list.length - fromRight];
  return pick !== undefined && isIP(pick) !== 0 ? pick : peer;
}

export interface HttpRbacInput {
  /** With pseudo-headers, after earlier filters' changes. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The normalized path with its query. */
  path: string;
  peer: string;
  localPort: number;
  /** The connection's local address ('' when unknown: a destination_ip rule then never matches). */
  localAddress: string;
  security?: ConnectionSecurity | undefined;
  clientAddress?: ClientAddressPolicy | undefined;
  metadata: Readonly<Record<string, unknown>>;
}

export function httpRbacRequest(input: HttpRbacInput): RbacRequest {
  const q = input.path.search(/[?#]/);
  return {
    headers: input.headers,
    path: q === -1 ? input.path : input.path.slice(0, q),
    directRemoteIp: input.peer,
    remoteIp: trustedClientAddress(input.peer, input.headers['x-forwarded-for'], input.clientAddress),
    destinationIp: input.localAddress.startsWith('::ffff:')
      ? input.localAddress.slice(7)
      : input.localAddress,
    destinationPort: input.localPort,
    principal: input.security?.policy === 'mutual_tls' ? input.security.peerPrincipal : undefined,
    sni: input.security?.sni,
    metadata: input.metadata,
  };
}
