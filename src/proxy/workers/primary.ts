/**
 * The primary process of `trellis proxy --concurrency N`, shaped like Envoy's main thread and
 * its `--concurrency` workers: one xDS stream (one node id, so the control plane and
 * `trellis proxy-status` see one proxy), one admin server, and N node:cluster worker processes
 * that own every data-plane listener (worker.ts).
 *
 * Config: each update the ADS client accepts is sent to every worker as the raw resources of
 * the types that changed (config-replica.ts, ipc.ts); a worker that starts later, or again after
 * a crash, gets the whole current state first and binds its listeners only then.
 *
 * Sockets: node:cluster shares listening sockets: the primary holds them and hands accepted
 * connections to the workers round-robin (Node's default on Linux; NODE_CLUSTER_SCHED_POLICY=none
 * lets the workers accept themselves, as Envoy's do, with the kernel's uneven spread).
 *
 * Admin, on the primary:
 * - /ready: LIVE once every worker has applied the config that includes clusters and listeners
 *   (then it stays LIVE, as Envoy's does);
 * - /config_dump, /server_info: the primary's xDS cache, identical to a single-process proxy's;
 *   /server_info adds each worker's pid, state, applied versions and restarts;
 * - /stats/prometheus: the workers' Istio metrics merged (counters and histogram buckets summed
 *   per label set). A worker that exits leaves its last collected series behind, so counters
 *   never go down across a restart (what it counted after that last scrape is lost);
 * - /clusters and /stats: the workers' views merged (admin/merge-text.ts).
 *
 * A worker that dies is restarted (with backoff if it keeps dying); SIGTERM/SIGINT of the
 * primary drains every worker (open requests finish) and exits once none is left.
 *
 * Not shared between workers, unlike Envoy's: circuit breaker counts, outlier ejections and local
 * rate limit token buckets are per worker, so their limits apply per worker.
 */
import cluster, { type Worker } from 'node:cluster';
import { Backoff } from '../../core/backoff.js';
import type { TimerHandle } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { AdminServer, type DataPlaneView } from '../admin/admin-server.js';
import { mergeClusterStatsText, mergeClustersText } from '../admin/merge-text.js';
import { IstioStats, type IstioStatsData } from '../admin/stats.js';
import type { ProxyConfigSnapshot, XdsShortType } from '../model/config.js';
import type { ProxyOptions } from '../proxy.js';
import { AdsClient } from '../xds-client/ads-client.js';
import { nodeMessage, setAdminAddress, type NodeMsg } from '../xds-client/bootstrap.js';
import { changedTypes, toWire as configToWire } from './config-replica.js';
import { toWire } from './certificate-relay.js';
import type { WorkloadCertificate } from '../identity/workload-certificate.js';
import { isWorkerMessage, type CollectWhat, type PrimaryMessage, type WorkerMessage } from './ipc.js';

export interface ProxyPrimaryOptions {
  /** The proxy's options: xDS, admin and identity are the primary's; the rest go to the workers. */
  proxy: ProxyOptions;
  concurrency: number;
  /** How a worker re-enters this program (node:cluster's exec and args); default: as this one. */
  exec?: { file: string; args: readonly string[] };
  /** Added to each worker's environment (TRELLIS_PROXY_WORKER=<1..N> always is). */
  env?: Readonly<Record<string, string>>;
  /** How long the admin waits for a worker's stats. Default 2 s. */
  collectTimeoutMs?: number;
  /** Delay before restarting a worker that died, growing while it keeps dying before it starts. */
  restartBackoff?: { baseMs: number; maxMs: number };
}

type Collected = Extract<WorkerMessage, { kind: 'trellis.collected' }>;

/** One of the N workers, across its restarts. */
interface Slot {
  id: number;
  worker: Worker | undefined;
  pid: number | undefined;
  /** It asked for config: it has a message handler and gets every update. */
  helloed: boolean;
  started: boolean;
  ready: boolean;
  appliedSeq: number;
  versions: Record<XdsShortType, string> | undefined;
  restarts: number;
  backoff: Backoff;
  restartTimer: TimerHandle | undefined;
  /** Its Istio series at the last scrape, kept when it exits. */
  lastIstio: IstioStatsData | undefined;
  startup: { resolve: () => void; reject: (err: Error) => void } | undefined;
  exited: (() => void)[];
}

