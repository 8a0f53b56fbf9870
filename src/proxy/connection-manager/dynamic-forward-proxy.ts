/**
 * envoy.filters.http.dynamic_forward_proxy: for a request routed to a dynamic forward proxy
 * cluster, resolves the host it names (its :authority, the port defaulting to 80, or 443 when
 * the cluster speaks TLS) through the filter's DNS cache; the router then sends it to that
 * address, keeping the Host. Requests routed to any other cluster pass untouched, as in Envoy.
 */
import net from 'node:net';
import os from 'node:os';
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

/**
 * One spelling per address: IPv6 as the URL parser prints it, and an IPv4-mapped IPv6 address
 * (`::ffff:127.0.0.1`, `::ffff:7f00:1`) as the IPv4 address it reaches, so the loop check
 * cannot be talked past by another way of writing the same address.
 */
export function canonicalAddress(address: string): string {
  if (!net.isIPv6(address)) return address;
  let text: string;
  try {
    text = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return address;
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(text);
  if (mapped === null) return text;
  const hi = parseInt(mapped[1]!, 16);
  const lo = parseInt(mapped[2]!, 16);
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

let interfaceAddresses: { at: number; set: Set<string> } | undefined;

/** This host's own interface addresses, re-read at most every 10 s. */
function ownAddresses(): Set<string> {
  const now = Date.now();
  if (interfaceAddresses === undefined || now - interfaceAddresses.at > 10_000) {
    const set = new Set<string>();
    for (const list of Object.values(os.networkInterfaces()))
      for (const a of list ?? []) set.add(canonicalAddress(a.address));
    interfaceAddresses = { at: now, set };
  }
  return interfaceAddresses.set;
}

/**
 * Whether a (canonical) address is this host: loopback (127/8, ::1), "this network" (0/8, ::,
 * which connect to the local host) or one of its interface addresses: where the proxy itself
 * may listen.
 */
export function isLocalAddress(address: string): boolean {
  return (
    /^127\./.test(address) ||
    /^0\./.test(address) ||
    address === '::1' ||
    address === '::' ||
    ownAddresses().has(address)
  );
}

/**
 * `arrivedOn`: the local address and port the request came in on. A Host naming them would send
 * the request back into this very listener, for ever (Istio's virtualOutbound blackholes its own
 * port for the same reason): it is refused.
 */
/**
 * Whether a request routed to `clusterName` is the filter's to resolve: checked before the async
 * call, so the common request (a mesh cluster) costs the filter a map lookup, not a microtask.
 */
export function isForwardProxyCluster(clusters: ClusterManager | undefined, clusterName: string): boolean {
  return clusters?.get(clusterName)?.config.type === 'DYNAMIC_FORWARD_PROXY';
}

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
      const canonical = canonicalAddress(host);
      if (
        arrivedOn !== undefined &&
        target.port === arrivedOn.port &&
        (canonical === canonicalAddress(arrivedOn.address) || isLocalAddress(canonical))
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
