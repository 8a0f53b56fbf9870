/**
 * The proxies connected to a control plane (its /debug/syncz rows) and the one a user named,
 * resolved by proxy-names.ts. Every command that takes a PROXY goes through `findProxy`.
 */
import { TrellisError } from '../core/errors.js';
import { apiGet } from './http-client.js';
import { resolveProxyName, type NamedProxy } from './proxy-names.js';

/** A /debug/syncz row, as much of it as the CLI reads. */
export interface ConnectedProxy extends NamedProxy {
  proxy: string;
  type: string;
  namespace: string;
  workloadName?: string;
  proxyVersion?: string;
  adminAddress?: string;
  mode: string;
  /** The config store revision the proxy runs (-1 before its first ACK; absent from older servers). */
  configRevision?: number;
  /** Whether the ProxyConfig it started with is still the one it would get (proxies that say). */
  proxyConfig?: { started: string; current: string; inEffect: boolean; sources: string[] };
  types: Record<
    string,
    {
      status: string;
      lastSentVersion: string;
      lastAckedVersion: string;
      lastNack?: { message: string; version?: string; at?: string };
    }
  >;
}

export async function connectedProxies(base: string): Promise<ConnectedProxy[]> {
  const rows = await apiGet(base, '/debug/syncz');
  if (!Array.isArray(rows)) {
    throw new TrellisError(
      'TRELLIS_IO',
      `${base}/debug/syncz did not answer a list; is this a Trellis control plane?`,
    );
  }
  return rows as ConnectedProxy[];
}

/** The connected proxy `name` means; an unknown or ambiguous name is TRELLIS_NOT_FOUND listing the candidates. */
export async function findProxy(base: string, name: string): Promise<ConnectedProxy> {
  const proxies = await connectedProxies(base);
  const r = resolveProxyName(name, proxies);
  if (!r.ok) {
    const where = r.reason === 'none-connected' ? ` (control plane ${base})` : '';
    throw new TrellisError('TRELLIS_NOT_FOUND', r.message + where);
  }
  return proxies.find((p) => p.proxy === r.id) as ConnectedProxy;
}