export class ProxyPrimary {
  readonly ads: AdsClient;
  private readonly admin: AdminServer;
  private readonly node: NodeMsg;
  private readonly logger: Logger;
  private readonly slots: Slot[];
  /** The last config sent to the workers, and its sequence number. */
  private sent: ProxyConfigSnapshot | undefined;
  private seq = 0;
  private readyFlag = false;
  private phase: 'new' | 'starting' | 'running' | 'stopping' = 'new';
  private stopping: Promise<void> | undefined;
  private collectId = 0;
  private readonly pending = new Map<string, (m: Collected | undefined) => void>();
  /** Istio series of workers that exited (their last scrape). */
  private readonly retired: IstioStats;
  adminPort = 0;
  private readonly unsubscribeCertificates: (() => void) | undefined;
  /** The capture ports the workers bound (the same in every worker). */
  readonly ports = { outbound: 0, inbound: 0 };

  constructor(private readonly opts: ProxyPrimaryOptions) {
    const p = opts.proxy;
    this.logger = p.logger.child('workers');
    this.retired = new IstioStats(p.bootstrap);
    const node = nodeMessage(p.bootstrap, p.version);
    this.node = node;
    this.ads = new AdsClient({
      server: p.xds,
      node,
      clock: p.clock,
      random: p.random,
      logger: p.logger.child('xds'),
      onSnapshot: (s) => this.broadcast(s),
      onConnected: p.onConnected,
      backoff: p.xdsBackoff,
      protocol: p.xdsProtocol,
      workloadCertificates: p.workloadCertificates !== undefined,
    });
    // Every rotation goes to the workers that asked for config (those still starting get the
    // certificate with their hello).
    this.unsubscribeCertificates = p.workloadCertificates?.onChange((cert) => {
      for (const slot of this.slots) if (slot.worker && slot.helloed) this.sendCertificate(slot.worker, cert);
    });
    const restart = opts.restartBackoff ?? { baseMs: 200, maxMs: 10_000 };
    this.slots = Array.from({ length: opts.concurrency }, (_, i) => ({
      id: i + 1,
      worker: undefined,
      pid: undefined,
      helloed: false,
      started: false,
      ready: false,
      appliedSeq: -1,
      versions: undefined,
      restarts: 0,
      backoff: new Backoff(restart, p.random),
      restartTimer: undefined,
      lastIstio: undefined,
      startup: undefined,
      exited: [],
    }));
    const dataPlane: DataPlaneView = {
      clusters: async () => mergeClustersText(await this.collectText('clusters')),
      clusterStats: async () => mergeClusterStatsText(await this.collectText('clusterStats')),
      prometheus: () => this.prometheus(),
      info: () => this.info(),
    };
    this.admin = new AdminServer({
      snapshot: () => this.ads.cache.snapshot(),
      ready: () => this.readyFlag,
      node,
      dataPlane,
      xds: () => this.ads.stats,
      logger: p.logger.child('admin'),
      workloadCertificate: () => p.workloadCertificates?.current(),
    });
  }

  private sendCertificate(worker: Worker, cert: WorkloadCertificate): void {
    this.send(worker, { kind: 'trellis.certificate', certificate: toWire(cert) });
  }

  get ready(): boolean {
    return this.readyFlag;
  }

  snapshot(): ProxyConfigSnapshot {
    return this.ads.cache.snapshot();
  }

  /** Admin, then the workers (rejects if one cannot bind its listeners), then xDS. */
  async start(): Promise<void> {
    const p = this.opts.proxy;
    this.phase = 'starting';
    this.adminPort = await this.admin.listen(p.adminAddress, p.adminPort);
    setAdminAddress(this.node, p.adminAddress, this.adminPort);
    try {
      await Promise.all(this.slots.map((s) => this.fork(s)));
    } catch (err) {
      await this.stop(0);
      throw err;
    }
    this.phase = 'running';
    this.ads.start();
  }

  /** Stops xDS, drains every worker (open requests finish), then closes the admin. */
  stop(graceMs = 5000): Promise<void> {
    this.stopping ??= this.shutdown(graceMs);
    return this.stopping;
  }

