/**
 * The admin endpoint (default :15000), Envoy's paths: /ready, /config_dump, /clusters,
 * /stats/prometheus, /server_info. Read-only; bind it to loopback in production.
 */
import http from 'node:http';
import type { ProxyConfigSnapshot } from '../config.js';
import type { ClusterManager } from '../upstream/cluster-manager.js';
import type { NodeMsg } from '../xds-client/bootstrap.js';
import { configDump } from './config-dump.js';
import type { IstioStats } from './stats.js';
import { listenOn } from '../../core/net.js';

export interface AdminState {
  snapshot(): ProxyConfigSnapshot;
  ready(): boolean;
  node: NodeMsg;
  clusters: ClusterManager;
  stats: IstioStats;
  xds(): { acks: number; nacks: number; connects: number; lastNack: string };
}

export function clustersText(state: AdminState): string {
  const lines: string[] = [];
  const names = [...state.clusters.all()].map((c) => c.config.name).sort();
  for (const name of names) {
    const c = state.clusters.get(name)!;
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

/** Envoy-style `name: value` counters: per cluster, circuit breakers, outlier detection, xDS. */
export function statsText(state: AdminState): string {
  const lines: string[] = [];
  const xds = state.xds();
  lines.push(`control_plane.connects: ${xds.connects}`);
  lines.push(`control_plane.update_success: ${xds.acks}`);
  lines.push(`control_plane.update_rejected: ${xds.nacks}`);
  for (const c of [...state.clusters.all()].sort((a, b) => a.config.name.localeCompare(b.config.name))) {
    const p = `cluster.${c.config.name}`;
    for (const [k, v] of Object.entries(c.counters)) lines.push(`${p}.${k}: ${v}`);
    for (const [k, v] of Object.entries(c.breakers.stats)) lines.push(`${p}.${k}: ${v}`);
    for (const [k, v] of Object.entries(c.outlier?.stats ?? {}))
      lines.push(`${p}.outlier_detection.${k}: ${v}`);
    lines.push(`${p}.membership_total: ${c.hosts.length}`);
    lines.push(`${p}.membership_healthy: ${c.hosts.filter((h) => h.health === 'healthy').length}`);
  }
  return lines.join('\n') + '\n';
}

export class AdminServer {
  private readonly server: http.Server;

  constructor(private readonly state: AdminState) {
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  async listen(host: string, port: number): Promise<number> {
    return listenOn(this.server, host, port);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    const text = (status: number, body: string, type = 'text/plain') => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    switch (path) {
      case '/ready':
        return this.state.ready() ? text(200, 'LIVE\n') : text(503, 'PRE_INITIALIZING\n');
      case '/config_dump':
        return text(
          200,
          JSON.stringify(configDump(this.state.snapshot(), this.state.node), null, 2) + '\n',
          'application/json',
        );
      case '/clusters':
        return text(200, clustersText(this.state));
      case '/stats':
        return text(200, statsText(this.state));
      case '/stats/prometheus':
        return text(200, this.state.stats.prometheus(), 'text/plain; version=0.0.4');
      case '/server_info':
        return text(
          200,
          JSON.stringify(
            {
              state: this.state.ready() ? 'LIVE' : 'PRE_INITIALIZING',
              node: this.state.node.id,
              xds: this.state.xds(),
            },
            null,
            2,
          ) + '\n',
          'application/json',
        );
      default:
        return text(
          404,
          'admin paths: /ready /config_dump /clusters /stats /stats/prometheus /server_info\n',
        );
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
