import type { Clock } from '../../core/clock.js';
import type { Random } from '../../core/random.js';
import { durationMs, invalid, unwrap, type DurationConfig, type Wrapped } from './proto-values.js';

/**
 * Envoy outlier detection for one cluster: consecutive 5xx / gateway failure / local-origin
 * failure ejections (immediate, when the count is reached), success-rate and failure-percentage
 * ejections (at each interval sweep), ejection time base * times-ejected capped by
 * max_ejection_time, and max_ejection_percent (at least one host can always be ejected).
 *
 * Exports:
 *   type UpstreamOutcome = { kind: 'response'; status } | { kind: 'connect-failure' | 'timeout'
 *                          | 'reset' | 'connect-success' }
 *   compileOutlierDetection(config: OutlierDetectionConfig, path): OutlierSettings
 *   class OutlierDetector(settings, { clock, random })
 *     .intervalMs                       call evaluate() this often (the caller owns the timer)
 *     .setHosts(addresses)              membership; state of removed hosts is dropped
 *     .record(address, outcome): boolean      true when this result ejected the host
 *     .evaluate(): string[]             the sweep; returns addresses whose ejection changed
 *     .isEjected(address): boolean
 *     .snapshot(): OutlierHostSnapshot[]  for admin /clusters
 *     .stats: Record<string, number>    Envoy names: ejections_active, ejections_overflow, ...
 *
 * As in Envoy, un-ejection happens at sweeps, so a host stays out up to one interval longer
 * than its ejection time. A host that stays in for a whole interval has its ejection
 * multiplier lowered by one.
 */
export type UpstreamOutcome =
  | { kind: 'response'; status: number }
  | { kind: 'connect-failure' }
  | { kind: 'timeout' }
  | { kind: 'reset' }
  | { kind: 'connect-success' };

export interface OutlierDetectionConfig {
  consecutive_5xx?: Wrapped<number>;
  interval?: DurationConfig;
  base_ejection_time?: DurationConfig;
  max_ejection_percent?: Wrapped<number>;
  enforcing_consecutive_5xx?: Wrapped<number>;
  enforcing_success_rate?: Wrapped<number>;
  success_rate_minimum_hosts?: Wrapped<number>;
  success_rate_request_volume?: Wrapped<number>;
  success_rate_stdev_factor?: Wrapped<number>;
  consecutive_gateway_failure?: Wrapped<number>;
  enforcing_consecutive_gateway_failure?: Wrapped<number>;
  split_external_local_origin_errors?: boolean | null;
  consecutive_local_origin_failure?: Wrapped<number>;
  enforcing_consecutive_local_origin_failure?: Wrapped<number>;
  enforcing_local_origin_success_rate?: Wrapped<number>;
  failure_percentage_threshold?: Wrapped<number>;
  enforcing_failure_percentage?: Wrapped<number>;
  enforcing_failure_percentage_local_origin?: Wrapped<number>;
  failure_percentage_minimum_hosts?: Wrapped<number>;
  failure_percentage_request_volume?: Wrapped<number>;
  max_ejection_time?: DurationConfig;
  max_ejection_time_jitter?: DurationConfig;
}

export interface OutlierSettings {
  intervalMs: number;
  baseEjectionMs: number;
  maxEjectionMs: number;
  maxEjectionJitterMs: number;
  maxEjectionPercent: number;
  splitLocalOrigin: boolean;
  consecutive5xx: number;
  enforcing5xx: number;
  consecutiveGateway: number;
  enforcingGateway: number;
  consecutiveLocal: number;
  enforcingLocal: number;
  successRate: {
    minimumHosts: number;
    requestVolume: number;
    stdevFactor: number;
    enforcing: number;
    enforcingLocal: number;
  };
  failurePercentage: {
    threshold: number;
    minimumHosts: number;
    requestVolume: number;
    enforcing: number;
    enforcingLocal: number;
  };
}

