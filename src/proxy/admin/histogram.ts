/** The buckets of Istio's histograms and a histogram that prints as Prometheus does. */
export const DURATION_BUCKETS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
  3600000,
];
export const BYTES_BUCKETS = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000];

export class Histogram {
  /** Observations per bucket alone (not cumulative): one increment per observation. */
  private readonly perBucket: number[];
  sum = 0;
  count = 0;
  constructor(readonly buckets: readonly number[]) {
    this.perBucket = buckets.map(() => 0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    const b = this.buckets;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) {
        this.perBucket[i]!++;
        return;
      }
    }
  }
  /** Cumulative counts per bucket, as Prometheus prints them (`le`). */
  get counts(): number[] {
    let sum = 0;
    return this.perBucket.map((n) => (sum += n));
  }
  /** Adds cumulative counts (another process's, same buckets). */
  addCumulative(counts: readonly number[]): void {
    let previous = 0;
    for (let i = 0; i < this.perBucket.length; i++) {
      const c = counts[i] ?? previous;
      this.perBucket[i]! += c - previous;
      previous = c;
    }
  }
}

/** A histogram as plain data; `counts` are cumulative per bucket, as in Prometheus. */
export interface HistogramData {
  counts: number[];
  sum: number;
  count: number;
}