  private async shutdown(graceMs: number): Promise<void> {
    this.phase = 'stopping';
    this.ads.stop();
    this.unsubscribeCertificates?.();
    await Promise.all(
      this.slots.map(async (slot) => {
        slot.restartTimer?.cancel();
        const worker = slot.worker;
        if (!worker) return;
        const gone = new Promise<void>((resolve) => slot.exited.push(resolve));
        // A worker that has not asked for config yet may not see a message: signal it instead.
        if (slot.helloed) this.send(worker, { kind: 'trellis.drain', graceMs });
        else worker.process.kill('SIGTERM');
        const killer = this.opts.proxy.clock.setTimeout(() => worker.process.kill('SIGKILL'), graceMs + 5000);
        await gone;
        killer.cancel();
      }),
    );
    await this.admin.close();
  }

  private fork(slot: Slot): Promise<void> {
    // node:cluster's settings are the process's: set them before each fork (a restart too), as
    // one process may run several primaries (`trellis up`), each forking its own workers.
    if (this.opts.exec)
      cluster.setupPrimary({ exec: this.opts.exec.file, args: [...this.opts.exec.args], silent: false });
    const worker = cluster.fork({ ...this.opts.env, TRELLIS_PROXY_WORKER: String(slot.id) });
    Object.assign(slot, {
      worker,
      pid: worker.process.pid,
      helloed: false,
      started: false,
      ready: false,
      appliedSeq: -1,
      versions: undefined,
    });
    worker.on('message', (m: unknown) => {
      if (slot.worker === worker && isWorkerMessage(m)) this.onWorkerMessage(slot, worker, m);
    });
    // Sends to a worker that just died fail with EPIPE; its 'exit' handles the rest.
    worker.on('error', (err: Error) =>
      this.logger.debug('worker channel error', { worker: slot.id, error: err.message }),
    );
    worker.on('exit', (code: number | null, signal: string | null) =>
      this.onExit(slot, worker, code, signal),
    );
    return new Promise<void>((resolve, reject) => (slot.startup = { resolve, reject }));
  }

  private onWorkerMessage(slot: Slot, worker: Worker, m: WorkerMessage): void {
    switch (m.kind) {
      case 'trellis.hello':
        slot.helloed = true;
        if (this.phase === 'stopping') {
          this.send(worker, { kind: 'trellis.drain', graceMs: 0 });
          return;
        }
        // The certificate first, so TLS chains can handshake as soon as listeners are bound.
        {
          const cert = this.opts.proxy.workloadCertificates?.current();
          if (cert !== undefined) this.sendCertificate(worker, cert);
        }
        // The whole state last sent to the others; later updates follow in order.
        this.send(worker, {
          kind: 'trellis.config',
          seq: this.seq,
          types: this.sent ? configToWire(this.sent, this.sent.received) : [],
        });
        return;
      case 'trellis.started':
        slot.started = true;
        this.ports.outbound = m.ports.outbound;
        this.ports.inbound = m.ports.inbound;
        if (slot.restarts > 0) this.logger.info('worker restarted', { worker: slot.id, pid: slot.pid });
        slot.startup?.resolve();
        slot.startup = undefined;
        return;
      case 'trellis.failed':
        this.logger.error('worker failed to start', { worker: slot.id, error: m.error });
        slot.startup?.reject(new Error(`proxy worker ${slot.id}: ${m.error}`));
        slot.startup = undefined;
        return;
      case 'trellis.applied':
        slot.appliedSeq = m.seq;
        slot.ready = m.ready;
        slot.versions = m.versions;
        if (m.ready) slot.backoff.reset();
        this.checkReady();
        return;
      case 'trellis.collected':
        this.pending.get(`${slot.id}/${m.id}`)?.(m);
        return;
    }
  }

