/**
 * Istio's standard metrics, kept in memory and printed in Prometheus text format:
 * istio_requests_total, istio_request_duration_milliseconds, istio_request_bytes and
 * istio_response_bytes (histograms), with Istio's labels. Destination workload and version come
 * from the chosen endpoint's `istio` filter metadata when present; otherwise the workload is
 * `unknown` and the service is the host part of the cluster name (`outbound|9080|v1|HOST`).
 * TCP proxy connections count in istio_tcp_connections_opened_total / _closed_total and
 * istio_tcp_received_bytes_total / _sent_bytes_total (bytes from / to the downstream client),
 * with the same labels except the HTTP ones, request_protocol="tcp".
 */
import type { ProxyBootstrap } from '../xds-client/bootstrap.js';
import { flagsText } from '../connection-manager/response-flags.js';
import type { StreamInfo } from '../connection-manager/stream-info.js';

const DURATION_BUCKETS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
  3600000,
];
const BYTES_BUCKETS = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000];

class Histogram {
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

interface Series {
  labels: string;
  requests: number;
  duration: Histogram;
  requestBytes: Histogram;
  responseBytes: Histogram;
}

const LABEL_NAMES = [
  'reporter',
  'source_workload',
  'source_workload_namespace',
  'source_version',
  'destination_service',
  'destination_service_name',
  'destination_service_namespace',
  'destination_workload',
  'destination_workload_namespace',
  'destination_version',
  'request_protocol',
  'response_code',
  'response_flags',
  'grpc_response_status',
  'source_principal',
  'destination_principal',
  'connection_security_policy',
] as const;

export interface TcpSeries {
  labels: string;
  opened: number;
  closed: number;
  received: number;
  sent: number;
}

/** Istio's TCP metrics leave out the HTTP labels (response code, gRPC status). */
const TCP_LABELS = LABEL_NAMES.map((n, i) => [n, i] as const).filter(
  ([n]) => n !== 'response_code' && n !== 'grpc_response_status',
);

export class IstioStats {
  private readonly series = new Map<string, Series>();
  private readonly tcp = new Map<string, TcpSeries>();
  /**
   * Series by a cheap key of the StreamInfo fields the labels depend on, so the common case
   * skips building and escaping 14 labels per request. Several cheap keys may share a series.
   */
  private readonly byFields = new Map<string, Series>();
  /** Connection manager counters (Envoy's http.*.downstream_*), e.g. premature-reset closes. */
  private readonly downstream = new Map<string, number>();
  /** Filter counters by Envoy's flat stat name (`http.<stat_prefix>.rbac.denied`, `tcp.rbac.allowed`). */
  private readonly envoy = new Map<string, number>();

  constructor(private readonly node: ProxyBootstrap) {}

  countDownstream(name: string): void {
    this.downstream.set(name, (this.downstream.get(name) ?? 0) + 1);
  }

  /** Adds one to an Envoy filter counter, named as Envoy names it (`http.<stat_prefix>.rbac.allowed`). */
  countEnvoy(name: string): void {
    this.envoy.set(name, (this.envoy.get(name) ?? 0) + 1);
  }

