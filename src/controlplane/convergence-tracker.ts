/**
 * The control plane's memory for convergence.ts: which proxies left (a proxy that disconnects
 * mid-change is reported, not forgotten, until it comes back or `forgetAfterMs` passes), and which
 * served revision first carried each store revision (the served config is the user's store with
 * the Router's derived layer over it, whose revision counts both).
 */
import type { Clock } from '../core/clock.js';
import type { ProxyStatus } from '../xds/server/status.js';
import {
  convergence,
  proxyShortName,
  type ConvergenceReport,
  type DisconnectedProxy,
  type StoreConvergence,
} from './convergence.js';

export interface ConvergenceTrackerOptions {
  clock: Clock;
  /** How long a disconnected proxy keeps counting as lagging; default 60 s. */
  forgetAfterMs?: number;
}

/** How many (served, store) revision pairs are kept. */
const HISTORY = 512;

export class ConvergenceTracker {
  private readonly seen = new Map<string, string>();
  private readonly gone = new Map<string, DisconnectedProxy>();
  /** Ascending: served revision, and the user store's revision it was built from. */
  private readonly history: { served: number; store: number }[] = [];
  private readonly forgetAfterMs: number;

  constructor(private readonly options: ConvergenceTrackerOptions) {
    this.forgetAfterMs = options.forgetAfterMs ?? 60_000;
  }

  /** Notes the proxies connected now; those seen before and missing now have disconnected. */
  observe(connected: readonly ProxyStatus[]): void {
    const now = this.options.clock.wallNow();
    const present = new Set<string>();
    for (const p of connected) {
      present.add(p.proxy);
      this.seen.set(p.proxy, proxyShortName(p));
      this.gone.delete(p.proxy);
    }
    for (const [proxy, name] of this.seen) {
      if (present.has(proxy)) continue;
      this.seen.delete(proxy);
      this.gone.set(proxy, { proxy, name, at: now });
    }
    for (const [proxy, d] of this.gone) if (now - d.at > this.forgetAfterMs) this.gone.delete(proxy);
  }

  /** Records that the served config at revision `served` holds the user's store at `store`. */
  served(served: number, store: number): void {
    const last = this.history[this.history.length - 1];
    if (last && last.served === served) return;
    this.history.push({ served, store });
    if (this.history.length > HISTORY) this.history.shift();
  }

  /**
   * The first served revision that holds the user's store at `store` or later; undefined while
   * none does yet. Past the kept history, the oldest kept (a conservative answer).
   */
  servedRevisionFor(store: number): number | undefined {
    return this.history.find((h) => h.store >= store)?.served;
  }

  /**
   * Whether the user's store at `storeRevision` (default: `storeNow`, its revision now) is in
   * effect on every proxy: each has ACKed, for every routing type, a push built from it or later.
   */
  storeReport(
    storeRevision: number | undefined,
    storeNow: number,
    connected: readonly ProxyStatus[],
  ): StoreConvergence {
    const store = storeRevision ?? storeNow;
    const served = this.servedRevisionFor(store);
    if (served !== undefined) return { storeRevision: store, ...this.report(served, connected) };
    this.observe(connected);
    const waitingFor =
      storeNow < store
        ? `the config store is at revision ${storeNow}, not yet ${store}`
        : `the control plane has not pushed revision ${store} yet`;
    return {
      storeRevision: store,
      revision: -1,
      inEffect: false,
      proxies: connected.length,
      lagging: [],
      waitingFor,
    };
  }

  report(revision: number, connected: readonly ProxyStatus[]): ConvergenceReport {
    this.observe(connected);
    return convergence(revision, connected, [...this.gone.values()]);
  }
}