function percent(v: Wrapped<number>, fallback: number, path: string): number {
  const n = unwrap(v, fallback);
  if (n < 0 || n > 100) throw invalid(path, `must be a percentage between 0 and 100, got ${n}`);
  return n;
}

export function compileOutlierDetection(
  c: OutlierDetectionConfig,
  path = 'outlier_detection',
): OutlierSettings {
  const intervalMs = durationMs(c.interval, 10_000);
  if (intervalMs <= 0) throw invalid(`${path}.interval`, 'must be greater than 0');
  const baseEjectionMs = durationMs(c.base_ejection_time, 30_000);
  if (baseEjectionMs <= 0) throw invalid(`${path}.base_ejection_time`, 'must be greater than 0');
  const p = (name: keyof OutlierDetectionConfig, fallback: number) =>
    percent(c[name] as Wrapped<number>, fallback, `${path}.${name}`);
  return {
    intervalMs,
    baseEjectionMs,
    // Envoy: max_ejection_time defaults to 300s, and is never below base_ejection_time.
    maxEjectionMs: Math.max(baseEjectionMs, durationMs(c.max_ejection_time, 300_000)),
    maxEjectionJitterMs: durationMs(c.max_ejection_time_jitter, 0),
    maxEjectionPercent: p('max_ejection_percent', 10),
    splitLocalOrigin: c.split_external_local_origin_errors === true,
    consecutive5xx: unwrap(c.consecutive_5xx, 5),
    enforcing5xx: p('enforcing_consecutive_5xx', 100),
    consecutiveGateway: unwrap(c.consecutive_gateway_failure, 5),
    enforcingGateway: p('enforcing_consecutive_gateway_failure', 0),
    consecutiveLocal: unwrap(c.consecutive_local_origin_failure, 5),
    enforcingLocal: p('enforcing_consecutive_local_origin_failure', 100),
    successRate: {
      minimumHosts: unwrap(c.success_rate_minimum_hosts, 5),
      requestVolume: unwrap(c.success_rate_request_volume, 100),
      stdevFactor: unwrap(c.success_rate_stdev_factor, 1900) / 1000,
      enforcing: p('enforcing_success_rate', 100),
      enforcingLocal: p('enforcing_local_origin_success_rate', 100),
    },
    failurePercentage: {
      threshold: p('failure_percentage_threshold', 85),
      minimumHosts: unwrap(c.failure_percentage_minimum_hosts, 5),
      requestVolume: unwrap(c.failure_percentage_request_volume, 50),
      enforcing: p('enforcing_failure_percentage', 0),
      enforcingLocal: p('enforcing_failure_percentage_local_origin', 0),
    },
  };
}

interface Bucket {
  ok: number;
  failed: number;
}

interface HostState {
  ejected: boolean;
  ejectedAt: number;
  ejectionMs: number;
  /** Multiplier for the next ejection time; Envoy's num_ejections. */
  multiplier: number;
  totalEjections: number;
  consecutive5xx: number;
  consecutiveGateway: number;
  consecutiveLocal: number;
  external: Bucket;
  local: Bucket;
}

export interface OutlierHostSnapshot {
  address: string;
  ejected: boolean;
  ejections: number;
  ejectedUntil?: number;
  /** Success rate (percent) seen in the last completed interval, when there was traffic. */
  successRate?: number;
}

type Cause =
  | 'consecutive_5xx'
  | 'consecutive_gateway_failure'
  | 'consecutive_local_origin_failure'
  | 'success_rate'
  | 'local_origin_success_rate'
  | 'failure_percentage'
  | 'failure_percentage_local_origin';

const isGateway = (s: number) => s === 502 || s === 503 || s === 504;

export class OutlierDetector {
  readonly stats: Record<string, number> = {
    ejections_active: 0,
    ejections_overflow: 0,
    ejections_enforced_total: 0,
  };
  private readonly hosts = new Map<string, HostState>();
  private readonly lastRates = new Map<string, number>();
  private readonly clock: Clock;
  private readonly random: Random;

