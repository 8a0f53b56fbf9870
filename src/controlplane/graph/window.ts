/**
 * Counter increases over a window from scrapes of one proxy: for each series, the newest value
 * minus the value at the oldest scrape inside the window. A counter that went down was reset (the
 * proxy restarted): its increase is its new value, Prometheus's rule. A series absent from the
 * older scrape started within the window: its whole value is the increase.
 */
import type { Sample } from './prometheus-text.js';

export interface Scrape {
  /** When the scrape was taken (ms, the graph's clock). */
  atMs: number;
  samples: readonly Sample[];
}

/** One series' increase over `seconds`. */
export interface Increase {
  name: string;
  labels: Readonly<Record<string, string>>;
  delta: number;
}

export interface WindowIncreases {
  seconds: number;
  increases: Increase[];
}

export function seriesKey(s: Pick<Sample, 'name' | 'labels'>): string {
  const keys = Object.keys(s.labels).sort();
  return `${s.name}{${keys.map((k) => `${k}=${JSON.stringify(s.labels[k])}`).join(',')}}`;
}

/**
 * The increases between the oldest scrape at or after `nowMs - windowMs` and the newest one;
 * undefined when fewer than two scrapes fall in the window (no rate can be told from one).
 */
export function increasesOver(
  scrapes: readonly Scrape[],
  windowMs: number,
  nowMs: number,
): WindowIncreases | undefined {
  const inWindow = scrapes.filter((s) => s.atMs >= nowMs - windowMs && s.atMs <= nowMs);
  if (inWindow.length < 2) return undefined;
  const first = inWindow.reduce((a, b) => (b.atMs < a.atMs ? b : a));
  const last = inWindow.reduce((a, b) => (b.atMs > a.atMs ? b : a));
  const seconds = (last.atMs - first.atMs) / 1000;
  if (seconds <= 0) return undefined;
  const before = new Map(first.samples.map((s) => [seriesKey(s), s.value]));
  const increases: Increase[] = [];
  for (const s of last.samples) {
    const old = before.get(seriesKey(s));
    const delta = old === undefined || s.value < old ? s.value : s.value - old;
    if (delta > 0) increases.push({ name: s.name, labels: s.labels, delta });
  }
  return { seconds, increases };
}

/**
 * A latency quantile (0..1) from histogram bucket increases (`le` upper bounds, cumulative), by
 * linear interpolation inside the bucket, as PromQL's histogram_quantile; undefined without
 * observations. A quantile in the +Inf bucket is the highest finite bound.
 */
export function quantileFromBuckets(q: number, buckets: ReadonlyMap<number, number>): number | undefined {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const [bound, count] of sorted) {
    if (count >= rank) {
      if (bound === Infinity) return prevBound;
      const inBucket = count - prevCount;
      if (inBucket <= 0) return bound;
      return prevBound + ((bound - prevBound) * (rank - prevCount)) / inBucket;
    }
    prevBound = bound;
    prevCount = count;
  }
  return prevBound;
}
