/**
 * The control plane's scrape of every connected proxy's `/stats/prometheus` (the admin address
 * each reports in node metadata ADMIN_ADDRESS), every interval (default 5 s) with bounded
 * concurrency and a timeout per proxy. A proxy that does not answer is skipped and counted; the
 * graph is built from whatever answered. Each proxy keeps a bounded ring of its recent scrapes.
 */
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { GRAPH_METRICS, parsePrometheusText } from './prometheus-text.js';
import type { Rate } from './build-graph.js';
import { increasesOver, type Scrape } from './window.js';

export interface ScrapeTarget {
  /** The proxy's node id. */
  id: string;
  /** `HOST:PORT` of its admin endpoint. */
  adminAddress: string;
}

export interface ScraperOptions {
  targets: () => readonly ScrapeTarget[];
  clock: Clock;
  logger: Logger;
  intervalMs?: number;
  timeoutMs?: number;
  concurrency?: number;
  /** How long scrapes are kept (the longest window a graph may ask for); default 10 min. */
  retentionMs?: number;
  /** Tests: how a proxy's text is fetched. */
  fetchText?: (url: string, timeoutMs: number) => Promise<string>;
}

export const DEFAULT_SCRAPE_INTERVAL_MS = 5000;
/** Scrapes kept per proxy at most, whatever the interval (bounds memory). */
const MAX_SCRAPES_PER_PROXY = 200;
/** A proxy's answer above this size is refused (a proxy with runaway series costs itself only). */
const MAX_BYTES = 32 << 20;

async function fetchText(url: string, timeoutMs: number): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const text = await res.text();
  if (text.length > MAX_BYTES) throw new Error(`answer larger than ${MAX_BYTES} bytes`);
  return text;
}

export class MetricsScraper {
  private readonly rings = new Map<string, Scrape[]>();
  private timer: TimerHandle | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  /** Scrapes that failed (timeout, refused, bad status), since start. */
  skipped = 0;
  /** The last round's failures, by proxy id. */
  lastFailures: { proxy: string; error: string }[] = [];
  readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly concurrency: number;
  private readonly retentionMs: number;
  private readonly fetch: (url: string, timeoutMs: number) => Promise<string>;

  constructor(private readonly options: ScraperOptions) {
    this.intervalMs = options.intervalMs ?? DEFAULT_SCRAPE_INTERVAL_MS;
    this.timeoutMs = options.timeoutMs ?? Math.min(2000, this.intervalMs);
    this.concurrency = Math.max(1, options.concurrency ?? 8);
    this.retentionMs = options.retentionMs ?? 10 * 60_000;
    this.fetch = options.fetchText ?? fetchText;
  }

  start(): void {
    this.stopped = false;
    const tick = () => {
      if (this.stopped) return;
      this.running = this.scrapeOnce()
        .catch((err: unknown) => this.options.logger.warn('graph scrape failed', { error: String(err) }))
        .finally(() => {
          if (!this.stopped) this.timer = this.options.clock.setTimeout(tick, this.intervalMs);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.running;
  }

  /** One round over every target, at most `concurrency` at a time. */
  async scrapeOnce(): Promise<void> {
    const targets = this.options.targets().filter((t) => t.adminAddress !== '');
    const failures: { proxy: string; error: string }[] = [];
    let next = 0;
    const worker = async () => {
      while (next < targets.length) {
        const t = targets[next++]!;
        try {
          const text = await this.fetch(`http://${t.adminAddress}/stats/prometheus`, this.timeoutMs);
          this.add(t.id, {
            atMs: this.options.clock.now(),
            samples: parsePrometheusText(text, (n) => GRAPH_METRICS.has(n)),
          });
        } catch (err) {
          this.skipped++;
          failures.push({ proxy: t.id, error: (err as Error).message });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, targets.length) }, worker));
    this.lastFailures = failures;
    this.prune();
  }

  private add(proxy: string, scrape: Scrape): void {
    let ring = this.rings.get(proxy);
    if (!ring) this.rings.set(proxy, (ring = []));
    ring.push(scrape);
    if (ring.length > MAX_SCRAPES_PER_PROXY) ring.splice(0, ring.length - MAX_SCRAPES_PER_PROXY);
  }

  /** Drops scrapes older than the retention, and proxies left with none. */
  private prune(): void {
    const oldest = this.options.clock.now() - this.retentionMs;
    for (const [proxy, ring] of this.rings) {
      const keep = ring.filter((s) => s.atMs >= oldest);
      if (keep.length === 0) this.rings.delete(proxy);
      else if (keep.length !== ring.length) this.rings.set(proxy, keep);
    }
  }

  /** Per-second rates over the window, per proxy from its own scrapes. */
  rates(windowMs: number): Rate[] {
    const now = this.options.clock.now();
    const out: Rate[] = [];
    for (const ring of this.rings.values()) {
      // The window reaches back one interval further, so a window of one interval has two scrapes.
      const w = increasesOver(ring, windowMs + this.intervalMs, now);
      if (!w) continue;
      for (const i of w.increases)
        out.push({ name: i.name, labels: i.labels, perSecond: i.delta / w.seconds });
    }
    return out;
  }
}
