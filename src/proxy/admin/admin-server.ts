/**
 * The admin endpoint (default :15000), Envoy's paths: /ready, /config_dump, /clusters,
 * /stats/prometheus, /server_info; two runtime switches (logging.ts): /logging (Envoy's) and
 * /access_log (Trellis's); /tap (tap.ts), live requests as NDJSON; and POST /explain
 * (explain-route.ts), what this proxy would do with a request. Bind it to loopback in production: it can change the proxy's logging.
 *
 * /clusters, /stats (the cluster lines) and /stats/prometheus come from a `DataPlaneView`: this
 * process's ClusterManager and IstioStats (`localDataPlane`), or, with `trellis proxy
 * --concurrency N`, the workers' views merged by the primary (workers/primary.ts).
 */
import http from 'node:http';
import type { ProxyConfigSnapshot } from '../model/config.js';
import type { ClusterManager } from '../upstream/cluster-manager.js';
import type { NodeMsg } from '../xds-client/bootstrap.js';
import { configDump } from './config-dump.js';
import type { WorkloadCertificate } from '../identity/workload-certificate.js';
import type { IstioStats } from './stats.js';
import { listenOn } from '../../core/net.js';
import { errorMessage } from '../../core/errors.js';
import { answerMalformedRequests } from '../../core/http-errors.js';
import { createLogger, type Logger } from '../../core/logger.js';
import { accessLogRoute, loggingRoute, type AccessLogHandle } from './logging.js';
import { TapHub, serveTap, type StreamObserverSlot } from './tap.js';
import { serveExplain, type ExplainHandle } from './explain-route.js';

/** What the data path shows the admin; a promise when it must be asked for (workers). */
export interface DataPlaneView {
  /** The /clusters text. */
  clusters(): string | Promise<string>;
  /** The per-cluster `name: value` lines of /stats (the control_plane ones are the admin's). */
  clusterStats(): string | Promise<string>;
  /** Istio's metrics in Prometheus text format. */
  prometheus(): string | Promise<string>;
  /** Extra /server_info fields (the workers, with --concurrency N). */
  info?(): Record<string, unknown> | Promise<Record<string, unknown>>;
}

export interface AdminState {
  snapshot(): ProxyConfigSnapshot;
  ready(): boolean;
  node: NodeMsg;
  dataPlane: DataPlaneView;
  xds(): { acks: number; nacks: number; connects: number; lastNack: string };
  /**
   * Where handler failures are logged; default a `proxy.admin` logger on stderr. Its level is the
   * whole proxy's (loggers share their root's): POST /logging?level= changes it.
   */
  logger?: Logger;
  /** The access log switch (POST /access_log?state=); absent: the route answers 404. */
  accessLog?: AccessLogHandle;
  /** Where GET /tap observes finished streams (tap.ts); absent: the route answers 404. */
  streams?: StreamObserverSlot;
  /** POST /explain (explain-route.ts); absent: the route answers 404. */
  explain?: ExplainHandle;
  /** The workload's own certificate (SDS `default` / `ROOTCA` in the secrets dump), when it has one. */
  workloadCertificate?: () => WorkloadCertificate | undefined;
}

/** The data path of this process. */
export function localDataPlane(clusters: ClusterManager, stats: IstioStats): DataPlaneView {
  return {
    clusters: () => clustersText(clusters),
    clusterStats: () => clusterStatsText(clusters) + stats.envoyStatsText(),
    prometheus: () => stats.prometheus(),
  };
}

export function clustersText(clusters: ClusterManager): string {
  const lines: string[] = [];
  const names = [...clusters.all()].map((c) => c.config.name).sort();
  for (const name of names) {
    const c = clusters.get(name)!;
    for (const priority of ['DEFAULT', 'HIGH'] as const) {
      const cb = c.config.circuitBreakers[priority];
      const p = `${name}::${priority.toLowerCase()}_priority`;
      lines.push(`${p}::max_connections::${cb.connections}`);
      lines.push(`${p}::max_pending_requests::${cb.pending_requests}`);
      lines.push(`${p}::max_requests::${cb.requests}`);
      lines.push(`${p}::max_retries::${cb.retries}`);
    }
    for (const h of c.hosts) {
      const key = `${name}::${h.endpoint.key}`;
      lines.push(`${key}::rq_active::${h.activeRequests}`);
      const flags = [
        h.endpoint.healthy ? '' : '/failed_eds_health',
        c.outlier?.isEjected(h.address) ? '/failed_outlier_check' : '',
      ]
        .filter((f) => f !== '')
        .join('');
      lines.push(`${key}::health_flags::${flags || 'healthy'}`);
      lines.push(`${key}::weight::${h.endpoint.weight}`);
    }
  }
  return lines.join('\n') + (lines.length ? '\n' : '');
}

/** Envoy-style `name: value` counters of the control plane connection (xDS). */
function controlPlaneStatsText(state: AdminState): string {
  const xds = state.xds();
  return [
    `control_plane.connects: ${xds.connects}`,
    `control_plane.update_success: ${xds.acks}`,
    `control_plane.update_rejected: ${xds.nacks}`,
  ].join('\n');
}

