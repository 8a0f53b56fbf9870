/**
 * The decision core of the global rate limit service: envoyproxy/ratelimit's ShouldRateLimit
 * semantics over a pluggable counter store. Transport-free (./server.ts adds gRPC and HTTP),
 * so the control plane can embed it and call setConfig() directly.
 */
import { systemClock, type Clock } from '../core/clock.js';
import { msToProtoDuration, type ProtoDuration } from '../core/duration.js';
import { TrellisError, errorMessage } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { LimitDecision } from './algorithm/decision.js';
import type { CounterCheck, RateLimitBackend } from './backend/backend.js';
import { MemoryBackend } from './backend/memory.js';
import {
  UNIT_MS,
  compileDomains,
  validateDomains,
  type Algorithm,
  type CompiledDomain,
  type CompiledLimit,
  type DomainConfig,
  type RateLimitUnit,
} from './config.js';
import { applyReplaces, matchDescriptor, type MatchedLimit } from './descriptor-match.js';
import { RateLimitMetrics } from './metrics.js';

/** envoy.service.ratelimit.v3.RateLimitRequest as a plain object (snake_case). */
export interface RateLimitRequest {
  domain?: string;
  descriptors?: {
    entries?: { key?: string; value?: string }[];
    limit?: { requests_per_unit?: number; unit?: string } | null;
  }[];
  hits_addend?: number;
}

export type ResponseCode = 'OK' | 'OVER_LIMIT';
export type ResponseUnit = 'SECOND' | 'MINUTE' | 'HOUR' | 'DAY';

export interface DescriptorStatus {
  code: ResponseCode;
  current_limit?: { requests_per_unit: number; unit: ResponseUnit; name?: string };
  limit_remaining?: number;
  duration_until_reset?: ProtoDuration;
}

export interface RateLimitResponse {
  overall_code: ResponseCode;
  statuses: DescriptorStatus[];
  response_headers_to_add?: { key: string; value: string }[];
}

export interface RateLimitServiceOptions {
  /** Counter store; an in-process MemoryBackend when left out. */
  backend?: RateLimitBackend;
  clock?: Clock;
  logger?: Logger;
  /** When the store is unreachable: answer OVER_LIMIT (true) or OK (false, the default). */
  failureModeDeny?: boolean;
  /** Fill response_headers_to_add with x-ratelimit-limit/remaining/reset. */
  responseHeaders?: boolean;
  /** Algorithm for limits that do not name one. */
  defaultAlgorithm?: Algorithm;
  metrics?: RateLimitMetrics;
}

const MAX_UINT32 = 0xffffffff;

function unitFromProto(unit: string | undefined): RateLimitUnit | undefined {
  const u = unit?.toLowerCase();
  return u !== undefined && u in UNIT_MS ? (u as RateLimitUnit) : undefined;
}

export class RateLimitService {
  readonly metrics: RateLimitMetrics;
  readonly backend: RateLimitBackend;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly failureModeDeny: boolean;
  private readonly responseHeaders: boolean;
  private readonly defaultAlgorithm: Algorithm;
  private domains = new Map<string, CompiledDomain>();
  private current: readonly DomainConfig[] = [];
  private loaded = false;

  constructor(options: RateLimitServiceOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.backend = options.backend ?? new MemoryBackend({ clock: this.clock });
    this.failureModeDeny = options.failureModeDeny ?? false;
    this.responseHeaders = options.responseHeaders ?? false;
    this.defaultAlgorithm = options.defaultAlgorithm ?? 'token_bucket';
    this.metrics = options.metrics ?? new RateLimitMetrics();
    this.metrics.backendKind = this.backend.kind;
    this.metrics.backendUp = this.backend.isUp() ? 1 : 0;
    this.backend.onStatusChange((up) => {
      this.metrics.backendUp = up ? 1 : 0;
    });
  }

  /**
   * Replaces the whole configuration (one entry per domain, envoyproxy/ratelimit's YAML shape).
   * Validated first: on any problem it throws TRELLIS_INVALID_CONFIG listing every field path,
   * and the previous configuration stays in force.
   */
  setConfig(domains: readonly unknown[], source = 'setConfig'): void {
    let valid: DomainConfig[];
    try {
      // A private copy: validation normalises values, and callers may keep editing theirs.
      valid = validateDomains(structuredClone(domains), source);
    } catch (err) {
      this.metrics.configReloadErrors++;
      throw err;
    }
    this.domains = compileDomains(valid, { defaultAlgorithm: this.defaultAlgorithm });
    this.current = valid;
    this.loaded = true;
    this.metrics.configReloads++;
    this.logger.info('rate limit config applied', {
      source,
      domains: valid.map((d) => d.domain).join(',') || '(none)',
    });
  }

  /** The configuration in force, as given to setConfig (for /config). */
  config(): readonly DomainConfig[] {
    return this.current;
  }

  /** True once a configuration has been applied. */
  isReady(): boolean {
    return this.loaded;
  }