  constructor(
    readonly settings: OutlierSettings,
    deps: { clock: Clock; random: Random },
  ) {
    this.clock = deps.clock;
    this.random = deps.random;
  }

  get intervalMs(): number {
    return this.settings.intervalMs;
  }

  setHosts(addresses: Iterable<string>): void {
    const keep = new Set(addresses);
    for (const a of [...this.hosts.keys()]) {
      if (keep.has(a)) continue;
      if (this.hosts.get(a)!.ejected) this.stats.ejections_active!--;
      this.hosts.delete(a);
    }
    for (const a of keep) if (!this.hosts.has(a)) this.hosts.set(a, newState());
  }

  isEjected(address: string): boolean {
    return this.hosts.get(address)?.ejected ?? false;
  }

  record(address: string, outcome: UpstreamOutcome): boolean {
    const h = this.hosts.get(address);
    if (h === undefined) return false;
    const s = this.settings;
    if (outcome.kind === 'response') return this.recordStatus(address, h, outcome.status);
    if (!s.splitLocalOrigin) {
      // Without the split, local failures count as the gateway errors they become downstream.
      if (outcome.kind === 'connect-success') return false;
      return this.recordStatus(address, h, outcome.kind === 'timeout' ? 504 : 503);
    }
    if (outcome.kind === 'connect-success') {
      h.local.ok++;
      h.consecutiveLocal = 0;
      return false;
    }
    h.local.failed++;
    if (++h.consecutiveLocal === s.consecutiveLocal) {
      return this.tryEject(address, h, 'consecutive_local_origin_failure', s.enforcingLocal);
    }
    return false;
  }

  private recordStatus(address: string, h: HostState, status: number): boolean {
    const s = this.settings;
    if (status < 500) {
      h.external.ok++;
      h.consecutive5xx = 0;
      h.consecutiveGateway = 0;
      return false;
    }
    h.external.failed++;
    let ejected = false;
    if (isGateway(status)) {
      if (++h.consecutiveGateway === s.consecutiveGateway) {
        ejected = this.tryEject(address, h, 'consecutive_gateway_failure', s.enforcingGateway);
      }
    } else {
      h.consecutiveGateway = 0;
    }
    if (++h.consecutive5xx === s.consecutive5xx && !ejected) {
      ejected = this.tryEject(address, h, 'consecutive_5xx', s.enforcing5xx);
    }
    return ejected;
  }

  private tryEject(_address: string, h: HostState, cause: Cause, enforcing: number): boolean {
    if (h.ejected) return false;
    this.bump(`ejections_detected_${cause}`);
    const active = this.stats.ejections_active!;
    // Envoy lets one ejection through even when it goes past the limit, so at least one host
    // can always be ejected however small the percentage or the cluster.
    if (active > 0 && (active * 100) / this.hosts.size >= this.settings.maxEjectionPercent) {
      this.bump('ejections_overflow');
      return false;
    }
    if (enforcing <= 0 || this.random() * 100 >= enforcing) return false;
    const s = this.settings;
    h.multiplier++;
    h.totalEjections++;
    h.ejected = true;
    h.ejectedAt = this.clock.now();
    const jitter = s.maxEjectionJitterMs > 0 ? Math.floor(this.random() * s.maxEjectionJitterMs) : 0;
    h.ejectionMs = Math.min(s.baseEjectionMs * h.multiplier, s.maxEjectionMs) + jitter;
    this.stats.ejections_active!++;
    this.bump('ejections_enforced_total');
    this.bump(`ejections_enforced_${cause}`);
    return true;
  }

  private bump(name: string): void {
    this.stats[name] = (this.stats[name] ?? 0) + 1;
  }

