/**
 * The control plane's scrape of every connected proxy's `/stats/prometheus` (the admin address
 * each reports in node metadata ADMIN_ADDRESS), every interval (default 5 s) with bounded
 * concurrency and a timeout per proxy. A proxy that does not answer, answers more than the byte
 * limit, or reports an admin address the control plane will not dial (admin-address.ts: only
 * IP:PORT on the proxy's own machine) is skipped and counted; the graph is built from whatever
 * answered. Each proxy keeps a bounded ring of its recent scrapes.
 */
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { adminTarget } from '../admin-address.js';
import { readBoundedText } from '../bounded-body.js';
import { GRAPH_METRICS, parsePrometheusText } from './prometheus-text.js';
import type { Rate } from './build-graph.js';
import { increasesOver, type Scrape } from './window.js';

export interface ScrapeTarget {
  /** The proxy's node id. */
  id: string;
  /** `IP:PORT` of its admin endpoint, as it reported it ('' when none). */
  adminAddress: string;
  /** The peer address of its xDS stream (`IP:PORT`): the machine the admin must be on. */
  peer: string;
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
  /** A proxy's answer above this many bytes is abandoned (default 32 MiB). */
  maxBytes?: number;
  /** Tests: how a proxy's text is fetched. */
  fetchText?: (url: string, timeoutMs: number, maxBytes: number) => Promise<string>;
}

export const DEFAULT_SCRAPE_INTERVAL_MS = 5000;
/** Scrapes kept per proxy at most, whatever the interval (bounds memory). */
const MAX_SCRAPES_PER_PROXY = 200;
/** A proxy's answer above this size is refused (a proxy with runaway series costs itself only). */
const MAX_BYTES = 32 << 20;

/** GET `url` as text, reading the body as it arrives and abandoning it past `maxBytes` bytes. */
export async function fetchText(url: string, timeoutMs: number, maxBytes: number): Promise<string> {
  const controller = new AbortController();
  const res = await fetch(url, {
    signal: AbortSignal.any([controller.signal, AbortSignal.timeout(timeoutMs)]),
    redirect: 'error',
  });
  if (!res.ok) {
    controller.abort();
    throw new Error(`HTTP ${res.status}`);
  }
  return await readBoundedText(res, maxBytes, () => controller.abort());
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
  private readonly maxBytes: number;
  private readonly fetch: (url: string, timeoutMs: number, maxBytes: number) => Promise<string>;

  constructor(private readonly options: ScraperOptions) {
    this.intervalMs = options.intervalMs ?? DEFAULT_SCRAPE_INTERVAL_MS;
    this.timeoutMs = options.timeoutMs ?? Math.min(2000, this.intervalMs);
    this.concurrency = Math.max(1, options.concurrency ?? 8);
    this.retentionMs = options.retentionMs ?? 10 * 60_000;
    this.maxBytes = options.maxBytes ?? MAX_BYTES;
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
        const admin = adminTarget(t.adminAddress, t.peer);
        if (!admin.ok) {
          this.skipped++;
          failures.push({ proxy: t.id, error: `not scraped: ${admin.reason}` });
          continue;
        }
        try {
          const text = await this.fetch(`${admin.base}/stats/prometheus`, this.timeoutMs, this.maxBytes);
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