  /** The Envoy counters as /stats prints them (`name: value`, sorted), e.g. tracing.opentelemetry.*. */
  envoyStatsText(): string {
    const lines = [...this.envoy].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}: ${v}`);
    return lines.length ? lines.join('\n') + '\n' : '';
  }

  /** An Envoy filter counter's value (0 when never counted). */
  envoyCounter(name: string): number {
    return this.envoy.get(name) ?? 0;
  }

  record(info: StreamInfo): void {
    // Most requests repeat the last one's labels: compared field by field, without building the
    // key string and hashing it (a measurable share of a proxy's per-request CPU).
    const last = this.last;
    let s: Series | undefined;
    if (last !== undefined && sameLabels(last, info)) s = last.series;
    else s = this.slowSeries(info);
    s.requests++;
    s.duration.observe(info.durationMs);
    s.requestBytes.observe(info.bytesReceived);
    s.responseBytes.observe(info.bytesSent);
  }

  /** The label fields of the last request recorded and its series. */
  private last: LastLabels | undefined;

  private slowSeries(info: StreamInfo): Series {
    const id = info.destinationIdentity;
    // \u0001 marks "absent", distinct from an empty string; the node's own labels never change.
    const passthrough = passthroughName(info);
    const fieldsKey =
      `${info.reporter}\u0000${info.upstreamCluster ?? '\u0001'}\u0000${passthrough ?? ''}\u0000` +
      `${info.upstreamCluster && !passthrough ? '' : info.authority}\u0000${id?.namespace ?? '\u0001'}\u0000` +
      `${id?.workload ?? '\u0001'}\u0000${id?.version ?? '\u0001'}\u0000` +
      `${info.grpcStatus ?? '\u0001'}\u0000${info.status}\u0000${flagsText(info.flags)}\u0000` +
      securityKey(info);
    let s = this.byFields.get(fieldsKey);
    if (!s) {
      s = this.seriesFor(info);
      // Bounded: authorities of unrouted requests come from clients.
      if (this.byFields.size >= 10_000) this.byFields.clear();
      this.byFields.set(fieldsKey, s);
    }
    // Only requests without response flags take the fast path (flags need their text).
    const sec = info.reporter === 'destination' ? info.downstreamSecurity : undefined;
    this.last =
      info.flags.size === 0
        ? {
            series: s,
            reporter: info.reporter,
            cluster: info.upstreamCluster,
            authority: info.upstreamCluster ? '' : info.authority,
            identity: id,
            grpcStatus: info.grpcStatus,
            status: info.status,
            secured: sec !== undefined,
            policy: sec?.policy,
            peer: sec?.peerPrincipal,
            local: sec?.localPrincipal,
          }
        : undefined;
    return s;
  }

  /**
   * The series of one TCP proxy connection: call once when it is established (or fails, with
   * its flag set), then add bytes to the returned series as they flow and count the close.
   */
  tcpSeries(info: StreamInfo): TcpSeries {
    const values = this.labels(info, true);
    values[LABEL_NAMES.indexOf('request_protocol')] = 'tcp';
    const key = TCP_LABELS.map(([n, i]) => `${n}="${escape(values[i] ?? '')}"`).join(',');
    let s = this.tcp.get(key);
    if (!s) {
      s = { labels: key, opened: 0, closed: 0, received: 0, sent: 0 };
      this.tcp.set(key, s);
    }
    return s;
  }

  private seriesFor(info: StreamInfo): Series {
    const values = this.labels(info);
    const key = LABEL_NAMES.map((n, i) => `${n}="${escape(values[i] ?? '')}"`).join(',');
    let s = this.series.get(key);
    if (!s) {
      s = {
        labels: key,
        requests: 0,
        duration: new Histogram(DURATION_BUCKETS),
        requestBytes: new Histogram(BYTES_BUCKETS),
        responseBytes: new Histogram(BYTES_BUCKETS),
      };
      this.series.set(key, s);
    }
    return s;
  }

  private labels(info: StreamInfo, tcp = false): string[] {
    const id = info.destinationIdentity ?? {};
    // Traffic outside the registry, as Istio's stats count it: PassthroughCluster or
    // BlackHoleCluster as the service name, the Host as the service (TCP has none: unknown).
    const passthrough = passthroughName(info);
    const service = passthrough
      ? (tcp ? '' : info.authority.replace(/:\d+$/, '')) || 'unknown'
      : serviceOfCluster(info.upstreamCluster, info.authority);
    const [svcName, svcNs] = passthrough ? [passthrough, undefined] : service.split('.');
    const version = this.node.labels.version ?? this.node.labels['app.kubernetes.io/version'] ?? 'unknown';
    const local = info.reporter === 'destination';
    return [
      info.reporter,
      local ? 'unknown' : this.node.workloadName || 'unknown',
      local ? 'unknown' : this.node.namespace || 'unknown',
      local ? 'unknown' : version,
      service,
      svcName || 'unknown',
      id.namespace ?? svcNs ?? 'unknown',
      local ? this.node.workloadName || 'unknown' : (id.workload ?? 'unknown'),
      local ? this.node.namespace || 'unknown' : (id.namespace ?? 'unknown'),
      local ? version : (id.version ?? 'unknown'),
      info.grpcStatus !== undefined ? 'grpc' : info.protocol.startsWith('HTTP/2') ? 'http' : 'http',
      String(info.status),
      flagsText(info.flags),
      info.grpcStatus ?? '',
      ...securityLabels(info),
    ];
  }

  prometheus(): string {
    const out: string[] = [];
    const all = [...this.series.values()];
    out.push('# TYPE istio_requests_total counter');
    for (const s of all) out.push(`istio_requests_total{${s.labels}} ${s.requests}`);
    histogram(out, 'istio_request_duration_milliseconds', all, (s) => s.duration);
    histogram(out, 'istio_request_bytes', all, (s) => s.requestBytes);
    histogram(out, 'istio_response_bytes', all, (s) => s.responseBytes);
    const tcp = [...this.tcp.values()];
    const counter = (name: string, get: (s: TcpSeries) => number) => {
      out.push(`# TYPE ${name} counter`);
      for (const s of tcp) out.push(`${name}{${s.labels}} ${get(s)}`);
    };
    counter('istio_tcp_connections_opened_total', (s) => s.opened);
    counter('istio_tcp_connections_closed_total', (s) => s.closed);
    counter('istio_tcp_received_bytes_total', (s) => s.received);
    counter('istio_tcp_sent_bytes_total', (s) => s.sent);
    // Envoy's connection manager counters, named as Envoy's Prometheus output names them.
    for (const [name, n] of [...this.downstream].sort()) {
      out.push(`# TYPE envoy_http_${name} counter`);
      out.push(`envoy_http_${name} ${n}`);
    }
    // Filter counters: Envoy's flat name with every non-alphanumeric character as `_`.
    for (const [name, n] of [...this.envoy].sort()) {
      const prom = `envoy_${name.replace(/[^a-zA-Z0-9_]/g, '_')}`;
      out.push(`# TYPE ${prom} counter`);
      out.push(`${prom} ${n}`);
    }
    return out.join('\n') + '\n';
  }

  // ---- across processes (trellis proxy --concurrency N): see IstioStatsData below ----

  /** Every series as plain data, for a worker to send to the primary over IPC. */
  serialize(): IstioStatsData {
    return {
      requests: [...this.series.values()].map((s) => ({
        labels: s.labels,
        requests: s.requests,
        duration: histogramData(s.duration),
        requestBytes: histogramData(s.requestBytes),
        responseBytes: histogramData(s.responseBytes),
      })),
      tcp: [...this.tcp.values()].map((s) => ({ ...s })),
      downstream: Object.fromEntries(this.downstream),
      envoy: Object.fromEntries(this.envoy),
    };
  }

  /**
   * Adds another process's series into these: counters, histogram buckets, sums and counts are
   * summed per identical label set; a label set seen only there is added.
   */
  merge(data: IstioStatsData): void {
    for (const d of data.requests) {
      let s = this.series.get(d.labels);
      if (!s) {
        s = {
          labels: d.labels,
          requests: 0,
          duration: new Histogram(DURATION_BUCKETS),
          requestBytes: new Histogram(BYTES_BUCKETS),
          responseBytes: new Histogram(BYTES_BUCKETS),
        };
        this.series.set(d.labels, s);
      }
      s.requests += d.requests;
      addHistogram(s.duration, d.duration);
      addHistogram(s.requestBytes, d.requestBytes);
      addHistogram(s.responseBytes, d.responseBytes);
    }
    for (const [name, n] of Object.entries(data.downstream ?? {}))
      this.downstream.set(name, (this.downstream.get(name) ?? 0) + n);
    for (const [name, n] of Object.entries(data.envoy ?? {}))
      this.envoy.set(name, (this.envoy.get(name) ?? 0) + n);
    for (const d of data.tcp) {
      const s = this.tcp.get(d.labels);
      if (!s) {
        this.tcp.set(d.labels, { ...d });
        continue;
      }
      s.opened += d.opened;
      s.closed += d.closed;
      s.received += d.received;
      s.sent += d.sent;
    }
  }
}

