/**
 * The TCP proxy network filter: each downstream connection is piped to one endpoint of the
 * configured cluster (weighted when there are several), with connect timeout, idle timeout and
 * an access log line carrying the response flag (UH no endpoint, UF connect failure, NC unknown
 * cluster) and Istio's TCP metrics. ORIGINAL_DST clusters (PassthroughCluster) connect to the
 * address a captured connection was sent to.
 */
import net from 'node:net';
import type { ConnectionSecurity } from '../connection-manager/downstream.js';
import { upstreamTlsFor } from '../upstream/transport-socket-match.js';
import { tlsFailureReason } from '../upstream/transport.js';
import type { Logger } from '../../core/logger.js';
import type { TcpProxyConfig } from '../model/config.js';
import type { AccessLogWriter } from '../connection-manager/access-log.js';
import { flagTcpFailure, type TcpFailure } from '../connection-manager/response-flags.js';
import { pickWeighted } from '../policy/weighted.js';
import type { Reporter, StreamInfo } from '../connection-manager/stream-info.js';
import type { IstioStats, TcpSeries } from '../admin/stats.js';
import type { Endpoint, EndpointIdentity } from '../model/config.js';
import type { ClusterManager } from '../upstream/cluster-manager.js';
import type { Clock } from '../../core/clock.js';
import type { Random } from '../../core/random.js';
import { listenOn } from '../../core/net.js';
import { checkNetworkRbac } from './network-rbac.js';

export interface TcpProxyDeps {
  clusters: ClusterManager;
  accessLogs: AccessLogWriter;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** Istio's TCP metrics; none in tests that do not look at them. */
  stats?: IstioStats;
}

export interface TcpConnectionOptions {
  /** `destination` on inbound listeners. */
  reporter?: Reporter;
  /** The address a captured connection was sent to: the endpoint of ORIGINAL_DST clusters. */
  originalDestination?: { address: string; port: number };
  /** What the downstream TLS handshake proved (inbound mTLS chains); undefined for plain text. */
  security?: ConnectionSecurity | undefined;
}

export function proxyTcpConnection(
  socket: net.Socket,
  config: TcpProxyConfig,
  deps: TcpProxyDeps,
  options: TcpConnectionOptions = {},
): void {
  const dst = options.originalDestination;
  const info: StreamInfo = {
    startWallMs: deps.clock.wallNow(),
    startMs: deps.clock.now(),
    reporter: options.reporter ?? 'source',
    method: '-',
    path: '-',
    authority: dst ? `${dst.address}:${dst.port}` : '-',
    protocol: '-',
    requestId: '',
    requestHeaders: {},
    userAgent: '',
    forwardedFor: '',
    downstreamRemote: socket.remoteAddress ?? '',
    status: 0,
    flags: new Set(),
    bytesReceived: 0,
    bytesSent: 0,
    durationMs: 0,
    attempts: 1,
    downstreamSecurity: options.security,
  };
  let series: TcpSeries | undefined;
  // Bytes from the client before the upstream connected (or when it never does).
  let early = 0;
  socket.on('data', (d: Buffer) => {
    if (series) series.received += d.length;
    else early += d.length;
  });
  let logged = false;
  const finish = (failure?: TcpFailure) => {
    if (failure) flagTcpFailure(info, failure);
    if (logged) return;
    logged = true;
    info.bytesReceived = socket.bytesRead;
    info.bytesSent = socket.bytesWritten;
    info.durationMs = deps.clock.now() - info.startMs;
    deps.accessLogs.log(config.accessLogs, info); // the writer decides (its runtime switch)
    // A connection that never reached an upstream is counted once, with its flag.
    if (series === undefined && deps.stats) {
      series = deps.stats.tcpSeries(info);
      series.opened++;
      series.received += early;
    }
    if (series) series.closed++;
  };
  socket.on('error', () => undefined);
  if (config.rbac) {
    const facts = {
      remoteAddress: info.downstreamRemote,
      localAddress: dst?.address ?? socket.localAddress ?? '',
      localPort: dst?.port ?? socket.localPort ?? 0,
      security: options.security,
    };
    const rbac = checkNetworkRbac(config.rbac, facts, deps.stats && ((s) => deps.stats?.countEnvoy(s)));
    if (!rbac.allowed) {
      info.responseCodeDetails = rbac.details;
      finish();
      socket.destroy();
      return;
    }
  }
  const target = pickWeighted(config.targets, config.totalWeight, deps.random);
  info.upstreamCluster = target?.cluster;
  const cluster = target ? deps.clusters.get(target.cluster) : undefined;
  if (!cluster) {
    finish('no-cluster');
    socket.destroy();
    return;
  }
  let endpoint:
    | (Pick<Endpoint, 'key' | 'host' | 'port' | 'transportSocketMatch'> & { identity?: EndpointIdentity })
    | undefined;
  if (cluster.config.type === 'ORIGINAL_DST') {
    if (dst) endpoint = { key: `${dst.address}:${dst.port}`, host: dst.address, port: dst.port };
  } else {
    endpoint = cluster.pick()?.endpoint;
  }
  if (!endpoint) {
    finish('no-healthy-upstream');
    socket.destroy();
    return;
  }
  info.upstreamHost = endpoint.key;
  if (endpoint.identity) info.destinationIdentity = endpoint.identity;
  const tls = upstreamTlsFor(cluster.config, endpoint);
  const opened = deps.clusters.pools.transports.open(endpoint.host, endpoint.port, tls);
  const upstream = opened.socket;
  let connected = false;
  const connectTimer = setTimeout(
    () => upstream.destroy(new Error('connect timeout')),
    cluster.config.connectTimeoutMs,
  );
  upstream.setTimeout(config.idleTimeoutMs);
  socket.setTimeout(config.idleTimeoutMs);
  const idle = () => {
    upstream.destroy();
    socket.destroy();
  };
  upstream.on('timeout', idle);
  socket.on('timeout', idle);
  upstream.on(opened.readyEvent, () => {
    connected = true;
    clearTimeout(connectTimer);
    if (deps.stats) {
      const s = deps.stats.tcpSeries(info);
      series = s;
      s.opened++;
      s.received += early;
      upstream.on('data', (d: Buffer) => (s.sent += d.length));
    }
  });
  upstream.on('error', (err: NodeJS.ErrnoException) => {
    clearTimeout(connectTimer);
    if (!connected && tls !== undefined) info.upstreamTransportFailureReason ??= tlsFailureReason(err);
    finish(connected ? undefined : 'connect-failure');
    socket.destroy();
  });
  upstream.on('close', () => {
    clearTimeout(connectTimer);
    socket.end();
    // Closed before it was ready (a TLS peer refusing the handshake): a connect failure.
    finish(connected ? undefined : 'connect-failure');
  });
  socket.on('close', () => {
    upstream.end();
    finish();
  });
  socket.pipe(upstream);
  upstream.pipe(socket);
}

/** A listener whose filter chain is a TCP proxy. Config can be swapped without rebinding. */
export class TcpListener {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private config: TcpProxyConfig,
    private readonly deps: TcpProxyDeps,
    private readonly reporter: Reporter = 'source',
  ) {
    this.server = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      proxyTcpConnection(socket, this.config, this.deps, { reporter: this.reporter });
    });
  }

  setConfig(config: TcpProxyConfig): void {
    this.config = config;
  }

  async listen(host: string, port: number): Promise<number> {
    return listenOn(this.server, host, port);
  }

  async drain(graceMs = 30_000): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const deadline = Date.now() + graceMs;
    while (this.sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}