/** Envoy-style `name: value` counters per cluster: requests, circuit breakers, outlier detection. */
export function clusterStatsText(clusters: ClusterManager): string {
  const lines: string[] = [];
  for (const c of [...clusters.all()].sort((a, b) => a.config.name.localeCompare(b.config.name))) {
    const p = `cluster.${c.config.name}`;
    for (const [k, v] of Object.entries(c.counters)) lines.push(`${p}.${k}: ${v}`);
    for (const [k, v] of Object.entries(c.breakers.stats)) lines.push(`${p}.${k}: ${v}`);
    for (const [k, v] of Object.entries(c.outlier?.stats ?? {}))
      lines.push(`${p}.outlier_detection.${k}: ${v}`);
    lines.push(`${p}.membership_total: ${c.hosts.length}`);
    lines.push(`${p}.membership_healthy: ${c.hosts.filter((h) => h.health === 'healthy').length}`);
  }
  return lines.join('\n') + (lines.length ? '\n' : '');
}

export class AdminServer {
  private readonly server: http.Server;
  private readonly logger: Logger;
  private readonly taps: TapHub | undefined;

  constructor(private readonly state: AdminState) {
    this.logger = state.logger ?? createLogger('proxy.admin');
    this.taps = state.streams ? new TapHub(state.streams) : undefined;
    this.server = http.createServer((req, res) => this.handle(req, res));
    answerMalformedRequests(this.server, 'text');
  }

  async listen(host: string, port: number): Promise<number> {
    return listenOn(this.server, host, port);
  }

  /** A failing view is a 500 and a log line; a throw escaping a request listener would end the proxy. */
  private fail(req: http.IncomingMessage, res: http.ServerResponse, err: unknown): void {
    this.logger.error('admin request failed', { path: req.url, error: errorMessage(err) });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = `TRELLIS_INTERNAL: ${errorMessage(err)}\n`;
    res.writeHead(500, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    try {
      this.route(req, res);
    } catch (err) {
      this.fail(req, res, err);
    }
  }

  private route(req: http.IncomingMessage, res: http.ServerResponse): void {
    const [path, search] = (req.url ?? '/').split('?', 2) as [string, string | undefined];
    const text = (status: number, body: string, type = 'text/plain') => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    const later = (body: () => string | Promise<string>, type?: string) => {
      void Promise.resolve()
        .then(body)
        .then(
          (b) => text(200, b, type),
          (err: unknown) => this.fail(req, res, err),
        );
    };
    switch (path) {
      case '/ready':
        return this.state.ready() ? text(200, 'LIVE\n') : text(503, 'PRE_INITIALIZING\n');
      case '/config_dump':
        return text(
          200,
          JSON.stringify(
            configDump(this.state.snapshot(), this.state.node, this.state.workloadCertificate?.()),
            null,
            2,
          ) + '\n',
          'application/json',
        );
      case '/clusters':
        return later(() => this.state.dataPlane.clusters());
      case '/stats': {
        const head = controlPlaneStatsText(this.state);
        return later(async () => `${head}\n${await this.state.dataPlane.clusterStats()}`);
      }
      case '/logging': {
        const r = loggingRoute(req.method ?? 'GET', new URLSearchParams(search ?? ''), this.logger);
        return text(r.status, r.body);
      }
      case '/tap':
        if (!this.taps) return text(404, 'this proxy has no tap (a --concurrency primary: tap a worker)\n');
        return serveTap(this.taps, new URLSearchParams(search ?? ''), res);
      case '/explain':
        if (!this.state.explain)
          return text(404, 'this proxy cannot explain requests (a --concurrency primary: ask a worker)\n');
        return serveExplain(this.state.explain, req, res, (err) => this.fail(req, res, err));
      case '/access_log': {
        if (!this.state.accessLog)
          return text(
            404,
            'this proxy has no access log switch (a --concurrency primary: set it per worker)\n',
          );
        const r = accessLogRoute(
          req.method ?? 'GET',
          new URLSearchParams(search ?? ''),
          this.state.accessLog,
        );
        return text(r.status, r.body);
      }
      case '/stats/prometheus':
        return later(() => this.state.dataPlane.prometheus(), 'text/plain; version=0.0.4');
      case '/server_info':
        return later(async () => {
          const info = {
            state: this.state.ready() ? 'LIVE' : 'PRE_INITIALIZING',
            node: this.state.node.id,
            xds: this.state.xds(),
            ...(await this.state.dataPlane.info?.()),
          };
          return JSON.stringify(info, null, 2) + '\n';
        }, 'application/json');
      default:
        return text(
          404,
          'admin paths: /ready /config_dump /clusters /stats /stats/prometheus /server_info /logging /access_log /tap /explain\n',
        );
    }
  }

  async close(): Promise<void> {
    this.taps?.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
