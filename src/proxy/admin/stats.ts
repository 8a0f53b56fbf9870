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
import { HTTP_ONLY_LABELS, LABEL_NAMES, labelValues, nodeWorkload, passthroughName } from './istio-labels.js';
import { BYTES_BUCKETS, DURATION_BUCKETS, Histogram, type HistogramData } from './histogram.js';
import type { CustomSeriesData } from './custom-metrics.js';
export type { HistogramData } from './histogram.js';
import { CustomMetrics } from './custom-metrics.js';
import { encodePeerMetadata, PeerMetadataCache } from '../connection-manager/peer-metadata.js';
import type { HttpConnectionManagerConfig } from '../model/config.js';
import type { StatsOverrides } from '../policy/stats-overrides.js';

export { passthroughName, serviceOfCluster } from './istio-labels.js';

interface Series {
  labels: string;
  requests: number;
  duration: Histogram;
  requestBytes: Histogram;
  responseBytes: Histogram;
  /** gRPC messages (istio_request_messages_total / _response_): printed once a gRPC request counted. */
  requestMessages: number;
  responseMessages: number;
  grpc: boolean;
}

export interface TcpSeries {
  labels: string;
  opened: number;
  closed: number;
  received: number;
  sent: number;
}

/**
 * Standard series (and, apart, TCP series) beyond this many are not kept: some labels come from
 * callers (unrouted authorities, peer metadata), and a series never expires.
 */
export const MAX_SERIES = 10_000;
/** /stats counter of requests and connections whose new series was not kept (MAX_SERIES). */
export const SERIES_OVERFLOW = 'istio.stats.series_overflow';

/** Istio's TCP metrics leave out the HTTP labels (response code, gRPC status). */
const TCP_LABELS = LABEL_NAMES.map((n, i) => [n, i] as const).filter(([n]) => !HTTP_ONLY_LABELS.has(n));

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

  private readonly self: ReturnType<typeof nodeWorkload>;
  /** Series of connection managers with an `istio.stats` filter (their own labels per metric). */
  readonly custom = new CustomMetrics();

  /** Callers' metadata exchange headers, decoded once per distinct value. */
  readonly peers = new PeerMetadataCache();
  /** What this proxy sends about itself on requests to mesh services (Istio's metadata exchange). */
  readonly ownMetadata: { id: string; metadata: string };

  /** The bound on each of the standard and TCP series maps (tests lower it). */
  maxSeries = MAX_SERIES;

  constructor(node: ProxyBootstrap) {
    this.self = nodeWorkload(node);
    this.ownMetadata = { id: node.nodeId, metadata: encodePeerMetadata(node) };
  }

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

  /** One finished request; `overrides` is the connection manager's `istio.stats` filter, if any. */
  record(info: StreamInfo, overrides?: StatsOverrides): void {
    // A filter without overrides reporting the listener's own side keeps the standard (fast) path.
    if (
      overrides !== undefined &&
      !(overrides.trivial && (overrides.reporter ?? info.reporter) === info.reporter)
    ) {
      this.custom.record(overrides, labelValues(this.self, info, false, overrides.reporter), info);
      return;
    }
    // Most requests repeat the last one's labels: compared field by field, without building the
    // key string and hashing it (a measurable share of a proxy's per-request CPU).
    const last = this.last;
    let s: Series | undefined;
    if (last !== undefined && sameLabels(last, info)) s = last.series;
    else s = this.slowSeries(info);
    if (s === undefined) {
      this.countEnvoy(SERIES_OVERFLOW);
      return;
    }
    s.requests++;
    if (info.requestMessages !== undefined || info.responseMessages !== undefined) {
      s.grpc = true;
      s.requestMessages += info.requestMessages ?? 0;
      s.responseMessages += info.responseMessages ?? 0;
    }
    s.duration.observe(info.durationMs);
    s.requestBytes.observe(info.bytesReceived);
    s.responseBytes.observe(info.bytesSent);
  }

  /** The label fields of the last request recorded and its series. */
  private last: LastLabels | undefined;

  private slowSeries(info: StreamInfo): Series | undefined {
    const id = info.destinationIdentity;
    // \u0001 marks "absent", distinct from an empty string; the node's own labels never change.
    const passthrough = passthroughName(info);
    const fieldsKey =
      `${info.reporter}\u0000${info.upstreamCluster ?? '\u0001'}\u0000${passthrough ?? ''}\u0000` +
      `${info.upstreamCluster && !passthrough ? '' : info.authority}\u0000${id?.namespace ?? '\u0001'}\u0000` +
      `${id?.workload ?? '\u0001'}\u0000${id?.version ?? '\u0001'}\u0000` +
      `${info.grpcStatus ?? '\u0001'}\u0000${info.status}\u0000${flagsText(info.flags)}\u0000` +
      securityKey(info) +
      `\u0000${info.sourcePeer?.key ?? ''}`;
    let s = this.byFields.get(fieldsKey);
    if (!s) {
      s = this.seriesFor(info);
      if (s === undefined) return undefined;
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
            peer0: info.sourcePeer,
          }
        : undefined;
    return s;
  }

  /**
   * The series of one TCP proxy connection: call once when it is established (or fails, with
   * its flag set), then add bytes to the returned series as they flow and count the close.
   */
  tcpSeries(info: StreamInfo): TcpSeries {
    const values = labelValues(this.self, info, true);
    const key = TCP_LABELS.map(([n, i]) => `${n}="${escape(values[i] ?? '')}"`).join(',');
    let s = this.tcp.get(key);
    if (!s) {
      s = { labels: key, opened: 0, closed: 0, received: 0, sent: 0 };
      // Over the bound the connection counts into a series nobody prints.
      if (this.tcp.size >= this.maxSeries) this.countEnvoy(SERIES_OVERFLOW);
      else this.tcp.set(key, s);
    }
    return s;
  }

  private seriesFor(info: StreamInfo): Series | undefined {
    const values = labelValues(this.self, info, false);
    const key = LABEL_NAMES.map((n, i) => `${n}="${escape(values[i] ?? '')}"`).join(',');
    let s = this.series.get(key);
    if (!s) {
      if (this.series.size >= this.maxSeries) return undefined;
      s = {
        labels: key,
        requests: 0,
        requestMessages: 0,
        responseMessages: 0,
        grpc: false,
        duration: new Histogram(DURATION_BUCKETS),
        requestBytes: new Histogram(BYTES_BUCKETS),
        responseBytes: new Histogram(BYTES_BUCKETS),
      };
      this.series.set(key, s);
    }
    return s;
  }

  prometheus(): string {
    const out: string[] = [];
    const all = [...this.series.values()];
    out.push('# TYPE istio_requests_total counter');
    for (const s of all) out.push(`istio_requests_total{${s.labels}} ${s.requests}`);
    this.custom.print(out, 'requests_total');
    histogram(out, 'istio_request_duration_milliseconds', all, (s) => s.duration);
    this.custom.print(out, 'request_duration_milliseconds');
    histogram(out, 'istio_request_bytes', all, (s) => s.requestBytes);
    this.custom.print(out, 'request_bytes');
    histogram(out, 'istio_response_bytes', all, (s) => s.responseBytes);
    this.custom.print(out, 'response_bytes');
    const grpc = all.filter((s) => s.grpc);
    out.push('# TYPE istio_request_messages_total counter');
    for (const s of grpc) out.push(`istio_request_messages_total{${s.labels}} ${s.requestMessages}`);
    this.custom.print(out, 'request_messages_total');
    out.push('# TYPE istio_response_messages_total counter');
    for (const s of grpc) out.push(`istio_response_messages_total{${s.labels}} ${s.responseMessages}`);
    this.custom.print(out, 'response_messages_total');
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
        ...(s.grpc ? { requestMessages: s.requestMessages, responseMessages: s.responseMessages } : {}),
        duration: histogramData(s.duration),
        requestBytes: histogramData(s.requestBytes),
        responseBytes: histogramData(s.responseBytes),
      })),
      tcp: [...this.tcp.values()].map((s) => ({ ...s })),
      downstream: Object.fromEntries(this.downstream),
      envoy: Object.fromEntries(this.envoy),
      custom: this.custom.serialize(),
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
          requestMessages: 0,
          responseMessages: 0,
          grpc: false,
          duration: new Histogram(DURATION_BUCKETS),
          requestBytes: new Histogram(BYTES_BUCKETS),
          responseBytes: new Histogram(BYTES_BUCKETS),
        };
        this.series.set(d.labels, s);
      }
      s.requests += d.requests;
      if (d.requestMessages !== undefined || d.responseMessages !== undefined) {
        s.grpc = true;
        s.requestMessages += d.requestMessages ?? 0;
        s.responseMessages += d.responseMessages ?? 0;
      }
      addHistogram(s.duration, d.duration);
      addHistogram(s.requestBytes, d.requestBytes);
      addHistogram(s.responseBytes, d.responseBytes);
    }
    this.custom.merge(data.custom ?? []);
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

