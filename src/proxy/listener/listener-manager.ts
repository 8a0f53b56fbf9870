/**
 * Owns every downstream socket: the outbound and inbound capture listeners (always bound) and
 * one real listener per Listener resource whose port the proxy was told to bind (gateways).
 * A changed listener keeps its socket and swaps its config, so nothing is dropped; a removed one
 * stops accepting and drains its open connections; a listener that changes between HTTP and TCP
 * is drained and then rebound on the same port.
 */
import type { Logger } from '../../core/logger.js';
import type { ListenerConfig, ProxyConfigSnapshot, TcpProxyConfig } from '../model/config.js';
import { emptySnapshot } from '../model/config.js';
import type { AccessLogWriter } from '../connection-manager/access-log.js';
import type { RouterDeps } from '../connection-manager/request-handler.js';
import { HttpListener } from './http-listener.js';
import { OutboundCapture, type OriginalDestinationReader } from './outbound-capture.js';
import { TcpListener, type TcpProxyDeps } from './tcp-proxy.js';
import { TlsListener, terminatesTls } from './tls-listener.js';
import { boundTarget, inboundTarget } from './targets.js';
import { SecretResolver } from '../identity/secret-resolver.js';

export interface ListenerManagerOptions {
  bindAddress: string;
  /** Ports of Listener resources to bind for real; others are served through capture only. */
  bindPorts: ReadonlySet<number>;
  outboundPort: number;
  inboundPort: number;
  deps: RouterDeps;
  accessLogs: AccessLogWriter;
  logger: Logger;
  reporterForBound: 'source' | 'destination';
  /** SO_ORIGINAL_DST, for connections iptables redirected to the outbound capture port. */
  originalDestination?: OriginalDestinationReader;
  /** Secrets TLS filter chains name: over ADS, or the workload's own (`default`, `ROOTCA`). */
  secrets?: SecretResolver;
}

type Bound =
  | { kind: 'http'; name: string; listener: HttpListener; config: ListenerConfig }
  | { kind: 'tcp'; name: string; listener: TcpListener; config: ListenerConfig }
  | { kind: 'tls'; name: string; listener: TlsListener; config: ListenerConfig };

export class ListenerManager {
  private snapshot: ProxyConfigSnapshot = emptySnapshot();
  private outbound: OutboundCapture | undefined;
  private inbound: HttpListener | undefined;
  private readonly bound = new Map<number, Bound>();
  private applying: Promise<void> = Promise.resolve();
  /** Ports actually bound, for tests and the CLI: outbound, inbound, and by listener name. */
  readonly ports = { outbound: 0, inbound: 0, byListener: new Map<string, number>() };

  constructor(private readonly opts: ListenerManagerOptions) {}

  async start(): Promise<void> {
    const { deps, logger } = this.opts;
    this.outbound = new OutboundCapture({
      deps,
      tcp: this.tcpDeps(logger.child('outbound')),
      logger: logger.child('outbound'),
      snapshot: () => this.snapshot,
      originalDestination: this.opts.originalDestination,
    });
    this.ports.outbound = await this.outbound.listen(this.opts.bindAddress, this.opts.outboundPort);
    this.inbound = new HttpListener(
      // The port actually bound: with --inbound-port 0 the configured one says nothing.
      (ds) => inboundTarget(this.snapshot, ds, this.ports.inbound),
      'destination',
      deps,
      logger.child('inbound'),
    );
    this.ports.inbound = await this.inbound.listen(this.opts.bindAddress, this.opts.inboundPort);
  }

  /** Applies a snapshot; resolves once new sockets are bound (old ones drain in the background). */
  apply(snapshot: ProxyConfigSnapshot): Promise<void> {
    this.applying = this.applying
      .then(() => this.reconcile(snapshot))
      .catch((err: unknown) => {
        this.opts.logger.error('applying listeners failed', { error: (err as Error).message });
      });
    return this.applying;
  }

