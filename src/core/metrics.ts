/**
 * Prometheus metrics without a dependency: counters, gauges and histograms with labels, and a
 * registry that renders the text exposition format. Label sets are keyed by their joined values,
 * so the hot path does one Map lookup per observation.
 */
export type Labels = Readonly<Record<string, string>>;

interface Metric {
  readonly name: string;
  render(out: string[]): void;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(names: readonly string[], values: readonly string[], extra = ''): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i] ?? '')}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(',')}}` : '';
}

abstract class Family<T> implements Metric {
  protected readonly series = new Map<string, { values: string[]; data: T }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  protected entry(labels: Labels): T {
    const values = this.labelNames.map((n) => labels[n] ?? '');
    const key = values.join('\u0000');
    let e = this.series.get(key);
    if (!e) {
      e = { values, data: this.init() };
      this.series.set(key, e);
    }
    return e.data;
  }

  /** Drops one label set (e.g. a proxy that disconnected). */
  remove(labels: Labels): void {
    this.series.delete(this.labelNames.map((n) => labels[n] ?? '').join('\u0000'));
  }

  protected abstract init(): T;
  abstract render(out: string[]): void;
}

export class Counter extends Family<{ v: number }> {
  protected init() {
    return { v: 0 };
  }

  inc(labels: Labels = {}, by = 1): void {
    this.entry(labels).v += by;
  }

  get(labels: Labels = {}): number {
    return this.entry(labels).v;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`);
    for (const { values, data } of this.series.values())
      out.push(`${this.name}${labelText(this.labelNames, values)} ${data.v}`);
  }
}

export class Gauge extends Family<{ v: number }> {
  protected init() {
    return { v: 0 };
  }

  set(labels: Labels, value: number): void {
    this.entry(labels).v = value;
  }

  inc(labels: Labels = {}, by = 1): void {
    this.entry(labels).v += by;
  }

  get(labels: Labels = {}): number {
    return this.entry(labels).v;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`);
    for (const { values, data } of this.series.values())
      out.push(`${this.name}${labelText(this.labelNames, values)} ${data.v}`);
  }
}

export class Histogram extends Family<{ buckets: number[]; sum: number; count: number }> {
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly bounds: readonly number[],
  ) {
    super(name, help, labelNames);
  }

  protected init() {
    return { buckets: new Array<number>(this.bounds.length).fill(0), sum: 0, count: 0 };
  }

  observe(labels: Labels, value: number): void {
    const d = this.entry(labels);
    d.sum += value;
    d.count++;
    for (let i = 0; i < this.bounds.length; i++) {
      if (value <= (this.bounds[i] as number)) {
        (d.buckets[i] as number)++;
        break;
      }
    }
  }

  snapshot(labels: Labels = {}): { count: number; sum: number } {
    const d = this.entry(labels);
    return { count: d.count, sum: d.sum };
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`);
    for (const { values, data } of this.series.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += data.buckets[i] as number;
        out.push(
          `${this.name}_bucket${labelText(this.labelNames, values, `le="${this.bounds[i]}"`)} ${cumulative}`,
        );
      }
      out.push(`${this.name}_bucket${labelText(this.labelNames, values, 'le="+Inf"')} ${data.count}`);
      out.push(`${this.name}_sum${labelText(this.labelNames, values)} ${data.sum}`);
      out.push(`${this.name}_count${labelText(this.labelNames, values)} ${data.count}`);
    }
  }
}

export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric>();
  private readonly collectors: (() => void)[] = [];

  /** Runs `fn` before every render: for gauges read from state rather than kept up to date. */
  onCollect(fn: () => void): void {
    this.collectors.push(fn);
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.add(new Gauge(name, help, labelNames));
  }

  histogram(name: string, help: string, labelNames: readonly string[], bounds: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, labelNames, bounds));
  }

  /** The Prometheus text exposition format (version 0.0.4). */
  render(): string {
    for (const fn of this.collectors) fn();
    const out: string[] = [];
    for (const m of this.metrics.values()) m.render(out);
    return out.join('\n') + '\n';
  }

  private add<M extends Metric>(m: M): M {
    if (this.metrics.has(m.name)) throw new Error(`metric ${m.name} registered twice`);
    this.metrics.set(m.name, m);
    return m;
  }
}

export const MS_BUCKETS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
  3600000,
];
