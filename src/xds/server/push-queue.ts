import { TYPE, type ResourceTypeUrl } from '../../protocol/protos.js';

/**
 * The push queue: at most one pending push per proxy. Enqueueing for a proxy that already waits
 * merges the resource types (and keeps its place in line); a proxy being pushed right now that
 * gets a new request is queued again after it finishes, so no change is lost and no proxy is
 * pushed twice at once. Workers take from the front with bounded concurrency.
 */
export interface PendingPush {
  proxyId: string;
  types: Set<string>;
  /** Clock time of the earliest change this push carries (for push-latency metrics). */
  since: number;
  /** Send even if the generated resources equal what was last sent (e.g. a new subscription). */
  force: boolean;
}

export class PushQueue {
  private readonly order: string[] = [];
  private readonly pending = new Map<string, PendingPush>();
  private readonly inFlight = new Set<string>();
  /** Requests that arrived while a proxy was being pushed. */
  private readonly deferred = new Map<string, PendingPush>();
  private waiters: (() => void)[] = [];

  enqueue(proxyId: string, types: Iterable<string>, since: number, force = false): void {
    const target = this.inFlight.has(proxyId) ? this.deferred : this.pending;
    const existing = target.get(proxyId);
    if (existing) {
      for (const t of types) existing.types.add(t);
      existing.since = Math.min(existing.since, since);
      existing.force ||= force;
      return;
    }
    const push: PendingPush = { proxyId, types: new Set(types), since, force };
    if (push.types.size === 0) return;
    target.set(proxyId, push);
    if (target === this.pending) {
      this.order.push(proxyId);
      this.wake();
    }
  }

  /** Forgets a proxy (it disconnected). */
  remove(proxyId: string): void {
    this.pending.delete(proxyId);
    this.deferred.delete(proxyId);
  }

  get size(): number {
    return this.pending.size;
  }

  /** Takes the next push, or undefined when none is waiting. Call done() after sending. */
  take(): PendingPush | undefined {
    while (this.order.length > 0) {
      const id = this.order.shift() as string;
      const push = this.pending.get(id);
      if (!push) continue;
      this.pending.delete(id);
      this.inFlight.add(id);
      return push;
    }
    return undefined;
  }

  done(proxyId: string): void {
    this.inFlight.delete(proxyId);
    const again = this.deferred.get(proxyId);
    if (again) {
      this.deferred.delete(proxyId);
      this.enqueue(proxyId, again.types, again.since, again.force);
    }
  }

  /** Resolves when something may be available to take. */
  async wait(): Promise<void> {
    if (this.pending.size > 0) return;
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Wakes all waiters (used on shutdown). */
  wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }
}

/** One response of a push: the type, and whether removals wait for a later step. */
export interface PushStep {
  typeUrl: ResourceTypeUrl;
  /** Keep what this type drops (make-before-break); a later step of the same push removes it. */
  holdRemovals: boolean;
  /** Send even if equal to the last response (a new subscription). */
  force: boolean;
}

/**
 * Envoy's make-before-break order (xDS protocol, "eventual consistency considerations"): clusters
 * and their endpoints before the listeners and routes that may name them. Removals go the other
 * way: a push that changes clusters and also listeners or routes first sends the clusters (and,
 * for delta, their endpoints) with the removed ones still in, then the listeners and routes that
 * stop naming them, and only then the clusters and endpoints without them.
 */
const PUSH_ORDER: readonly ResourceTypeUrl[] = [
  TYPE.cluster,
  TYPE.endpoint,
  TYPE.listener,
  TYPE.route,
  TYPE.secret,
];

export function pushSteps(types: ReadonlySet<string>, force: boolean): PushStep[] {
  const ordered = PUSH_ORDER.filter((t) => types.has(t));
  const breakLast = types.has(TYPE.cluster) && (types.has(TYPE.route) || types.has(TYPE.listener));
  const held = (t: string) => breakLast && (t === TYPE.cluster || t === TYPE.endpoint);
  return [
    ...ordered.map((typeUrl) => ({ typeUrl, holdRemovals: held(typeUrl), force })),
    ...ordered.filter(held).map((typeUrl) => ({ typeUrl, holdRemovals: false, force: false })),
  ];
}