  private async reconcile(snapshot: ProxyConfigSnapshot): Promise<void> {
    this.snapshot = snapshot;
    this.outbound?.prune(snapshot);
    const wanted = new Map<number, ListenerConfig>();
    for (const l of snapshot.listeners.values()) if (this.opts.bindPorts.has(l.port)) wanted.set(l.port, l);
    for (const [port, b] of [...this.bound]) {
      const next = wanted.get(port);
      if (next && kindOf(next) === b.kind) continue;
      this.bound.delete(port);
      this.ports.byListener.delete(b.name);
      this.opts.logger.info('draining listener', { name: b.name, port });
      const drained = b.listener.drain();
      // Same port, different kind: the new socket can only bind once the old one is closed.
      if (next) await drained;
      else drained.catch(() => undefined);
    }
    for (const [port, l] of wanted) {
      const existing = this.bound.get(port);
      if (existing) {
        existing.config = l;
        if (existing.kind === 'tcp') existing.listener.setConfig(tcpConfig(l));
        // Every snapshot, also SDS-only ones: the TLS listener notices secrets arriving.
        else if (existing.kind === 'tls') existing.listener.setConfig(l);
        else existing.listener.setResolver((ds) => boundTarget(this.snapshot, l, ds));
        continue;
      }
      const b = this.create(l);
      const bound = await b.listener.listen(this.opts.bindAddress, port);
      this.bound.set(port, b);
      this.ports.byListener.set(l.name, bound);
      this.opts.logger.info('listening', {
        name: l.name,
        address: `${this.opts.bindAddress}:${bound}`,
        kind: b.kind,
      });
    }
  }

  private create(l: ListenerConfig): Bound {
    const { deps, logger } = this.opts;
    // A sidecar's inbound listeners report as the destination, whatever else it binds.
    const reporter = l.direction === 'INBOUND' ? 'destination' : this.opts.reporterForBound;
    if (kindOf(l) === 'tcp') {
      const listener = new TcpListener(tcpConfig(l), this.tcpDeps(logger.child(l.name)), reporter);
      return { kind: 'tcp', name: l.name, listener, config: l };
    }
    if (kindOf(l) === 'tls') {
      const listener = new TlsListener(l, {
        snapshot: () => this.snapshot,
        secrets: this.opts.secrets ?? new SecretResolver(() => this.snapshot, undefined),
        tcp: this.tcpDeps(logger.child(l.name)),
        router: deps,
        reporter,
        logger: logger.child(l.name),
      });
      return { kind: 'tls', name: l.name, listener, config: l };
    }
    const listener = new HttpListener(
      (ds) => boundTarget(this.snapshot, l, ds),
      reporter,
      deps,
      logger.child(l.name),
    );
    return { kind: 'http', name: l.name, listener, config: l };
  }

  private tcpDeps(logger: Logger): TcpProxyDeps {
    const { deps, accessLogs } = this.opts;
    return {
      clusters: deps.clusters,
      accessLogs,
      clock: deps.clock,
      random: deps.random,
      logger,
      stats: deps.stats,
    };
  }

  async close(graceMs = 5000): Promise<void> {
    await this.applying;
    const all: Promise<void>[] = [];
    if (this.outbound) all.push(this.outbound.drain(graceMs));
    if (this.inbound) all.push(this.inbound.drain(graceMs));
    for (const b of this.bound.values()) all.push(b.listener.drain(graceMs));
    this.bound.clear();
    await Promise.all(all);
  }
}

function kindOf(l: ListenerConfig): Bound['kind'] {
  if (terminatesTls(l)) return 'tls';
  return l.filterChains.some((c) => c.filter.kind === 'http') ? 'http' : 'tcp';
}

function tcpConfig(l: ListenerConfig): TcpProxyConfig {
  const chain = l.filterChains.find((c) => c.filter.kind === 'tcp');
  return chain!.filter as TcpProxyConfig;
}
