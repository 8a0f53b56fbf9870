/**
 * The graph's rates from a Prometheus server's HTTP query API (`--prometheus-url`) instead of
 * the control plane's own scrape: one PromQL `sum by (...) (rate(METRIC[Ws]))` per metric.
 */
import type { Rate } from './build-graph.js';

/** The labels the graph reads; summing by them keeps series apart only where the graph needs it. */
const BY = [
  'reporter',
  'source_workload',
  'source_workload_namespace',
  'source_canonical_service',
  'source_canonical_revision',
  'destination_workload',
  'destination_workload_namespace',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_service',
  'destination_service_namespace',
  'request_protocol',
  'response_code',
  'response_flags',
  'connection_security_policy',
];

const METRICS: readonly [string, readonly string[]][] = [
  ['istio_requests_total', BY],
  ['istio_request_duration_milliseconds_bucket', [...BY, 'le']],
  ['istio_tcp_sent_bytes_total', BY],
  ['istio_tcp_received_bytes_total', BY],
];

export function promql(metric: string, by: readonly string[], windowSeconds: number): string {
  return `sum by (${by.join(',')}) (rate(${metric}[${Math.max(1, Math.round(windowSeconds))}s]))`;
}

interface QueryAnswer {
  status?: string;
  error?: string;
  data?: { resultType?: string; result?: { metric?: Record<string, string>; value?: [number, string] }[] };
}

export async function prometheusRates(
  baseUrl: string,
  windowSeconds: number,
  timeoutMs = 5000,
  fetchJson: (url: string) => Promise<unknown> = async (url) => {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const body = await res.json();
    return body;
  },
): Promise<Rate[]> {
  const out: Rate[] = [];
  for (const [metric, by] of METRICS) {
    const url = `${baseUrl.replace(/\/$/, '')}/api/v1/query?query=${encodeURIComponent(promql(metric, by, windowSeconds))}`;
    let answer: QueryAnswer;
    try {
      answer = (await fetchJson(url)) as QueryAnswer;
    } catch (err) {
      throw new Error(
        `Prometheus at ${baseUrl} did not answer (${(err as Error).message}): check --prometheus-url`,
      );
    }
    if (answer.status !== 'success')
      throw new Error(
        `Prometheus at ${baseUrl} refused the query: ${answer.error ?? JSON.stringify(answer).slice(0, 200)}`,
      );
    for (const r of answer.data?.result ?? []) {
      const perSecond = Number(r.value?.[1]);
      if (!Number.isFinite(perSecond) || perSecond <= 0) continue;
      out.push({ name: metric, labels: r.metric ?? {}, perSecond });
    }
  }
  return out;
}
