/**
 * `trellis stat` and `trellis top`, as `linkerd viz stat`: per workload (or per edge source ->
 * destination) requests per second, success rate and p50/p95/p99 latency over a window, from
 * two scrapes of each proxy's Istio metrics (istio_requests_total and the
 * istio_request_duration_milliseconds buckets on /stats/prometheus) and their difference.
 *
 * A workload's numbers come from what its own proxy reported as the destination (inbound, the
 * server's view, as linkerd uses); a workload whose proxy reports none (no inbound capture) falls
 * back to what its clients reported as the source. Success is any response but a 5xx (and not
 * a connection that never got one: code 0), as linkerd counts it. Pure: table-tested.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The Prometheus text format, as far as stat needs it (no timestamps, no exemplars). */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL))
      labels[l[1] ?? ''] = (l[2] ?? '').replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const value = m[3] === '+Inf' ? Infinity : Number(m[3]);
    if (Number.isFinite(value)) out.push({ name: m[1] ?? '', labels, value });
  }
  return out;
}

const key = (s: Sample): string =>
  `${s.name}{${Object.entries(s.labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(',')}}`;

/** after - before per series; a series that went down restarted, so its whole value counts. */
export function diffSamples(before: readonly Sample[], after: readonly Sample[]): Sample[] {
  const prev = new Map(before.map((s) => [key(s), s.value]));
  return after.map((s) => {
    const was = prev.get(key(s)) ?? 0;
    return { ...s, value: s.value >= was ? s.value - was : s.value };
  });
}

interface Aggregate {
  requests: number;
  successes: number;
  /** Cumulative bucket counts by upper bound (ms). */
  buckets: Map<number, number>;
}

const empty = (): Aggregate => ({ requests: 0, successes: 0, buckets: new Map() });

/** Istio's histogram_quantile: linear within the bucket the rank falls in. */
export function quantile(q: number, buckets: ReadonlyMap<number, number>): number | undefined {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const total = buckets.get(Infinity) ?? buckets.get(bounds.at(-1) ?? Infinity) ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const b of bounds) {
    const c = buckets.get(b) ?? 0;
    if (c >= rank) {
      if (b === Infinity) return lowerBound; // beyond the last finite bucket: its bound
      return lowerBound + ((b - lowerBound) * (rank - lowerCount)) / Math.max(c - lowerCount, 1e-9);
    }
    lowerBound = b;
    lowerCount = c;
  }
  return lowerBound;
}

export interface StatRow {
  /** `name.namespace`, or `source -> destination` for an edge. */
  name: string;
  source?: string;
  destination?: string;
  /** A proxy of this workload is connected (workload rows only). */
  meshed?: boolean;
  rps: number;
  /** 0..1; undefined without requests. */
  successRate: number | undefined;
  p50: number | undefined;
  p95: number | undefined;
  p99: number | undefined;
  requests: number;
}

function add(agg: Map<string, Aggregate>, k: string, s: Sample): void {
  let a = agg.get(k);
  if (!a) agg.set(k, (a = empty()));
  if (s.name === 'istio_requests_total') {
    a.requests += s.value;
    const code = Number(s.labels.response_code ?? '0');
    if (code > 0 && code < 500) a.successes += s.value;
  } else if (s.name === 'istio_request_duration_milliseconds_bucket') {
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    a.buckets.set(le, (a.buckets.get(le) ?? 0) + s.value);
  }
}

function row(name: string, a: Aggregate | undefined, seconds: number): StatRow {
  const requests = a?.requests ?? 0;
  return {
    name,
    rps: seconds > 0 ? requests / seconds : 0,
    successRate: requests > 0 ? (a?.successes ?? 0) / requests : undefined,
    p50: a ? quantile(0.5, a.buckets) : undefined,
    p95: a ? quantile(0.95, a.buckets) : undefined,
    p99: a ? quantile(0.99, a.buckets) : undefined,
    requests,
  };
}

const wl = (l: Record<string, string>, side: 'source' | 'destination'): string => {
  const name = l[`${side}_workload`] ?? 'unknown';
  const ns = l[`${side}_workload_namespace`] ?? 'unknown';
  return name === 'unknown' && side === 'destination' && l.destination_service_name
    ? `${l.destination_service_name}.${l.destination_service_namespace ?? 'unknown'}`
    : `${name}.${ns}`;
};

const RELEVANT = new Set(['istio_requests_total', 'istio_request_duration_milliseconds_bucket']);

/**
 * Per workload: `meshed` lists the workloads with a connected proxy (`name.namespace`), shown
 * even when idle. `deltas` are the differences of every proxy's scrape over `seconds`.
 */
export function workloadStats(
  deltas: readonly Sample[],
  seconds: number,
  meshed: readonly string[],
): StatRow[] {
  const inbound = new Map<string, Aggregate>();
  const outbound = new Map<string, Aggregate>();
  for (const s of deltas) {
    if (!RELEVANT.has(s.name)) continue;
    if (s.labels.reporter === 'destination') add(inbound, wl(s.labels, 'destination'), s);
    else if (s.labels.reporter === 'source') add(outbound, wl(s.labels, 'destination'), s);
  }
  const names = new Set([...meshed, ...inbound.keys(), ...outbound.keys()]);
  names.delete('unknown.unknown');
  return [...names].sort().map((n) => {
    const a = (inbound.get(n)?.requests ?? 0) > 0 ? inbound.get(n) : outbound.get(n);
    return { ...row(n, a, seconds), meshed: meshed.includes(n) };
  });
}

/** Per edge source -> destination, from what the sources reported (their outbound requests). */
export function edgeStats(deltas: readonly Sample[], seconds: number): StatRow[] {
  const edges = new Map<string, Aggregate>();
  for (const s of deltas) {
    if (!RELEVANT.has(s.name) || s.labels.reporter !== 'source') continue;
    add(edges, `${wl(s.labels, 'source')}\u0000${wl(s.labels, 'destination')}`, s);
  }
  return [...edges]
    .filter(([, a]) => a.requests > 0)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, a]) => {
      const [source = '', destination = ''] = k.split('\u0000');
      return { ...row(`${source} -> ${destination}`, a, seconds), source, destination };
    });
}

const ms = (v: number | undefined): string =>
  v === undefined ? '-' : v < 10 ? `${Math.round(v * 10) / 10}ms` : `${Math.round(v)}ms`;
const pct = (v: number | undefined): string =>
  v === undefined ? '-' : `${(Math.round(v * 10000) / 100).toFixed(2)}%`;
const rps = (v: number): string => `${(Math.round(v * 10) / 10).toFixed(1)}rps`;

export function renderStats(rows: readonly StatRow[], edges: boolean): string[][] {
  return rows.map((r) =>
    edges
      ? [r.source ?? '', r.destination ?? '', pct(r.successRate), rps(r.rps), ms(r.p50), ms(r.p95), ms(r.p99)]
      : [r.name, r.meshed ? 'yes' : 'no', pct(r.successRate), rps(r.rps), ms(r.p50), ms(r.p95), ms(r.p99)],
  );
}

export const STAT_HEADER = ['NAME', 'MESHED', 'SUCCESS', 'RPS', 'LATENCY_P50', 'LATENCY_P95', 'LATENCY_P99'];
export const EDGE_HEADER = ['SRC', 'DST', 'SUCCESS', 'RPS', 'LATENCY_P50', 'LATENCY_P95', 'LATENCY_P99'];