  evaluate(): string[] {
    const now = this.clock.now();
    const changed: string[] = [];
    for (const [address, h] of this.hosts) {
      if (h.ejected) {
        if (now >= h.ejectedAt + h.ejectionMs) {
          h.ejected = false;
          h.consecutive5xx = 0;
          h.consecutiveGateway = 0;
          h.consecutiveLocal = 0;
          this.stats.ejections_active!--;
          changed.push(address);
        }
      } else if (h.multiplier > 0 && now - h.ejectedAt - h.ejectionMs >= this.settings.intervalMs) {
        h.multiplier--;
      }
    }
    const s = this.settings;
    const sweep = (
      bucket: 'external' | 'local',
      rateCause: Cause,
      rateEnforcing: number,
      pctCause: Cause,
      pctEnforcing: number,
    ) => {
      this.successRateSweep(bucket, rateCause, rateEnforcing, changed);
      this.failurePercentageSweep(bucket, pctCause, pctEnforcing, changed);
    };
    sweep(
      'external',
      'success_rate',
      s.successRate.enforcing,
      'failure_percentage',
      s.failurePercentage.enforcing,
    );
    if (s.splitLocalOrigin) {
      sweep(
        'local',
        'local_origin_success_rate',
        s.successRate.enforcingLocal,
        'failure_percentage_local_origin',
        s.failurePercentage.enforcingLocal,
      );
    }
    this.lastRates.clear();
    for (const [address, h] of this.hosts) {
      const total = h.external.ok + h.external.failed;
      if (total > 0) this.lastRates.set(address, (h.external.ok * 100) / total);
      h.external = { ok: 0, failed: 0 };
      h.local = { ok: 0, failed: 0 };
    }
    return changed;
  }

  private successRateSweep(
    bucket: 'external' | 'local',
    cause: Cause,
    enforcing: number,
    changed: string[],
  ): void {
    const cfg = this.settings.successRate;
    const rated = this.rated(bucket, cfg.requestVolume);
    if (rated.length < cfg.minimumHosts || rated.length === 0) return;
    const mean = rated.reduce((sum, r) => sum + r.rate, 0) / rated.length;
    const variance = rated.reduce((sum, r) => sum + (r.rate - mean) ** 2, 0) / rated.length;
    const threshold = mean - cfg.stdevFactor * Math.sqrt(variance);
    for (const r of rated) {
      if (r.rate < threshold && this.tryEject(r.address, r.host, cause, enforcing)) changed.push(r.address);
    }
  }

  private failurePercentageSweep(
    bucket: 'external' | 'local',
    cause: Cause,
    enforcing: number,
    changed: string[],
  ): void {
    const cfg = this.settings.failurePercentage;
    const rated = this.rated(bucket, cfg.requestVolume);
    if (rated.length < cfg.minimumHosts || rated.length === 0) return;
    for (const r of rated) {
      if (100 - r.rate >= cfg.threshold && this.tryEject(r.address, r.host, cause, enforcing))
        changed.push(r.address);
    }
  }

  private rated(
    bucket: 'external' | 'local',
    volume: number,
  ): { address: string; host: HostState; rate: number }[] {
    const out: { address: string; host: HostState; rate: number }[] = [];
    for (const [address, host] of this.hosts) {
      if (host.ejected) continue;
      const b = host[bucket];
      const total = b.ok + b.failed;
      if (total >= volume && total > 0) out.push({ address, host, rate: (b.ok * 100) / total });
    }
    return out;
  }

  snapshot(): OutlierHostSnapshot[] {
    return [...this.hosts].map(([address, h]) => {
      const snap: OutlierHostSnapshot = { address, ejected: h.ejected, ejections: h.totalEjections };
      if (h.ejected) snap.ejectedUntil = h.ejectedAt + h.ejectionMs;
      const rate = this.lastRates.get(address);
      if (rate !== undefined) snap.successRate = rate;
      return snap;
    });
  }
}

function newState(): HostState {
  return {
    ejected: false,
    ejectedAt: 0,
    ejectionMs: 0,
    multiplier: 0,
    totalEjections: 0,
    consecutive5xx: 0,
    consecutiveGateway: 0,
    consecutiveLocal: 0,
    external: { ok: 0, failed: 0 },
    local: { ok: 0, failed: 0 },
  };
}
