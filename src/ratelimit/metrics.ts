/**
 * The service's Prometheus metrics, rendered as text on /metrics. Counters follow
 * envoyproxy/ratelimit's per-rule stats (total_hits, over_limit, near_limit, shadow_mode),
 * labelled by domain and the rule's stat key (`database_users`, `message_type_marketing.to_number`).
 */
const LATENCY_BUCKETS_MS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1000];

/** detailed_metric can create a series per request value; past this many they are folded. */
const MAX_SERIES = 10_000;

export interface RuleCounters {
  totalHits: number;
  overLimit: number;
  nearLimit: number;
  shadowMode: number;
  /** Decisions the store could not make (failure mode applied instead). */
  errors: number;
}

class Histogram {
  readonly counts = new Array<number>(LATENCY_BUCKETS_MS.length).fill(0);
  count = 0;
  sum = 0;

  observe(ms: number): void {
    this.count++;
    this.sum += ms;
    for (let i = 0; i < LATENCY_BUCKETS_MS.length; i++) {
      if (ms <= (LATENCY_BUCKETS_MS[i] as number)) {
        this.counts[i] = (this.counts[i] as number) + 1;
        return;
      }
    }
  }
}

function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export class RateLimitMetrics {
  private readonly rules = new Map<string, { domain: string; key: string; c: RuleCounters }>();
  private readonly latency = new Map<string, Histogram>();
  /** 1 when the store answers; always 1 for the memory backend. */
  backendUp = 1;
  backendKind = 'memory';
  backendErrors = 0;
  failureModeDecisions = 0;
  configReloads = 0;
  configReloadErrors = 0;
  /** Counters held in memory, or over-limit keys cached locally for Redis. */
  keys = 0;

  rule(domain: string, statKey: string): RuleCounters {
    const id = `${domain}\x1f${statKey}`;
    let r = this.rules.get(id);
    if (!r) {
      if (this.rules.size >= MAX_SERIES) return this.rule(domain, '_other');
      r = { domain, key: statKey, c: { totalHits: 0, overLimit: 0, nearLimit: 0, shadowMode: 0, errors: 0 } };
      this.rules.set(id, r);
    }
    return r.c;
  }

  observeLatency(domain: string, ms: number): void {
    let h = this.latency.get(domain);
    if (!h) {
      h = new Histogram();
      this.latency.set(domain, h);
    }
    h.observe(ms);
  }

  /** Prometheus text exposition format 0.0.4. */
  render(): string {
    const out: string[] = [];
    const counter = (name: string, help: string, pick: (c: RuleCounters) => number) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
      for (const r of this.rules.values()) {
        out.push(`${name}{domain="${label(r.domain)}",descriptor="${label(r.key)}"} ${pick(r.c)}`);
      }
    };
    counter('trellis_ratelimit_total_hits', 'Hits on a rate limit rule.', (c) => c.totalHits);
    counter(
      'trellis_ratelimit_over_limit',
      'Hits over the limit (shadow mode included).',
      (c) => c.overLimit,
    );
    counter('trellis_ratelimit_near_limit', 'Hits above 80% of the limit.', (c) => c.nearLimit);
    counter(
      'trellis_ratelimit_shadow_mode',
      'Over-limit hits answered OK by shadow mode.',
      (c) => c.shadowMode,
    );
    counter('trellis_ratelimit_errors', 'Hits the store could not decide.', (c) => c.errors);
    const h = 'trellis_ratelimit_decision_duration_milliseconds';
    out.push(`# HELP ${h} Time to decide one ShouldRateLimit call.`, `# TYPE ${h} histogram`);
    for (const [domain, hist] of this.latency) {
      let cumulative = 0;
      LATENCY_BUCKETS_MS.forEach((le, i) => {
        cumulative += hist.counts[i] as number;
        out.push(`${h}_bucket{domain="${label(domain)}",le="${le}"} ${cumulative}`);
      });
      out.push(`${h}_bucket{domain="${label(domain)}",le="+Inf"} ${hist.count}`);
      out.push(`${h}_sum{domain="${label(domain)}"} ${hist.sum}`);
      out.push(`${h}_count{domain="${label(domain)}"} ${hist.count}`);
    }
    const gauge = (name: string, help: string, value: number, type = 'gauge', labels = '') => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}${labels} ${value}`);
    };
    gauge(
      'trellis_ratelimit_redis_up',
      'Whether the counter store answers (1) or not (0).',
      this.backendUp,
      'gauge',
      `{backend="${this.backendKind}"}`,
    );
    gauge('trellis_ratelimit_backend_errors', 'Store calls that failed.', this.backendErrors, 'counter');
    gauge(
      'trellis_ratelimit_failure_mode_decisions',
      'Calls answered by the failure mode.',
      this.failureModeDecisions,
      'counter',
    );
    gauge('trellis_ratelimit_config_reloads', 'Configurations applied.', this.configReloads, 'counter');
    gauge(
      'trellis_ratelimit_config_reload_errors',
      'Configurations rejected.',
      this.configReloadErrors,
      'counter',
    );
    gauge('trellis_ratelimit_keys', 'Counters held in memory or over-limit keys cached.', this.keys);
    return out.join('\n') + '\n';
  }
}
