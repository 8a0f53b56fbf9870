/**
 * A ConfigStore over etcd (`trellis control-plane --store etcd://...`): every replica reads the
 * same resources, one key each (layout: etcd-keys.ts), validated on read (etcd-state.ts).
 *
 * Start: a range read of the prefix at revision R, then a watch from R + 1; events are applied
 * in revision order, one ConfigEvent per etcd revision that changed what is served. The watch
 * resumes from the last revision seen when the connection comes back (etcd3 re-creates it); if
 * etcd compacted that history meanwhile, the store lists again and emits the difference. Each
 * state is saved to `<stateDir>/etcd/` (etcd-cache.ts): a replica that starts while etcd is
 * down serves what it last saw, and lists again once etcd answers.
 *
 * Writes go through `configWriter()` (etcd-writer.ts), answered once this store's watch has
 * seen their revision.
 */
import type { Etcd3, IKeyValue, IWatchResponse, Watcher } from 'etcd3';
import { errorMessage, type TrellisError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';
import { parseAndValidate } from '../api/parse.js';
import type { Resource } from '../api/resource.js';
import {
  closeEtcdClient,
  createEtcdClient,
  describeEndpoints,
  storeUnavailable,
  withDeadline,
} from './etcd-client.js';
import { EtcdStateCache } from './etcd-cache.js';
import { CONFIG_PREFIX } from './etcd-keys.js';
import { EtcdConfigState, type DocumentParser, type EtcdKv, type KvEvent } from './etcd-state.js';
import { EtcdConfigWriter } from './etcd-writer.js';
import { listIn, type FrozenSnapshot } from './snapshot.js';
import type { ConfigError, ConfigEvent, ConfigListener, ConfigStore } from './store.js';

export interface EtcdConfigStoreOptions {
  /** `http://host:port` each (etcd-keys.ts parseEtcdUrl). */
  endpoints: readonly string[];
  /** A client to share (registrations, election); default: one of its own, closed with the store. */
  client?: Etcd3;
  /** Key prefix (ends with `/`); default `/trellis/config/`. */
  prefix?: string;
  parse?: DocumentParser;
  /** Where the last state seen is kept across restarts; none: no cache. */
  stateDir?: string;
  logger?: Logger;
  /** Bound on every etcd call a write or a start makes; default 2000 ms. */
  timeoutMs?: number;
  now?: () => number;
}

const RETRY_MS = 500;

export class EtcdConfigStore implements ConfigStore {
  readonly client: Etcd3;
  readonly endpoints: readonly string[];
  readonly prefix: string;
  readonly timeoutMs: number;
  private readonly state: EtcdConfigState;
  private readonly cache: EtcdStateCache | undefined;
  private readonly logger: Logger;
  private readonly ownsClient: boolean;
  private readonly listeners = new Set<ConfigListener>();
  private waiters: { revision: number; resolve: () => void }[] = [];
  private watcher: Watcher | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private recovering: Promise<void> | undefined;
  private closed = false;
  private reachable = false;
  private servingCache: string | undefined;
  private writer: EtcdConfigWriter | undefined;

  constructor(private readonly options: EtcdConfigStoreOptions) {
    this.endpoints = options.endpoints;
    this.prefix = options.prefix ?? CONFIG_PREFIX;
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.ownsClient = options.client === undefined;
    this.client = options.client ?? createEtcdClient(options.endpoints);
    this.logger = options.logger ?? silentLogger;
    this.state = new EtcdConfigState(this.prefix, options.parse ?? parseAndValidate, options.now);
    this.cache = options.stateDir
      ? new EtcdStateCache(options.stateDir, this.prefix, (err) =>
          this.logger.warn('could not save the etcd state cache', { error: errorMessage(err) }),
        )
      : undefined;
  }

  get revision(): number {
    return this.state.revision;
  }

  /** Whether etcd answered the last time this store asked (false while it is unreachable). */
  get connected(): boolean {
    return this.reachable;
  }

  snapshot(): FrozenSnapshot {
    return this.state.snapshot();
  }

  get(kind: string, namespace: string, name: string): Resource | undefined {
    return this.state.snapshot().get(kind, namespace, name);
  }

  list(kind: string, namespace?: string): readonly Resource[] {
    return listIn(this.state.snapshot(), kind, namespace);
  }

  watch(listener: ConfigListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  errors(): readonly ConfigError[] {
    const errors: ConfigError[] = this.state.errors();
    if (!this.reachable)
      errors.push({
        source: { api: `etcd ${describeEndpoints(this.endpoints)}` },
        problems: [
          {
            severity: 'error',
            path: '',
            message:
              `etcd is unreachable: serving revision ${this.revision}` +
              `${this.servingCache ? ` from ${this.servingCache}` : ''}; writes are refused until it returns`,
          },
        ],
        at: this.options.now?.() ?? Date.now(),
        servingLastGood: true,
      });
    return errors;
  }

  /** The mod revision of an etcd key as this store last saw it (0: absent). */
  modRevisionOf(key: string): number {
    return this.state.modRevisionOf(key);
  }

  /** The writer for this store (config-writer.ts finds it through this method). */
  configWriter(): EtcdConfigWriter {
    return (this.writer ??= new EtcdConfigWriter(this));
  }

  /** TRELLIS_STORE_UNAVAILABLE for this store's endpoints and revision. */
  unavailable(cause?: unknown): TrellisError {
    return storeUnavailable(this.endpoints, this.revision, cause);
  }

  /**
   * Reads the prefix and starts watching. When etcd does not answer within the timeout, serves
   * the cached state (if any) and keeps trying in the background; resolves either way.
   */
  async start(): Promise<void> {
    try {
      await this.relist();
      await this.startWatch();
    } catch (err) {
      this.logger.warn('etcd is unreachable at start; retrying', {
        etcd: describeEndpoints(this.endpoints),
        error: errorMessage(err),
      });
      await this.loadCache();
      this.recover();
    }
  }

  /** Resolves once this store has applied `revision` (a write's), or rejects after the timeout. */
  async waitForRevision(revision: number): Promise<void> {
    if (this.state.revision >= revision) return;
    let resolveIt!: () => void;
    const reached = new Promise<void>((resolve) => (resolveIt = resolve));
    const waiter = { revision, resolve: resolveIt };
    this.waiters.push(waiter);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>(
      (resolve) => (timer = setTimeout(() => resolve('late'), this.timeoutMs)),
    );
    const outcome = await Promise.race([reached.then(() => 'ok' as const), late]);
    clearTimeout(timer);
    if (outcome === 'ok') return;
    this.waiters = this.waiters.filter((w) => w !== waiter);
    // The watch lags (or is reconnecting): read the state directly.
    await withDeadline(
      () => this.relist(),
      this.timeoutMs,
      (c) => this.unavailable(c),
    );
  }

  /** Stops watching and retrying; closes the client when it is the store's own. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const watcher = this.watcher;
    this.watcher = undefined;
    // The store's own client: closing it ends the watch. Cancelling first would race etcd3 1.1.2,
    // which rejects unhandled ("Failed to find watcher") on events still arriving for it.
    if (this.ownsClient) {
      closeEtcdClient(this.client);
      return;
    }
    // A shared client stays open: cancel, bounded (etcd3's cancel() waits for etcd's answer).
    if (watcher)
      await Promise.race([
        watcher.cancel().catch(() => undefined),
        new Promise((resolve) => setTimeout(resolve, 1000).unref()),
      ]);
  }

  /** Resolves once the last state is saved to disk (tests, shutdown). */
  async flushed(): Promise<void> {
    await this.cache?.flushed();
  }

  private async relist(): Promise<void> {
    const res = await withDeadline(
      () => this.client.getAll().prefix(this.prefix).exec(),
      this.timeoutMs,
      (c) => this.unavailable(c),
    );
    // A listing replaces a cached state even when etcd's revision is lower (a new etcd).
    const force = this.servingCache !== undefined;
    this.markReachable();
    const revision = Number(res.header.revision);
    this.emit(this.state.replaceAll(revision, res.kvs.map(toKv), force));
  }

  private async startWatch(): Promise<void> {
    const watcher = await withDeadline(
      () =>
        this.client
          .watch()
          .prefix(this.prefix)
          .startRevision(String(this.state.revision + 1))
          .withPreviousKV()
          .create(),
      this.timeoutMs,
      (c) => this.unavailable(c),
    );
    if (this.closed) {
      // Not awaited: etcd3's cancel() waits for etcd's answer, which may never come.
      watcher.cancel().catch(() => undefined);
      return;
    }
    this.watcher = watcher;
    watcher.on('data', (res) => this.onWatch(res));
    watcher.on('disconnected', (err: unknown) => {
      if (this.reachable)
        this.logger.warn('lost the etcd watch; serving the last state and reconnecting', {
          etcd: describeEndpoints(this.endpoints),
          revision: this.revision,
          error: errorMessage(err),
        });
      this.reachable = false;
    });
    watcher.on('connected', () => {
      if (!this.reachable)
        this.logger.info('etcd watch resumed', {
          etcd: describeEndpoints(this.endpoints),
          from: this.revision + 1,
        });
      this.markReachable();
    });
    // Cancelled by etcd: the history from our revision was compacted. List again.
    watcher.on('error', (err: unknown) => {
      this.logger.warn('the etcd watch was cancelled; listing again', { error: errorMessage(err) });
      if (this.watcher === watcher) this.watcher = undefined;
      // etcd cancelled this watch itself (compacted history) and etcd3 has dropped it: cancelling
      // again would send etcd a cancel for an unknown id, whose answer etcd3 1.1.2 rejects
      // unhandled ("Failed to find watcher"), which would end the control plane's process.
      this.recover();
    });
  }

  /** Lists and watches again until etcd answers (one attempt at a time). */
  private recover(): void {
    if (this.closed || this.recovering) return;
    this.recovering = (async () => {
      try {
        await this.relist();
        await this.startWatch();
      } catch (err) {
        this.reachable = false;
        this.logger.debug('etcd still unreachable', { error: errorMessage(err) });
        clearTimeout(this.retryTimer);
        if (!this.closed) this.retryTimer = setTimeout(() => this.recover(), RETRY_MS);
      } finally {
        this.recovering = undefined;
      }
    })();
  }

  private onWatch(res: IWatchResponse): void {
    this.markReachable();
    const events = (res as IWatchResponse & { events?: { type: string; kv: IKeyValue }[] }).events ?? [];
    const byRevision = new Map<number, KvEvent[]>();
    for (const e of events) {
      const revision = Number(e.kv.mod_revision);
      let list = byRevision.get(revision);
      if (!list) byRevision.set(revision, (list = []));
      list.push(
        e.type === 'Delete'
          ? { type: 'delete', key: e.kv.key.toString(), revision }
          : { type: 'put', kv: toKv(e.kv) },
      );
    }
    for (const revision of [...byRevision.keys()].sort((a, b) => a - b))
      this.emit(this.state.applyRevision(revision, byRevision.get(revision) as KvEvent[]));
    this.release();
  }

  private markReachable(): void {
    this.reachable = true;
    if (this.servingCache) {
      this.logger.info('etcd answers again; serving its state', { revision: this.revision });
      this.servingCache = undefined;
    }
  }

  private async loadCache(): Promise<void> {
    const loaded = await this.cache?.load();
    if (!loaded) return;
    if (!loaded.ok) {
      this.logger.warn('ignoring the etcd state cache', { file: loaded.path, reason: loaded.reason });
      return;
    }
    if (this.state.revision > 0) return;
    this.servingCache = loaded.state.path;
    this.logger.warn('serving the last etcd state saved on disk until etcd answers', {
      file: loaded.state.path,
      revision: loaded.state.revision,
      savedAt: loaded.state.savedAt,
    });
    this.emit(this.state.replaceAll(loaded.state.revision, loaded.state.kvs), false);
  }

  private emit(event: ConfigEvent | undefined, save = true): void {
    if (save) this.cache?.save(this.state.revision, this.state.rawValues());
    if (event) for (const l of this.listeners) l(event);
    this.release();
  }

  private release(): void {
    const rev = this.state.revision;
    const ready = this.waiters.filter((w) => w.revision <= rev);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.revision > rev);
    for (const w of ready) w.resolve();
  }
}

function toKv(kv: IKeyValue): EtcdKv {
  return { key: kv.key.toString(), value: kv.value.toString(), modRevision: Number(kv.mod_revision) };
}
