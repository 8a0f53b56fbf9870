/**
 * envoy.filters.network.rbac ahead of a TCP proxy: the connection's facts (peer, local address
 * and port, the mTLS principal and SNI when the chain terminated TLS) against each RBAC filter in
 * chain order. There is no HTTP here: path rules never match and header rules see no headers, as
 * in Envoy (Istio leaves HTTP-only rules out of TCP policies). Stats under
 * `<stat_prefix>.rbac.` (allowed, denied, shadow_*), shadow results as dynamic metadata of the
 * connection under envoy.filters.network.rbac.
 *
 * Envoy decides on the first byte; here the decision is made when the connection is accepted,
 * before any upstream connection: nothing it reads can change, and a denied client never reaches
 * the upstream, even one that speaks first.
 */
import type { NetworkRbacFilter } from '../model/config.js';
import type { RbacRequest } from '../policy/rbac.js';
import { evaluateRbacFilter } from '../connection-manager/authz-filter.js';
import type { ConnectionSecurity } from '../connection-manager/downstream.js';

export interface NetworkConnectionFacts {
  remoteAddress: string;
  localAddress: string;
  localPort: number;
  security?: ConnectionSecurity | undefined;
}

export interface NetworkRbacResult {
  allowed: boolean;
  /** When denied: Envoy's termination details, `rbac_access_denied_matched_policy[...]`. */
  details?: string;
}

export function checkNetworkRbac(
  filters: readonly NetworkRbacFilter[],
  conn: NetworkConnectionFacts,
  count?: (stat: string) => void,
): NetworkRbacResult {
  const request: RbacRequest = {
    headers: {},
    path: undefined,
    directRemoteIp: conn.remoteAddress,
    remoteIp: conn.remoteAddress,
    destinationIp: conn.localAddress,
    destinationPort: conn.localPort,
    principal: conn.security?.policy === 'mutual_tls' ? conn.security.peerPrincipal : undefined,
    sni: conn.security?.sni,
  };
  const metadata: Record<string, unknown> = {};
  request.metadata = metadata;
  for (const f of filters) {
    const decision = evaluateRbacFilter(f, request, {
      statPrefix: f.statPrefix,
      metadataNamespace: 'envoy.filters.network.rbac',
      metadata,
      ...(count ? { count } : {}),
    });
    if (!decision.allowed)
      return {
        allowed: false,
        details: `rbac_access_denied_matched_policy[${(decision.policy ?? 'none').replace(/\s/g, '_')}]`,
      };
  }
  return { allowed: true };
}