  async shouldRateLimit(request: RateLimitRequest): Promise<RateLimitResponse> {
    const started = this.clock.now();
    const domainName = request.domain ?? '';
    if (domainName === '') {
      throw new TrellisError('TRELLIS_INVALID_ARGUMENT', 'rate limit domain must not be empty');
    }
    const descriptors = request.descriptors ?? [];
    if (descriptors.length === 0) {
      throw new TrellisError('TRELLIS_INVALID_ARGUMENT', 'rate limit descriptor list must not be empty');
    }
    const domain = this.domains.get(domainName);
    const hits = Math.max(1, request.hits_addend ?? 0);
    const entriesOf = descriptors.map((d) =>
      (d.entries ?? []).map((e) => ({ key: e.key ?? '', value: e.value ?? '' })),
    );
    const matches = applyReplaces(
      descriptors.map((d, i) => {
        if (!domain) return undefined;
        const override = d.limit ? this.overrideLimit(domainName, entriesOf[i] ?? [], d.limit) : undefined;
        return override ?? matchDescriptor(domain, entriesOf[i] ?? []);
      }),
    );

    const statuses: DescriptorStatus[] = new Array<DescriptorStatus>(descriptors.length);
    const checks: CounterCheck[] = [];
    const checked: { index: number; match: MatchedLimit }[] = [];
    matches.forEach((m, i) => {
      if (!m) {
        statuses[i] = { code: 'OK' };
        return;
      }
      this.metrics.rule(domainName, m.statKey).totalHits += hits;
      if (m.limit.unlimited) {
        statuses[i] = { code: 'OK', limit_remaining: MAX_UINT32 };
        return;
      }
      let key = domainName;
      for (const e of entriesOf[i] ?? []) key += `\x1f${e.key}\x1e${e.value}`;
      checks.push({ key, limit: m.limit, hits });
      checked.push({ index: i, match: m });
    });

    if (checks.length > 0) {
      let decisions: LimitDecision[] | undefined;
      try {
        decisions = await this.backend.check(checks);
      } catch (err) {
        this.onBackendError(err, domainName, checked);
      }
      checked.forEach(({ index, match }, j) => {
        statuses[index] = this.status(domainName, match, decisions?.[j]);
      });
    }

    const overall: ResponseCode = statuses.some((s) => s.code === 'OVER_LIMIT') ? 'OVER_LIMIT' : 'OK';
    const response: RateLimitResponse = { overall_code: overall, statuses };
    if (this.responseHeaders) {
      const headers = this.headers(statuses);
      if (headers.length) response.response_headers_to_add = headers;
    }
    this.metrics.observeLatency(domainName, this.clock.now() - started);
    return response;
  }

  async close(): Promise<void> {
    await this.backend.close();
  }

  /** One status; `decision` undefined means the store failed and the failure mode decides. */
  private status(domain: string, match: MatchedLimit, decision: LimitDecision | undefined): DescriptorStatus {
    const limit = match.limit;
    const stats = this.metrics.rule(domain, match.statKey);
    const current_limit: DescriptorStatus['current_limit'] = {
      requests_per_unit: limit.requestsPerUnit,
      unit: limit.unit.toUpperCase() as ResponseUnit,
    };
    if (limit.name !== undefined) current_limit.name = limit.name;
    if (!decision) {
      stats.errors++;
      const deny = this.failureModeDeny && !limit.shadowMode;
      return { code: deny ? 'OVER_LIMIT' : 'OK', current_limit, limit_remaining: 0 };
    }
    let code: ResponseCode = 'OK';
    if (decision.overLimit) {
      stats.overLimit++;
      if (limit.shadowMode) stats.shadowMode++;
      else code = 'OVER_LIMIT';
    } else if (decision.nearLimit) {
      stats.nearLimit++;
    }
    return {
      code,
      current_limit,
      limit_remaining: Math.min(MAX_UINT32, decision.remaining),
      duration_until_reset: msToProtoDuration(decision.resetMs),
    };
  }

  private onBackendError(err: unknown, domain: string, checked: readonly unknown[]): void {
    this.metrics.backendErrors++;
    this.metrics.failureModeDecisions++;
    this.logger.debug('store failed; applying failure mode', {
      domain,
      descriptors: checked.length,
      mode: this.failureModeDeny ? 'deny' : 'allow',
      error: errorMessage(err),
    });
  }

  /** A limit carried by the request itself (RateLimitDescriptor.limit), as envoyproxy/ratelimit honours it. */
  private overrideLimit(
    domain: string,
    entries: readonly { key: string; value: string }[],
    override: { requests_per_unit?: number; unit?: string },
  ): MatchedLimit | undefined {
    const unit = unitFromProto(override.unit);
    if (unit === undefined) return undefined;
    const rpu = override.requests_per_unit ?? 0;
    const statKey = entries.map((e) => `${e.key}_${e.value}`).join('.');
    const limit: CompiledLimit = {
      domain,
      statKey,
      requestsPerUnit: rpu,
      unit,
      unitMs: UNIT_MS[unit],
      unlimited: false,
      shadowMode: false,
      detailedMetric: false,
      name: undefined,
      replaces: [],
      algorithm: this.defaultAlgorithm,
      burst: rpu,
    };
    return { limit, statKey };
  }

  /**
   * x-ratelimit-* headers for the most restrictive status, as envoyproxy/ratelimit adds them
   * (RESPONSE_HEADERS_ENABLED): limit, remaining, and seconds until reset.
   */
  private headers(statuses: readonly DescriptorStatus[]): { key: string; value: string }[] {
    let pick: DescriptorStatus | undefined;
    for (const s of statuses) {
      if (!s.current_limit) continue;
      if (!pick || (s.limit_remaining ?? 0) < (pick.limit_remaining ?? 0)) pick = s;
    }
    if (!pick?.current_limit) return [];
    const reset = pick.duration_until_reset;
    const resetSeconds = reset ? Math.ceil(Number(reset.seconds) + reset.nanos / 1e9) : 0;
    return [
      { key: 'x-ratelimit-limit', value: String(pick.current_limit.requests_per_unit) },
      { key: 'x-ratelimit-remaining', value: String(pick.limit_remaining ?? 0) },
      { key: 'x-ratelimit-reset', value: String(resetSeconds) },
    ];
  }
}
