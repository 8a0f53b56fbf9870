/**
 * Istio's metrics of connection managers with an `istio.stats` filter: each metric with the
 * label set its overrides give it (policy/stats-overrides.ts), kept apart from the standard
 * series (which share one label set) and printed under the same metric names.
 */
import type { StreamInfo } from '../connection-manager/stream-info.js';
import { metricLabels, type MetricName, type StatsOverrides } from '../policy/stats-overrides.js';
import { BYTES_BUCKETS, DURATION_BUCKETS, Histogram, type HistogramData } from './histogram.js';
import { requestAttributes } from './stats-attributes.js';

/** Series beyond this many per metric are not kept (dimensions from headers come from clients). */
const MAX_SERIES_PER_METRIC = 10_000;

const HISTOGRAMS: Readonly<Partial<Record<MetricName, readonly number[]>>> = {
  request_duration_milliseconds: DURATION_BUCKETS,
  request_bytes: BYTES_BUCKETS,
  response_bytes: BYTES_BUCKETS,
};

interface CustomSeries {
  labels: string;
  value: number;
  histogram?: Histogram;
}

export interface CustomSeriesData {
  metric: string;
  labels: string;
  value: number;
  histogram?: HistogramData;
}

export class CustomMetrics {
  private readonly byMetric = new Map<string, Map<string, CustomSeries>>();
  /** Requests whose new series were not kept (MAX_SERIES_PER_METRIC). */
  overflow = 0;

  record(overrides: StatsOverrides, values: readonly string[], info: StreamInfo): void {
    const attributes = overrides.needsAttributes ? requestAttributes(info) : undefined;
    for (const [metric, labels] of overrides.metrics) {
      let observed: number;
      switch (metric) {
        case 'requests_total':
          observed = 1;
          break;
        case 'request_duration_milliseconds':
          observed = info.durationMs;
          break;
        case 'request_bytes':
          observed = info.bytesReceived;
          break;
        case 'response_bytes':
          observed = info.bytesSent;
          break;
        case 'request_messages_total':
          if (info.requestMessages === undefined) continue;
          observed = info.requestMessages;
          break;
        case 'response_messages_total':
          if (info.responseMessages === undefined) continue;
          observed = info.responseMessages;
          break;
        default:
          continue; // TCP metrics are the tcp_proxy's, not a connection manager's
      }
      const text = metricLabels(labels, values, attributes)
        .map(([n, v]) => `${n}="${escape(v)}"`)
        .join(',');
      const s = this.series(metric, text);
      if (s === undefined) continue;
      if (s.histogram) s.histogram.observe(observed);
      s.value += observed;
    }
  }

  private series(metric: string, labels: string, histogram?: HistogramData): CustomSeries | undefined {
    let all = this.byMetric.get(metric);
    if (!all) this.byMetric.set(metric, (all = new Map<string, CustomSeries>()));
    let s = all.get(labels);
    if (!s) {
      if (all.size >= MAX_SERIES_PER_METRIC) {
        this.overflow++;
        return undefined;
      }
      const buckets = HISTOGRAMS[metric as MetricName];
      s = { labels, value: 0, ...(buckets || histogram ? { histogram: new Histogram(buckets ?? []) } : {}) };
      all.set(labels, s);
    }
    return s;
  }

  /** Counter lines for `istio_<metric>`, or histogram lines. */
  print(out: string[], metric: MetricName): void {
    const name = `istio_${metric}`;
    for (const s of this.byMetric.get(metric)?.values() ?? []) {
      const h = s.histogram;
      if (!h) {
        out.push(`${name}{${s.labels}} ${s.value}`);
        continue;
      }
      const counts = h.counts;
      const sep = s.labels === '' ? '' : ',';
      h.buckets.forEach((b, i) => out.push(`${name}_bucket{${s.labels}${sep}le="${b}"} ${counts[i]}`));
      out.push(`${name}_bucket{${s.labels}${sep}le="+Inf"} ${h.count}`);
      out.push(`${name}_sum{${s.labels}} ${h.sum}`);
      out.push(`${name}_count{${s.labels}} ${h.count}`);
    }
  }

  serialize(): CustomSeriesData[] {
    const out: CustomSeriesData[] = [];
    for (const [metric, all] of this.byMetric)
      for (const s of all.values())
        out.push({
          metric,
          labels: s.labels,
          value: s.value,
          ...(s.histogram
            ? { histogram: { counts: s.histogram.counts, sum: s.histogram.sum, count: s.histogram.count } }
            : {}),
        });
    return out;
  }

  merge(data: readonly CustomSeriesData[]): void {
    for (const d of data) {
      const s = this.series(d.metric, d.labels, d.histogram);
      if (s === undefined) continue;
      s.value += d.value;
      if (s.histogram && d.histogram && d.histogram.counts.length === s.histogram.buckets.length) {
        s.histogram.addCumulative(d.histogram.counts);
        s.histogram.sum += d.histogram.sum;
        s.histogram.count += d.histogram.count;
      }
    }
  }
}

function escape(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
