import { invalid, unwrap, type Wrapped } from './proto-values.js';

/**
 * Envoy cluster circuit breakers: per priority (DEFAULT, HIGH) limits on connections, pending
 * requests, requests and concurrent retries (defaults 1024, 1024, 1024, 3), or a retry budget.
 *
 * Exports:
 *   type ResourceKind = 'connections' | 'pending_requests' | 'requests' | 'retries'
 *   compileCircuitBreakers(config: CircuitBreakersConfig | undefined, path): CircuitBreakerSettings
 *   class CircuitBreakers(settings)
 *     .forPriority('DEFAULT' | 'HIGH'): CircuitBreaker
 *     .stats: Record<string, number>   upstream_cx_overflow, upstream_rq_pending_overflow,
 *                                       upstream_rq_retry_overflow (cluster-wide counters)
 *   CircuitBreaker.tryAcquire(kind): (() => void) | undefined   release fn (idempotent) or overflow
 *   CircuitBreaker.active(kind) / remaining(kind) / isOpen(kind)
 *   CircuitBreaker.gauges(): Record<string, number>   cx_open, rq_pending_open, rq_open,
 *                                       rq_retry_open, remaining_cx, remaining_pending, ...
 */
export type ResourceKind = 'connections' | 'pending_requests' | 'requests' | 'retries';
export type RoutingPriority = 'DEFAULT' | 'HIGH';

export interface ThresholdsConfig {
  priority?: RoutingPriority | number | null;
  max_connections?: Wrapped<number>;
  max_pending_requests?: Wrapped<number>;
  max_requests?: Wrapped<number>;
  max_retries?: Wrapped<number>;
  retry_budget?: { budget_percent?: Wrapped<number>; min_retry_concurrency?: Wrapped<number> } | null;
  track_remaining?: boolean | null;
  max_connection_pools?: Wrapped<number>;
}

export interface CircuitBreakersConfig {
  thresholds?: ThresholdsConfig[] | null;
  per_host_thresholds?: ThresholdsConfig[] | null;
}

export interface Limits {
  connections: number;
  pending_requests: number;
  requests: number;
  retries: number;
  retryBudget?: RetryBudget;
}

export type CircuitBreakerSettings = Record<RoutingPriority, Limits>;

const DEFAULTS: Limits = { connections: 1024, pending_requests: 1024, requests: 1024, retries: 3 };

export function compileCircuitBreakers(
  config: CircuitBreakersConfig | null | undefined,
  path = 'circuit_breakers',
): CircuitBreakerSettings {
  const out: CircuitBreakerSettings = { DEFAULT: { ...DEFAULTS }, HIGH: { ...DEFAULTS } };
  const seen = new Set<RoutingPriority>();
  (config?.thresholds ?? []).forEach((t, i) => {
    const p = `${path}.thresholds[${i}]`;
    const raw = t.priority ?? 'DEFAULT';
    const priority: RoutingPriority | undefined =
      raw === 0 || raw === 'DEFAULT' ? 'DEFAULT' : raw === 1 || raw === 'HIGH' ? 'HIGH' : undefined;
    if (priority === undefined) throw invalid(`${p}.priority`, 'expected DEFAULT or HIGH');
    if (seen.has(priority)) throw invalid(`${p}.priority`, `thresholds for ${priority} are given twice`);
    seen.add(priority);
    const limits: Limits = {
      connections: unwrap(t.max_connections, 1024),
      pending_requests: unwrap(t.max_pending_requests, 1024),
      requests: unwrap(t.max_requests, 1024),
      retries: unwrap(t.max_retries, 3),
    };
    if (t.retry_budget) {
      limits.retryBudget = {
        budgetPercent: unwrap(t.retry_budget.budget_percent, 20),
        minRetryConcurrency: unwrap(t.retry_budget.min_retry_concurrency, 3),
      };
    }
    out[priority] = limits;
  });
  return out;
}

const OVERFLOW_STAT: Record<ResourceKind, string> = {
  connections: 'upstream_cx_overflow',
  pending_requests: 'upstream_rq_pending_overflow',
  // Envoy counts max_requests overflows under the pending overflow counter too.
  requests: 'upstream_rq_pending_overflow',
  retries: 'upstream_rq_retry_overflow',
};

const GAUGE: Record<ResourceKind, [string, string]> = {
  connections: ['cx_open', 'remaining_cx'],
  pending_requests: ['rq_pending_open', 'remaining_pending'],
  requests: ['rq_open', 'remaining_rq'],
  retries: ['rq_retry_open', 'remaining_retries'],
};

export class CircuitBreaker {
  private readonly counts: Record<ResourceKind, number> = {
    connections: 0,
    pending_requests: 0,
    requests: 0,
    retries: 0,
  };

  constructor(
    private readonly limits: Limits,
    private readonly stats: Record<string, number>,
  ) {}

  limit(kind: ResourceKind): number {
    if (kind === 'retries' && this.limits.retryBudget) {
      return retryBudgetLimit(this.limits.retryBudget, this.counts.requests + this.counts.pending_requests);
    }
    return this.limits[kind];
  }

  active(kind: ResourceKind): number {
    return this.counts[kind];
  }

  remaining(kind: ResourceKind): number {
    return Math.max(0, this.limit(kind) - this.counts[kind]);
  }

  isOpen(kind: ResourceKind): boolean {
    return this.counts[kind] >= this.limit(kind);
  }

  tryAcquire(kind: ResourceKind): (() => void) | undefined {
    if (this.isOpen(kind)) {
      const stat = OVERFLOW_STAT[kind];
      this.stats[stat] = (this.stats[stat] ?? 0) + 1;
      return undefined;
    }
    this.counts[kind]++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.counts[kind]--;
    };
  }

  gauges(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const kind of Object.keys(GAUGE) as ResourceKind[]) {
      const [open, remaining] = GAUGE[kind];
      out[open] = this.isOpen(kind) ? 1 : 0;
      out[remaining] = this.remaining(kind);
    }
    return out;
  }
}

export class CircuitBreakers {
  readonly stats: Record<string, number> = {
    upstream_cx_overflow: 0,
    upstream_rq_pending_overflow: 0,
    upstream_rq_retry_overflow: 0,
  };
  private readonly byPriority: Record<RoutingPriority, CircuitBreaker>;

  constructor(settings: CircuitBreakerSettings) {
    this.byPriority = {
      DEFAULT: new CircuitBreaker(settings.DEFAULT, this.stats),
      HIGH: new CircuitBreaker(settings.HIGH, this.stats),
    };
  }

  forPriority(priority: RoutingPriority = 'DEFAULT'): CircuitBreaker {
    return this.byPriority[priority];
  }
}

export interface RetryBudget {
  /** Percent of active requests that may be retries (Envoy default 20). */
  budgetPercent: number;
  /** Retries always allowed regardless of the active count (Envoy default 3). */
  minRetryConcurrency: number;
}

/** How many retries may be in flight at once under a budget. */
export function retryBudgetLimit(budget: RetryBudget, activeRequests: number): number {
  return Math.max(budget.minRetryConcurrency, Math.floor((budget.budgetPercent / 100) * activeRequests));
}
