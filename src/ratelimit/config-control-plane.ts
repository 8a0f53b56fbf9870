/**
 * Configuration from the control plane: polls `GET <url>/v1/ratelimit/config`, which answers
 * `{ "revision": N, "domains": [ { "domain": ..., "descriptors": [...] } ] }` (envoyproxy/
 * ratelimit's shape per domain; other top-level fields are ignored), and applies a new
 * revision with service.setConfig.
 *
 * Never loses the last good state: an invalid document is logged once per revision with every
 * field path (`domains[0].descriptors[1].rate_limit.unit`), and the control plane being
 * unreachable is logged once per outage (plus once when it is back), not on every poll.
 */
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { Problems, errorMessage } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { configError, validateDomainConfig } from './config.js';
import type { RateLimitService } from './service.js';

export const CONFIG_PATH = '/v1/ratelimit/config';

export type PollOutcome = 'applied' | 'unchanged' | 'invalid' | 'unreachable';

export interface ControlPlaneConfigOptions {
  /** The control plane's HTTP API base, e.g. http://127.0.0.1:15014. */
  url: string;
  service: RateLimitService;
  logger?: Logger;
  clock?: Clock;
  /** Default 2000 ms. */
  pollIntervalMs?: number;
  /** A poll that gets no answer in this time counts as unreachable (default 5000 ms). */
  requestTimeoutMs?: number;
  fetch?: typeof fetch;
}

/** Keeps a service's configuration in step with the control plane. */
export class ControlPlaneConfigPoller {
  readonly endpoint: string;
  private readonly service: RateLimitService;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly pollIntervalMs: number;
  private readonly requestTimeoutMs: number;
  private readonly fetchImpl: typeof fetch;
  private applied: string | undefined;
  private rejected: string | undefined;
  private down = false;
  private timer: TimerHandle | undefined;
  private running = false;
  private inFlight: Promise<PollOutcome> | undefined;
  private readonly listeners: ((outcome: PollOutcome) => void)[] = [];

  constructor(options: ControlPlaneConfigOptions) {
    this.endpoint = options.url.replace(/\/+$/, '') + CONFIG_PATH;
    this.service = options.service;
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? systemClock;
    this.pollIntervalMs = options.pollIntervalMs ?? 2000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5000;
    this.fetchImpl = options.fetch ?? fetch;
  }

  /** The revision in force, once one has been applied. */
  revision(): string | undefined {
    return this.applied;
  }

  /** Called after every poll with its outcome (for progress lines and tests). */
  onPoll(listener: (outcome: PollOutcome) => void): void {
    this.listeners.push(listener);
  }

  /** Polls now, then every pollIntervalMs until close(). */
  start(): void {
    if (this.running) return;
    this.running = true;
    void this.tick();
  }

  close(): void {
    this.running = false;
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** One poll; concurrent callers share it. */
  async pollOnce(): Promise<PollOutcome> {
    this.inFlight ??= this.poll().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async tick(): Promise<void> {
    const outcome = await this.pollOnce();
    for (const l of this.listeners) l(outcome);
    if (!this.running) return;
    this.timer = this.clock.setTimeout(() => void this.tick(), this.pollIntervalMs);
  }

  private async poll(): Promise<PollOutcome> {
    let body: unknown;
    try {
      const res = await this.fetchImpl(this.endpoint, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
      if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`.trim());
      const text = await res.text();
      try {
        body = JSON.parse(text);
      } catch (err) {
        throw new Error(`answer is not JSON: ${errorMessage(err)}`);
      }
    } catch (err) {
      if (!this.down) {
        this.down = true;
        this.logger.warn('control plane unreachable; keeping the last rate limit config', {
          url: this.endpoint,
          revision: this.applied ?? '(none yet)',
          error: errorMessage(err),
        });
      }
      return 'unreachable';
    }
    if (this.down) {
      this.down = false;
      this.logger.info('control plane reachable again', { url: this.endpoint });
    }
    return this.accept(body);
  }

  private accept(body: unknown): PollOutcome {
    const p = new Problems();
    const doc =
      body !== null && typeof body === 'object' && !Array.isArray(body)
        ? (body as Record<string, unknown>)
        : undefined;
    if (!doc) p.error('', 'expected an object with revision and domains');
    const domains = doc?.domains;
    if (doc && !Array.isArray(domains)) p.error('domains', 'expected a list of domains');
    const rev = doc?.revision;
    if (doc && rev !== undefined && typeof rev !== 'number' && typeof rev !== 'string') {
      p.error('revision', 'expected a number or a string');
    }
    // Without a revision the content itself tells whether anything changed.
    const revision =
      typeof rev === 'number' || typeof rev === 'string'
        ? String(rev)
        : `content ${JSON.stringify(domains ?? body ?? null)}`;
    if (p.ok && revision === this.applied) return 'unchanged';
    // A revision names one content: a rejected one is not checked (or logged) again.
    if (p.ok && revision === this.rejected) return 'invalid';
    if (p.ok && Array.isArray(domains)) {
      const seen = new Map<string, number>();
      domains.forEach((d: unknown, i) => {
        const path = `domains[${i}]`;
        if (!validateDomainConfig(d, p, path)) return;
        const first = seen.get(d.domain);
        if (first !== undefined)
          p.error(
            `${path}.domain`,
            `domain ${JSON.stringify(d.domain)} is also defined by domains[${first}]`,
          );
        seen.set(d.domain, i);
      });
    }
    const shown = typeof rev === 'number' || typeof rev === 'string' ? String(rev) : '(none)';
    const source = `${this.endpoint} revision ${shown}`;
    let problem: string | undefined;
    if (!p.ok) {
      problem = configError(p, source).message;
      this.service.metrics.configReloadErrors++;
    } else {
      try {
        this.service.setConfig(domains as unknown[], source);
      } catch (err) {
        problem = errorMessage(err);
      }
    }
    if (problem !== undefined) {
      if (revision !== this.rejected) {
        this.rejected = revision;
        this.logger.error('rate limit config from the control plane rejected; keeping the last good one', {
          url: this.endpoint,
          revision: shown,
          kept: this.applied ?? '(none yet)',
          error: problem,
        });
      }
      return 'invalid';
    }
    this.applied = revision;
    this.rejected = undefined;
    return 'applied';
  }
}
