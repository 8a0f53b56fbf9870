/**
 * The Trellis proxy: an xDS client and the data path it configures. It knows nothing but the
 * Listener, RouteConfiguration, Cluster and ClusterLoadAssignment resources it receives.
 *
 * How traffic reaches the configuration (clients pointed at the proxy, or iptables):
 *
 *   --outbound-port (15001)  Outbound capture, HTTP/1.1 and h2c. Connections iptables redirected
 *                            here (with an SO_ORIGINAL_DST reader) are served by the Listener of
 *                            the address dialled, or virtualOutbound's passthrough: see
 *                            listener/outbound-capture.ts. Otherwise the destination port comes from
 *                            Host / :authority (or an absolute-form URI from an HTTP_PROXY
 *                            client: `GET http://reviews:9080/p`; port 80 when absent). That port
 *                            selects Listener `<ip>_<port>` or `0.0.0.0_<port>`; its HTTP
 *                            connection manager names the RouteConfiguration (Istio: `"9080"`),
 *                            whose virtual hosts match the authority (`reviews:9080`). Metrics
 *                            are reported as reporter="source".
 *   --inbound-port (15006)   Inbound capture for this workload. The port in Host / :authority
 *                            selects the filter chain (destination_port) of an inbound listener
 *                            bound on the inbound port (Istio's `virtualInbound`) if one exists,
 *                            else the cluster `inbound|<port>||` (ORIGINAL_DST clusters go to
 *                            127.0.0.1:<port>). reporter="destination".
 *   --bind-listeners P,...   Listener resources on these ports get a real socket on
 *                            --bind-address (gateways): HTTP (HCM) or TCP (tcp_proxy).
 *   --admin-port (15000)     /ready /config_dump /clusters /stats /stats/prometheus /server_info.
 *
 * Config updates never drop requests: each request keeps the snapshot it started with, a
 * changed listener swaps its config on the same socket, a removed one drains.
 *
 * `trellis proxy --concurrency N` runs this class in N worker processes with `configSource:
 * 'external'` (listeners only); the primary keeps the xDS client and the admin (workers/).
 */
import type { WorkloadCertificateSource } from './identity/workload-certificate.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Random } from '../core/random.js';
import { AdminServer, localDataPlane } from './admin/admin-server.js';
import { RecentFailures } from './admin/explain-recent.js';
import { IstioStats } from './admin/stats.js';
import type { ProxyConfigSnapshot } from './model/config.js';
import {
  ACCESS_LOG_FILTER_ERRORS,
  AccessLogWriter,
  type AccessLogSink,
} from './connection-manager/access-log.js';
import { HttpFilterRunner } from './connection-manager/filters.js';
import { RateLimitClient } from './connection-manager/rate-limit-client.js';
import type { RouterDeps } from './connection-manager/request-handler.js';
import { ListenerManager } from './listener/listener-manager.js';
import type { OriginalDestinationReader } from './listener/outbound-capture.js';
import { ClusterManager } from './upstream/cluster-manager.js';
import type { HostLookup } from './upstream/dns-cache.js';
import { SecretResolver } from './identity/secret-resolver.js';
import { AdsClient } from './xds-client/ads-client.js';
import { nodeMessage, setAdminAddress, type NodeMsg, type ProxyBootstrap } from './xds-client/bootstrap.js';
import type { ControlPlaneTls } from './xds-client/control-plane-tls.js';
import { ProxyTracer } from './tracing/tracer.js';
import type { ExportLimits } from './tracing/otlp-exporter.js';

export interface ProxyOptions {
  /** The control plane `host:port`, or several, failed over in order (ads-client.ts). */
  xds: string | readonly string[];
  /** TLS to the control plane (its port 15012) verified against these roots; plaintext without. */
  xdsTls?: ControlPlaneTls;
  bootstrap: ProxyBootstrap;
  version: string;
  bindAddress: string;
  adminAddress: string;
  adminPort: number;
  outboundPort: number;
  inboundPort: number;
  bindListeners: readonly number[];
  clock: Clock;
  random: Random;
  logger: Logger;
  /** Where stdout access loggers write; process.stdout by default. */
  accessLogStdout?: AccessLogSink;
  xdsBackoff?: { baseMs: number; maxMs: number };
  /** Delta or state-of-the-world xDS; `auto` (default) uses delta when the server offers it. */
  xdsProtocol?: 'auto' | 'delta' | 'sotw';
  onReady?: () => void;
  onConnected?: () => void;
  /**
   * Reads SO_ORIGINAL_DST (the cli layer loads the native addon): connections iptables
   * redirected to the outbound port are then served by the listener of the address they dialled.
   */
  originalDestination?: OriginalDestinationReader;
  /**
   * `ads` (default): this proxy runs the xDS client and the admin server. `external`: neither;
   * snapshots come through `applySnapshot` (a `--concurrency N` worker fed by the primary, see
   * workers/worker.ts) and `start` binds only the listeners.
   */
  configSource?: 'ads' | 'external';
  /**
   * The workload's own certificate (SDS `default`) and trust bundle (`ROOTCA`): what TLS transport
   * sockets referring to those names through the `sds-grpc` config source use. Absent: such
   * references cannot be served (the listener or cluster asking for them is NACKed).
   */
  workloadCertificates?: WorkloadCertificateSource;
  /** How dynamic forward proxy clusters resolve hosts (tests); getaddrinfo by default. */
  dnsLookup?: HostLookup;
  /** Span export queue bound, batch size and flush interval (tests); tracing/otlp-exporter.ts defaults. */
  tracingLimits?: ExportLimits;
}