  private onExit(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    slot.started = false;
    slot.ready = false;
    slot.helloed = false;
    for (const [key, resolve] of this.pending) if (key.startsWith(`${slot.id}/`)) resolve(undefined);
    if (slot.lastIstio) this.retired.merge(slot.lastIstio);
    slot.lastIstio = undefined;
    for (const resolve of slot.exited.splice(0)) resolve();
    if (slot.startup) {
      slot.startup.reject(
        new Error(
          `proxy worker ${slot.id} exited (${signal ?? `code ${code}`}) before its listeners were bound`,
        ),
      );
      slot.startup = undefined;
      if (this.phase === 'starting') return;
    }
    if (this.phase !== 'running') return;
    const delay = slot.backoff.next();
    slot.restarts++;
    this.logger.warn('worker exited; restarting', {
      worker: slot.id,
      pid: slot.pid,
      code,
      signal,
      restartInMs: Math.round(delay),
    });
    slot.restartTimer = this.opts.proxy.clock.setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.phase !== 'running') return;
      // A replacement that fails before it starts exits too, and comes back here with more delay.
      this.fork(slot).catch(() => undefined);
    }, delay);
  }

  /** After each accepted xDS update: the changed types to every worker that asked for config. */
  private broadcast(s: ProxyConfigSnapshot): void {
    const types = changedTypes(this.sent, s);
    if (types.length === 0) return;
    this.sent = s;
    this.seq++;
    const message: PrimaryMessage = { kind: 'trellis.config', seq: this.seq, types: configToWire(s, types) };
    for (const slot of this.slots) if (slot.worker && slot.helloed) this.send(slot.worker, message);
  }

  private checkReady(): void {
    if (this.readyFlag || this.phase !== 'running') return;
    if (!this.slots.every((s) => s.started && s.ready && s.appliedSeq === this.seq)) return;
    this.readyFlag = true;
    const s = this.snapshot();
    this.opts.proxy.logger.info('ready', {
      listeners: s.listeners.size,
      clusters: s.clusters.size,
      workers: this.slots.length,
    });
    this.opts.proxy.onReady?.();
  }

  private send(worker: Worker, message: PrimaryMessage): void {
    if (worker.isConnected()) worker.send(message);
  }

  /** Asks every started worker; a worker that does not answer in time counts as absent. */
  private async collect(what: CollectWhat): Promise<{ slot: Slot; reply: Collected | undefined }[]> {
    const id = ++this.collectId;
    const timeoutMs = this.opts.collectTimeoutMs ?? 2000;
    const live = this.slots.filter((s) => s.worker && s.started);
    return Promise.all(
      live.map(
        (slot) =>
          new Promise<{ slot: Slot; reply: Collected | undefined }>((resolve) => {
            const key = `${slot.id}/${id}`;
            const timer = this.opts.proxy.clock.setTimeout(() => done(undefined), timeoutMs);
            const done = (reply: Collected | undefined) => {
              timer.cancel();
              this.pending.delete(key);
              resolve({ slot, reply });
            };
            this.pending.set(key, done);
            this.send(slot.worker!, { kind: 'trellis.collect', id, what });
          }),
      ),
    );
  }

  private async collectText(what: 'clusters' | 'clusterStats'): Promise<string[]> {
    return (await this.collect(what)).flatMap(({ reply }) => (reply?.text !== undefined ? [reply.text] : []));
  }

  private async prometheus(): Promise<string> {
    const total = new IstioStats(this.opts.proxy.bootstrap);
    total.merge(this.retired.serialize());
    for (const { slot, reply } of await this.collect('istio')) {
      if (reply?.istio) slot.lastIstio = reply.istio;
      // No answer in time: its last series, so the sum does not drop.
      if (slot.lastIstio) total.merge(slot.lastIstio);
    }
    return total.prometheus();
  }

  /** Each worker: pid, state, the xDS versions it applied, restarts, and the requests it served. */
  private async info(): Promise<Record<string, unknown>> {
    const served = new Map<Slot, number>();
    for (const { slot, reply } of await this.collect('istio')) {
      if (reply?.istio) slot.lastIstio = reply.istio;
      served.set(
        slot,
        (reply?.istio?.requests ?? []).reduce((n, s) => n + s.requests, 0),
      );
    }
    return {
      concurrency: this.slots.length,
      workers: this.slots.map((s) => ({
        id: s.id,
        pid: s.worker ? s.pid : undefined,
        state: !s.worker ? 'RESTARTING' : s.ready ? 'LIVE' : s.started ? 'INITIALIZING' : 'STARTING',
        applied: s.versions,
        restarts: s.restarts,
        requests: served.get(s),
      })),
    };
  }
}
