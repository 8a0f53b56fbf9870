/**
 * Convergence: is the config the store held at a revision in effect on every proxy it affects?
 * Pure over what the ADS server reports (`/debug/syncz` rows): a proxy runs a store revision for
 * a type once it has ACKed a push built from that revision or a later one (`runningVersion`,
 * whose first part is the revision, see xds/server/connection.ts), and it runs the revision as a
 * whole once every xDS type it subscribes to does. What `trellis wait`, `trellis apply --wait` and
 * the Router's rollout gate on.
 *
 * Every connected proxy counts as affected: a change can reach any proxy that can route to the
 * host, and a proxy whose scope leaves the host out still converges at once (the push leaves its
 * config unchanged, which carries its running revision forward). Proxies that disconnected
 * recently count too, as lagging, so a proxy that drops mid-change is named rather than
 * silently skipped.
 */
import type { ProxyStatus } from '../xds/server/status.js';

/** The xDS types whose config decides where requests go (SDS carries certificates only). */
export const ROUTING_TYPES = ['CDS', 'EDS', 'LDS', 'RDS'] as const;

export type LagReason = 'pending' | 'nack' | 'disconnected';

export interface ProxyLag {
  /** The full xDS id. */
  proxy: string;
  /** `workload.namespace`, as `trellis proxy-status` prints it. */
  name: string;
  reason: LagReason;
  /** What to tell a person: the type and revision it runs, the NACK's message, when it left. */
  detail: string;
  /** The store revision the proxy runs (-1: none yet, or unknown once disconnected). */
  revision: number;
}

export interface ConvergenceReport {
  /** The store revision asked about. */
  revision: number;
  inEffect: boolean;
  /** Proxies counted (connected and recently disconnected). */
  proxies: number;
  lagging: ProxyLag[];
}

/** `GET /v1/convergence`: is the user's store at `storeRevision` in effect on every proxy? */
export interface StoreConvergence extends ConvergenceReport {
  /** The user's store revision asked about (default: the store's revision when asked). */
  storeRevision: number;
  /** Set while no push has carried `storeRevision` yet (debounce), or the store has not reached it. */
  waitingFor?: string;
}

/** A proxy that disconnected and has not come back yet. */
export interface DisconnectedProxy {
  proxy: string;
  name: string;
  /** Wall time it disconnected (ms). */
  at: number;
}

/** `12.4f3a` (a push context's version: `CONFIG_REVISION.SERVICES_VERSION`) -> 12; -1 if none. */
export function revisionOfVersion(version: string): number {
  const head = version.split('.', 1)[0] ?? '';
  if (!/^\d+$/.test(head)) return -1;
  return Number(head);
}

/**
 * The store revision a proxy runs as a whole: the oldest over the routing types it subscribes
 * to; -1 before it runs any (a proxy subscribed to none runs whatever it is sent: -1 as well).
 */
export function runningRevision(p: Pick<ProxyStatus, 'types'>): number {
  let min: number | undefined;
  for (const t of ROUTING_TYPES) {
    const s = p.types[t];
    if (s === undefined) continue;
    const r = revisionOfVersion(s.runningVersion);
    min = min === undefined ? r : Math.min(min, r);
  }
  return min ?? -1;
}

/** `productpage-v1.default` from a syncz row (the id's third part when no metadata was sent). */
export function proxyShortName(p: Pick<ProxyStatus, 'proxy' | 'namespace' | 'workloadName'>): string {
  const parts = p.proxy.split('~');
  const fromId = parts.length >= 4 ? (parts[2] ?? '') : '';
  const dot = fromId.lastIndexOf('.');
  const workload = p.workloadName || (dot > 0 ? fromId.slice(0, dot) : fromId) || p.proxy;
  const namespace = p.namespace || (dot > 0 ? fromId.slice(dot + 1) : '') || 'default';
  return `${workload}.${namespace}`;
}

/** Where each proxy stands against `revision`. */
export function convergence(
  revision: number,
  connected: readonly ProxyStatus[],
  disconnected: readonly DisconnectedProxy[] = [],
): ConvergenceReport {
  const lagging: ProxyLag[] = [];
  const present = new Set(connected.map((p) => p.proxy));
  for (const p of connected) {
    const lag = proxyLag(revision, p);
    if (lag) lagging.push(lag);
  }
  const gone = disconnected.filter((d) => !present.has(d.proxy));
  for (const d of gone)
    lagging.push({
      proxy: d.proxy,
      name: d.name,
      reason: 'disconnected',
      detail: `disconnected at ${new Date(d.at).toISOString()} and has not come back`,
      revision: -1,
    });
  lagging.sort((a, b) => a.name.localeCompare(b.name) || a.proxy.localeCompare(b.proxy));
  return { revision, inEffect: lagging.length === 0, proxies: connected.length + gone.length, lagging };
}

function proxyLag(revision: number, p: ProxyStatus): ProxyLag | undefined {
  const name = proxyShortName(p);
  const running = runningRevision(p);
  const behind = ROUTING_TYPES.filter((t) => {
    const s = p.types[t];
    return s !== undefined && revisionOfVersion(s.runningVersion) < revision;
  });
  if (behind.length === 0 && running >= 0) return undefined;
  if (behind.length === 0)
    return {
      proxy: p.proxy,
      name,
      reason: 'pending',
      detail: 'has not subscribed to any config yet',
      revision: -1,
    };
  const nacked = behind.filter((t) => p.types[t]?.status === 'NACK');
  if (nacked.length > 0) {
    const t = nacked[0] as (typeof ROUTING_TYPES)[number];
    const message = p.types[t]?.lastNack?.message ?? 'no detail';
    return {
      proxy: p.proxy,
      name,
      reason: 'nack',
      detail: `rejected ${nacked.join(', ')}: ${message}`,
      revision: running,
    };
  }
  const runs = running < 0 ? 'no config yet' : `revision ${running}`;
  return {
    proxy: p.proxy,
    name,
    reason: 'pending',
    detail: `${behind.join(', ')} not ACKed at revision ${revision} (runs ${runs})`,
    revision: running,
  };
}

/** One line per lagging proxy, for people: `reviews-v1.default: nack: rejected CDS: ...`. */
export function describeLag(report: ConvergenceReport): string[] {
  return report.lagging.map((l) => `${l.name}: ${l.reason}: ${l.detail}`);
}