export class TrellisProxy {
  readonly clusters: ClusterManager;
  readonly stats: IstioStats;
  readonly ads: AdsClient;
  readonly listeners: ListenerManager;
  readonly secrets: SecretResolver;
  private readonly admin: AdminServer;
  private readonly accessLogs: AccessLogWriter;
  private readonly rateLimits: RateLimitClient;
  readonly tracer: ProxyTracer;
  private readonly node: NodeMsg;
  private snapshotValue: ProxyConfigSnapshot;
  private readyFlag = false;
  adminPort = 0;

  constructor(private readonly opts: ProxyOptions) {
    // Secrets by reference: over ADS from the snapshot in service, `default` / `ROOTCA` from the
    // workload certificate source (read at each new TLS connection, so a rotation reaches it).
    this.secrets = new SecretResolver(() => this.snapshotValue, opts.workloadCertificates);
    this.clusters = new ClusterManager(opts.clock, opts.random, this.secrets, opts.dnsLookup);
    this.stats = new IstioStats(opts.bootstrap);
    this.accessLogs = new AccessLogWriter(opts.accessLogStdout);
    this.accessLogs.onFilterError = () => this.stats.countEnvoy(ACCESS_LOG_FILTER_ERRORS);
    this.rateLimits = new RateLimitClient(this.clusters);
    this.tracer = new ProxyTracer({
      clusters: this.clusters,
      clock: opts.clock,
      random: opts.random,
      count: (name) => this.stats.countEnvoy(name),
      nodeId: opts.bootstrap.nodeId,
      zone: opts.bootstrap.locality.split('/')[1] ?? '',
      ...(opts.tracingLimits ? { limits: opts.tracingLimits } : {}),
    });
    const node = nodeMessage(opts.bootstrap, opts.version);
    this.node = node;
    this.ads = new AdsClient({
      server: opts.xds,
      node,
      clock: opts.clock,
      random: opts.random,
      logger: opts.logger.child('xds'),
      onSnapshot: (s) => void this.applySnapshot(s),
      onConnected: opts.onConnected,
      backoff: opts.xdsBackoff,
      protocol: opts.xdsProtocol,
      workloadCertificates: opts.workloadCertificates !== undefined,
      ...(opts.xdsTls ? { tls: opts.xdsTls } : {}),
    });
    this.snapshotValue = this.ads.cache.snapshot();
    const filters = new HttpFilterRunner(opts.clock, opts.random, this.rateLimits, opts.bootstrap.cluster);
    const deps: RouterDeps = {
      clusters: this.clusters,
      clock: opts.clock,
      random: opts.random,
      stats: this.stats,
      accessLogs: this.accessLogs,
      filters,
      tracer: this.tracer,
    };
    // `trellis explain --request-id`: the last failed requests, kept as they finish.
    const recent = new RecentFailures();
    this.accessLogs.recorder = (info) => recent.record(info);
    this.listeners = new ListenerManager({
      bindAddress: opts.bindAddress,
      bindPorts: new Set(opts.bindListeners),
      outboundPort: opts.outboundPort,
      inboundPort: opts.inboundPort,
      deps,
      accessLogs: this.accessLogs,
      logger: opts.logger.child('listener'),
      reporterForBound: 'source',
      secrets: this.secrets,
      ...(opts.originalDestination ? { originalDestination: opts.originalDestination } : {}),
    });
    this.admin = new AdminServer({
      snapshot: () => this.snapshotValue,
      ready: () => this.readyFlag,
      node,
      dataPlane: localDataPlane(this.clusters, this.stats),
      xds: () => this.ads.stats,
      logger: opts.logger.child('admin'),
      accessLog: this.accessLogs,
      streams: this.accessLogs,
      workloadCertificate: () => opts.workloadCertificates?.current(),
      explain: {
        recent,
        context: () => ({
          snapshot: this.snapshotValue,
          clusters: this.clusters,
          clock: opts.clock,
          node: node.id ?? '',
          filters,
          localCluster: opts.bootstrap.cluster,
        }),
      },
    });
  }

  get ready(): boolean {
    return this.readyFlag;
  }

  snapshot(): ProxyConfigSnapshot {
    return this.snapshotValue;
  }

  async start(): Promise<void> {
    if (this.opts.configSource === 'external') {
      await this.listeners.start();
      return;
    }
    this.adminPort = await this.admin.listen(this.opts.adminAddress, this.opts.adminPort);
    setAdminAddress(this.node, this.opts.adminAddress, this.adminPort);
    await this.listeners.start();
    this.ads.start();
  }

  /** Takes a new snapshot; resolves once its listeners are bound (and `ready` is up to date). */
  applySnapshot(s: ProxyConfigSnapshot): Promise<void> {
    this.snapshotValue = s;
    // Clusters first, so a listener never points at a cluster the data path does not know yet.
    this.clusters.update(s);
    return this.listeners
      .apply(s)
      .then(() => {
        if (!this.readyFlag && s.received.has('CDS') && s.received.has('LDS')) {
          this.readyFlag = true;
          this.opts.logger.info('ready', { listeners: s.listeners.size, clusters: s.clusters.size });
          this.opts.onReady?.();
        }
      })
      .catch((err: unknown) => this.opts.logger.error('apply failed', { error: (err as Error).message }));
  }

  /** Stops taking config, drains listeners (open requests finish), closes pools. */
  async stop(graceMs = 5000): Promise<void> {
    this.ads.stop();
    await this.listeners.close(graceMs);
    this.clusters.close();
    this.rateLimits.close();
    this.tracer.close();
    this.accessLogs.close();
    await this.admin.close();
  }
}
