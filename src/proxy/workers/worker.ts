/**
 * One data-plane worker of `trellis proxy --concurrency N`: a node:cluster worker process that
 * owns every listener of the proxy (outbound and inbound capture, bound listeners) and nothing
 * else. The primary holds the only xDS stream and the admin server (primary.ts); this process
 * gets the accepted resources over IPC, converts them with the proxy's own code
 * (config-replica.ts) and applies each snapshot as a single-process proxy does: clusters first,
 * then listeners, and every request keeps the snapshot it started with.
 *
 * A worker applies the primary's current config before it binds anything, so a worker restarted
 * after a crash never takes a connection it cannot route. The listening sockets are shared
 * through node:cluster (the primary holds them; `listen(0)` gives every worker the same port).
 * It drains and stops when the primary says so or on SIGTERM; if the primary dies, node:cluster
 * ends the worker at once (as a crashed Envoy loses its workers).
 */
import cluster from 'node:cluster';
import type { Logger } from '../../core/logger.js';
import { clusterStatsText, clustersText } from '../admin/admin-server.js';
import { TrellisProxy, type ProxyOptions } from '../proxy.js';
import { ConfigReplica } from './config-replica.js';
import { fromWire } from './certificate-relay.js';
import { isPrimaryMessage, type PrimaryMessage, type WireType, type WorkerMessage } from './ipc.js';
import { staticCertificateSource } from '../identity/workload-certificate.js';

/** The IPC channel to the primary (process.send and 'message' in a real worker). */
export interface PrimaryChannel {
  send(message: WorkerMessage): void;
  onMessage(handler: (message: unknown) => void): void;
  /** Closes the channel so the process can exit (with the code the command returns). */
  close(): void;
}

/** The channel of a node:cluster worker. */
export function processChannel(): PrimaryChannel {
  return {
    send: (m) => {
      if (process.connected) process.send?.(m);
    },
    onMessage: (h) => void process.on('message', h),
    // Through cluster: a plain process.disconnect() looks like a lost primary to node:cluster,
    // which then exits with code 0 at once.
    close: () => {
      if (process.connected) cluster.worker?.disconnect();
    },
  };
}

export interface ProxyWorkerOptions {
  /** The proxy's options; config source, admin and xDS callbacks are the worker's own. */
  proxy: ProxyOptions;
  channel: PrimaryChannel;
}

export class ProxyWorker {
  readonly proxy: TrellisProxy;
  private readonly replica: ConfigReplica;
  private readonly logger: Logger;
  private applying: Promise<void> = Promise.resolve();
  private started = false;
  /** The primary's workload certificate and its rotations. */
  private readonly certificates = staticCertificateSource();
  private stopping: Promise<void> | undefined;
  private resolveStopped!: (failed: boolean) => void;
  /** Resolves when the worker has stopped: true when it failed to start. */
  readonly stopped = new Promise<boolean>((resolve) => (this.resolveStopped = resolve));

  constructor(private readonly opts: ProxyWorkerOptions) {
    this.logger = opts.proxy.logger;
    // The workload certificate comes from the primary (its source talks to the CA, once for the
    // whole proxy); a source in the options is the primary's business and is not used here.
    const { onReady: _r, onConnected: _c, workloadCertificates: _w, ...proxyOptions } = opts.proxy;
    this.proxy = new TrellisProxy({
      ...proxyOptions,
      configSource: 'external',
      workloadCertificates: this.certificates,
    });
    // The primary accepted this config, NACKing sds-grpc secrets when it has no source.
    this.replica = new ConfigReplica(() => opts.proxy.clock.wallNow(), { workloadCertificates: true });
  }

  /** Asks the primary for the current config; listeners are bound once it has arrived. */
  start(): void {
    const { channel } = this.opts;
    channel.onMessage((m) => {
      if (isPrimaryMessage(m)) this.onMessage(m);
    });
    channel.send({ kind: 'trellis.hello' });
  }

  private onMessage(m: PrimaryMessage): void {
    switch (m.kind) {
      case 'trellis.config':
        this.applying = this.applying.then(() => this.applyConfig(m.seq, m.types));
        return;
      case 'trellis.collect': {
        const { clusters, stats } = this.proxy;
        const reply: WorkerMessage =
          m.what === 'istio'
            ? { kind: 'trellis.collected', id: m.id, istio: stats.serialize() }
            : {
                kind: 'trellis.collected',
                id: m.id,
                text:
                  m.what === 'clusters'
                    ? clustersText(clusters)
                    : clusterStatsText(clusters) + stats.envoyStatsText(),
              };
        this.opts.channel.send(reply);
        return;
      }
      case 'trellis.certificate':
        try {
          this.certificates.rotate(fromWire(m.certificate));
        } catch (err) {
          this.logger.error('certificate from the primary rejected', { error: (err as Error).message });
        }
        return;
      case 'trellis.drain':
        void this.stop(m.graceMs);
        return;
    }
  }

  private async applyConfig(seq: number, types: readonly WireType[]): Promise<void> {
    if (this.stopping) return;
    const { channel } = this.opts;
    try {
      if (types.length > 0) {
        const problems = this.replica.apply(types);
        for (const p of problems) this.logger.error('config from the primary rejected', { problem: p });
        await this.proxy.applySnapshot(this.replica.snapshot());
      }
      // Told to stop meanwhile: bind nothing more.
      if (this.stopping) return;
      if (!this.started) {
        await this.proxy.start();
        this.started = true;
        const { outbound, inbound } = this.proxy.listeners.ports;
        channel.send({ kind: 'trellis.started', ports: { outbound, inbound } });
      }
      const s = this.proxy.snapshot();
      channel.send({ kind: 'trellis.applied', seq, ready: this.proxy.ready, versions: { ...s.versions } });
    } catch (err) {
      if (this.started) {
        this.logger.error('applying config failed', { error: (err as Error).message });
        return;
      }
      channel.send({ kind: 'trellis.failed', error: (err as Error).message });
      await this.stop(0, true);
    }
  }

  /** Drains the listeners (open requests finish), then closes the channel. Idempotent. */
  stop(graceMs: number, failed = false): Promise<void> {
    this.stopping ??= (async () => {
      await this.proxy.stop(graceMs);
      this.opts.channel.close();
      this.resolveStopped(failed);
    })();
    return this.stopping;
  }
}