/** A histogram as plain data; `counts` are cumulative per bucket, as in Prometheus. */
export interface HistogramData {
  counts: number[];
  sum: number;
  count: number;
}

/** One process's Istio metrics as plain JSON: what a --concurrency worker sends the primary. */
export interface IstioStatsData {
  requests: {
    labels: string;
    requests: number;
    duration: HistogramData;
    requestBytes: HistogramData;
    responseBytes: HistogramData;
  }[];
  tcp: TcpSeries[];
  downstream?: Record<string, number>;
  envoy?: Record<string, number>;
}

function histogramData(h: Histogram): HistogramData {
  return { counts: h.counts, sum: h.sum, count: h.count };
}

function addHistogram(h: Histogram, d: HistogramData): void {
  // Every process uses the same bucket bounds; anything else is not the same metric.
  if (d.counts.length !== h.buckets.length) return;
  h.addCumulative(d.counts);
  h.sum += d.sum;
  h.count += d.count;
}

function histogram(out: string[], name: string, all: Series[], get: (s: Series) => Histogram): void {
  out.push(`# TYPE ${name} histogram`);
  for (const s of all) {
    const h = get(s);
    const counts = h.counts;
    h.buckets.forEach((b, i) => out.push(`${name}_bucket{${s.labels},le="${b}"} ${counts[i]}`));
    out.push(`${name}_bucket{${s.labels},le="+Inf"} ${h.count}`);
    out.push(`${name}_sum{${s.labels}} ${h.sum}`);
    out.push(`${name}_count{${s.labels}} ${h.count}`);
  }
}

