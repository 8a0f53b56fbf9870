/**
 * envoy.filters.http.dynamic_forward_proxy: for a request routed to a dynamic forward proxy
 * cluster, resolves the host it names (its :authority, the port defaulting to 80, or 443 when
 * the cluster speaks TLS) through the filter's DNS cache; the router then sends it to that
 * address, keeping the Host. Requests routed to any other cluster pass untouched, as in Envoy.
 */
import net from 'node:net';
import type { DnsCacheSettings, Endpoint } from '../model/config.js';
import type { ClusterManager } from '../upstream/cluster-manager.js';
import type { LocalReplyReason } from './local-reply.js';

export type ForwardProxyOutcome =
  { kind: 'continue'; endpoint?: Endpoint } | { kind: 'reply'; reason: LocalReplyReason };

const PASS: ForwardProxyOutcome = Object.freeze({ kind: 'continue' });

/** `host[:port]` or `[v6][:port]` -> its parts; undefined when it names no host. */
export function splitAuthority(
  authority: string,
  defaultPort: number,
): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+))(?::(\d{1,5}))?$/.exec(authority);
  if (!m) return undefined;
  const port = m[3] === undefined ? defaultPort : Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: (m[1] ?? m[2])!, port };
}

/** Whether an address is this host (loopback or unspecified): where the proxy itself listens. */
function isLocal(address: string): boolean {
  return /^127\./.test(address) || address === '::1' || address === '0.0.0.0' || address === '::';
}

/**
 * `arrivedOn`: the local address and port the request came in on. A Host naming them would send
 * the request back into this very listener, for ever (Istio's virtualOutbound blackholes its own
 * port for the same reason): it is refused.
 */
export async function dynamicForwardProxy(
  dnsCache: DnsCacheSettings,
  clusterName: string,
  authority: string,
  clusters: ClusterManager | undefined,
  arrivedOn?: { address: string; port: number },
): Promise<ForwardProxyOutcome> {
  const cluster = clusters?.get(clusterName);
  if (clusters === undefined || cluster?.config.type !== 'DYNAMIC_FORWARD_PROXY') return PASS;
  const target = splitAuthority(authority, cluster.config.tls ? 443 : 80);
  if (target === undefined)
    return {
      kind: 'reply',
      reason: { kind: 'bad-request', detail: `invalid host ${JSON.stringify(authority)}` },
    };
  const result = await clusters.dnsCaches.get(dnsCache).resolve(target.host);
  switch (result.kind) {
    case 'failed':
      return {
        kind: 'reply',
        reason: { kind: 'dns-resolution-failure', host: target.host, detail: result.detail },
      };
    case 'pending-overflow':
    case 'host-overflow':
      return { kind: 'reply', reason: { kind: 'dns-cache-overflow', what: result.kind } };
    case 'resolved': {
      const host = result.address;
      if (
        arrivedOn !== undefined &&
        target.port === arrivedOn.port &&
        (host === arrivedOn.address || isLocal(host))
      )
        return { kind: 'reply', reason: { kind: 'passthrough-loop', authority } };
      const key = net.isIPv6(host) ? `[${host}]:${target.port}` : `${host}:${target.port}`;
      return {
        kind: 'continue',
        endpoint: {
          key,
          host,
          port: target.port,
          healthy: true,
          healthStatus: 'HEALTHY',
          weight: 1,
          identity: {},
        },
      };
    }
  }
}