/** One process's Istio metrics as plain JSON: what a --concurrency worker sends the primary. */
export interface IstioStatsData {
  requests: {
    labels: string;
    requests: number;
    requestMessages?: number;
    responseMessages?: number;
    duration: HistogramData;
    requestBytes: HistogramData;
    responseBytes: HistogramData;
  }[];
  tcp: TcpSeries[];
  downstream?: Record<string, number>;
  envoy?: Record<string, number>;
  /** Series of connection managers with an `istio.stats` filter. */
  custom?: CustomSeriesData[];
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
  /** The caller's metadata exchange object (cached per header value, so compared by identity). */
  peer0: StreamInfo['sourcePeer'];
}

function sameLabels(last: LastLabels, info: StreamInfo): boolean {
  if (
    info.flags.size !== 0 ||
    last.status !== info.status ||
    last.reporter !== info.reporter ||
    last.cluster !== info.upstreamCluster ||
    (info.upstreamCluster ? '' : info.authority) !== last.authority ||
    last.identity !== info.destinationIdentity ||
    last.grpcStatus !== info.grpcStatus ||
    last.peer0 !== info.sourcePeer
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

export function escape(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** The `istio.stats` filter of a connection manager, if it has one (found once per config). */
export function statsOverridesOf(hcm: HttpConnectionManagerConfig | undefined): StatsOverrides | undefined {
  if (hcm === undefined) return undefined;
  // One map read per request (a `null` entry: this connection manager has no stats filter).
  const known = overridesByHcm.get(hcm);
  if (known !== undefined) return known ?? undefined;
  let found: StatsOverrides | undefined;
  for (const f of hcm.httpFilters) if (f.kind === 'istio_stats') found = found ?? f.stats;
  overridesByHcm.set(hcm, found ?? null);
  return found;
}

const overridesByHcm = new WeakMap<HttpConnectionManagerConfig, StatsOverrides | null>();