/**
 * Istio's security labels. The destination side knows what the inbound connection's handshake
 * proved: `connection_security_policy` mutual_tls or none, the caller's principal, its own. The
 * source side reports `unknown` for all three, as Istio's stats filter does without peer metadata.
 */
function securityLabels(info: StreamInfo): [string, string, string] {
  if (info.reporter !== 'destination') return ['unknown', 'unknown', 'unknown'];
  const sec = info.downstreamSecurity;
  return [
    sec?.peerPrincipal ?? 'unknown',
    sec?.localPrincipal ?? 'unknown',
    sec?.policy === 'mutual_tls' ? 'mutual_tls' : 'none',
  ];
}

/** What the fast path of IstioStats.record compares (the fields its label key is made of). */
interface LastLabels {
  series: Series;
  reporter: StreamInfo['reporter'];
  cluster: string | undefined;
  authority: string;
  /** Compared by identity: another object with the same values takes the slow path, correctly. */
  identity: StreamInfo['destinationIdentity'];
  grpcStatus: string | undefined;
  status: number;
  secured: boolean;
  policy: string | undefined;
  peer: string | undefined;
  local: string | undefined;
}

function sameLabels(last: LastLabels, info: StreamInfo): boolean {
  if (
    info.flags.size !== 0 ||
    last.status !== info.status ||
    last.reporter !== info.reporter ||
    last.cluster !== info.upstreamCluster ||
    (info.upstreamCluster ? '' : info.authority) !== last.authority ||
    last.identity !== info.destinationIdentity ||
    last.grpcStatus !== info.grpcStatus
  )
    return false;
  const sec = info.reporter === 'destination' ? info.downstreamSecurity : undefined;
  if (sec === undefined) return !last.secured;
  return (
    last.secured &&
    last.policy === sec.policy &&
    last.peer === sec.peerPrincipal &&
    last.local === sec.localPrincipal
  );
}

function securityKey(info: StreamInfo): string {
  const sec = info.downstreamSecurity;
  if (sec === undefined || info.reporter !== 'destination') return '';
  return `${sec.policy}\u0000${sec.peerPrincipal ?? '\u0001'}\u0000${sec.localPrincipal ?? '\u0001'}`;
}

const PASSTHROUGH_ROUTES: ReadonlyMap<string, string> = new Map([
  ['allow_any', 'PassthroughCluster'],
  ['block_all', 'BlackHoleCluster'],
]);
const PASSTHROUGH_CLUSTERS: ReadonlySet<string> = new Set([
  'PassthroughCluster',
  'BlackHoleCluster',
  'InboundPassthroughClusterIpv4',
  'InboundPassthroughClusterIpv6',
]);

/**
 * Istio's stats name traffic to hosts outside the registry by the route that took it (Istio's
 * `allow_any` and `block_all`) or the cluster it went to (PassthroughCluster, BlackHoleCluster).
 */
export function passthroughName(info: Pick<StreamInfo, 'routeName' | 'upstreamCluster'>): string | undefined {
  const byRoute = info.routeName === undefined ? undefined : PASSTHROUGH_ROUTES.get(info.routeName);
  if (byRoute !== undefined) return byRoute;
  return info.upstreamCluster !== undefined && PASSTHROUGH_CLUSTERS.has(info.upstreamCluster)
    ? info.upstreamCluster
    : undefined;
}

/** `outbound|9080|v1|reviews.default.svc.cluster.local` -> the host; else the authority's host. */
export function serviceOfCluster(cluster: string | undefined, authority: string): string {
  if (cluster) {
    const parts = cluster.split('|');
    if (parts.length === 4 && parts[3]) return parts[3];
    return cluster;
  }
  return authority.replace(/:\d+$/, '') || 'unknown';
}

function escape(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
