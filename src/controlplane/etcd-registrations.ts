/**
 * Registrations shared by every control-plane replica through etcd (`--store etcd://...`).
 *
 * A registration is the key `/trellis/registrations/<id>` (layout: config/etcd-keys.ts) under an
 * etcd lease with the registration's TTL; a heartbeat through any replica refreshes the lease;
 * expiry is etcd deleting the key when the lease runs out, which every replica sees by watch and
 * applies to its service index (so EDS follows on every replica). A deregistration deletes the
 * key and writes a marker in the same transaction, so replicas tell it from an expiry. An
 * expiry is reported (log line, `trellis_registration_expiries_total`) by exactly one replica:
 * each tries to create `/trellis/registrations-expired/<id>/<revision>` and only the one that
 * creates it reports.
 *
 * Without etcd the in-memory RegistrationSource (registry/service-index.ts) is used unchanged.
 */
import type { Etcd3, IKeyValue, IWatchResponse, Watcher } from 'etcd3';
import { fqdn } from '../api/hosts.js';
import { TrellisError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';
import type { MetricsRegistry } from '../core/metrics.js';
import { storeUnavailable, withDeadline } from '../config/etcd-client.js';
import {
  DEREGISTERED_PREFIX,
  EXPIRED_PREFIX,
  REGISTRATION_PREFIX,
  REGISTRATION_WATCH_PREFIX,
} from '../config/etcd-keys.js';
import {
  registrationContribution,
  registrationId,
  validateRegistration,
  type RegisteredInstance,
  type Registration,
  type ServiceIndex,
  type ValidRegistration,
} from '../registry/service-index.js';
import type { RegistrationApi } from './api-views.js';

export interface EtcdRegistrationsOptions {
  client: Etcd3;
  endpoints: readonly string[];
  index: ServiceIndex;
  logger?: Logger;
  metrics?: MetricsRegistry;
  domainSuffix?: string;
  /** Bound on each etcd call; default 2000 ms. */
  timeoutMs?: number;
  now?: () => number;
}

interface Stored {
  reg: ValidRegistration;
  hostname: string;
  registeredAt: number;
}

interface Known extends Stored {
  lease: string;
  lastHeartbeat: number;
}

/** Markers and expiry claims vanish on their own after this long. */
const MARKER_TTL_SECONDS = 300;
const RETRY_MS = 500;

const regKey = (id: string) => `${REGISTRATION_PREFIX}${encodeURIComponent(id)}`;

export class EtcdRegistrations implements RegistrationApi {
  private readonly instances = new Map<string, Known>();
  private readonly logger: Logger;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private readonly expiries;
  private watcher: Watcher | undefined;
  private revision = 0;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  private recovering = false;
  private waiters: { revision: number; resolve: () => void }[] = [];

  constructor(private readonly options: EtcdRegistrationsOptions) {
    this.logger = options.logger ?? silentLogger;
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.now = options.now ?? Date.now;
    this.expiries = options.metrics?.counter(
      'trellis_registration_expiries_total',
      'Registrations that expired (no heartbeat within their TTL), counted by the one replica that reports each',
    );
  }

  private get client(): Etcd3 {
    return this.options.client;
  }

  /** Lists the registrations and watches them; keeps retrying in the background if etcd is down. */
  async start(): Promise<void> {
    try {
      await this.resync();
    } catch (err) {
      this.logger.warn('etcd is unreachable; registrations will be read when it answers', {
        error: errorMessage(err),
      });
      this.recover();
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    this.watcher?.cancel().catch(() => undefined);
  }

  async register(input: Registration): Promise<string> {
    const reg = validateRegistration(input);
    const hostname = fqdn(reg.service, reg.namespace, this.options.domainSuffix);
    const id = registrationId(reg, hostname);
    const stored: Stored = { reg, hostname, registeredAt: this.now() };
    const revision = await this.bounded(async () => {
      const previous = (await this.client.kv.range({ key: Buffer.from(regKey(id)) })).kvs[0];
      const lease = await this.client.leaseClient.leaseGrant({ TTL: Math.max(1, Math.ceil(reg.ttlSeconds)) });
      const res = await this.client.kv.put({
        key: Buffer.from(regKey(id)),
        value: Buffer.from(JSON.stringify(stored)),
        lease: lease.ID,
      });
      // Re-registering moves the key to a new lease; the old one holds nothing any more.
      if (previous && previous.lease !== '0' && previous.lease !== lease.ID)
        await this.client.leaseClient.leaseRevoke({ ID: previous.lease }).catch(() => undefined);
      return Number(res.header.revision);
    });
    await this.waitFor(revision);
    this.logger.info('instance registered', { id, service: hostname, address: reg.address });
    return id;
  }

  async heartbeat(id: string): Promise<void> {
    const gone = () =>
      new TrellisError(
        'TRELLIS_NOT_FOUND',
        `no registered instance ${JSON.stringify(id)} (expired or never registered): register it again`,
      );
    await this.bounded(async () => {
      const kv = (await this.client.kv.range({ key: Buffer.from(regKey(id)) })).kvs[0];
      if (!kv || kv.lease === '0') throw gone();
      const stream = await this.client.leaseClient.leaseKeepAlive();
      try {
        const res = await new Promise<{ TTL: string }>((resolve, reject) => {
          stream.on('data', resolve);
          stream.on('error', reject);
          stream.write({ ID: kv.lease });
        });
        if (Number(res.TTL) <= 0) throw gone();
      } finally {
        stream.end();
      }
    });
    const known = this.instances.get(id);
    if (known) known.lastHeartbeat = this.now();
  }

  async deregister(id: string): Promise<boolean> {
    const result = await this.bounded(async () => {
      const kv = (await this.client.kv.range({ key: Buffer.from(regKey(id)) })).kvs[0];
      if (!kv) return undefined;
      const marker = await this.client.leaseClient.leaseGrant({ TTL: MARKER_TTL_SECONDS });
      const res = await this.client.kv.txn({
        compare: [
          { key: Buffer.from(regKey(id)), target: 'Mod', result: 'Equal', mod_revision: kv.mod_revision },
        ],
        success: [
          { request_delete_range: { key: Buffer.from(regKey(id)) } },
          {
            request_put: {
              key: Buffer.from(`${DEREGISTERED_PREFIX}${encodeURIComponent(id)}`),
              value: Buffer.from(''),
              lease: marker.ID,
            },
          },
        ],
        failure: [],
      });
      if (!res.succeeded) return undefined;
      if (kv.lease !== '0')
        await this.client.leaseClient.leaseRevoke({ ID: kv.lease }).catch(() => undefined);
      return Number(res.header.revision);
    });
    if (result === undefined) return false;
    await this.waitFor(result);
    this.logger.info('instance deregistered', { id });
    return true;
  }

  list(): RegisteredInstance[] {
    const now = this.now();
    return [...this.instances].map(([id, i]) => ({
      id,
      hostname: i.hostname,
      address: i.reg.address,
      ports: i.reg.ports,
      labels: i.reg.labels ?? {},
      ttlSeconds: i.reg.ttlSeconds,
      // Heartbeats through other replicas are not seen here: this is an upper bound.
      sinceHeartbeatMs: now - i.lastHeartbeat,
    }));
  }

  private bounded<T>(fn: () => Promise<T>): Promise<T> {
    return withDeadline(fn, this.timeoutMs, (cause) =>
      storeUnavailable(this.options.endpoints, this.revision, cause),
    );
  }

  private async waitFor(revision: number): Promise<void> {
    if (this.revision >= revision) return;
    await new Promise<void>((resolve) => {
      const waiter = { revision, resolve };
      this.waiters.push(waiter);
      // The watch lags: read the state directly rather than answer late.
      setTimeout(() => {
        if (!this.waiters.includes(waiter)) return;
        this.waiters = this.waiters.filter((w) => w !== waiter);
        this.resync().then(resolve, () => resolve());
      }, this.timeoutMs).unref();
    });
  }

  /** Lists every registration, publishes them and watches from the listing's revision. */
  private async resync(): Promise<void> {
    const res = await withDeadline(
      () => this.client.getAll().prefix(REGISTRATION_PREFIX).exec(),
      this.timeoutMs,
      (c) => storeUnavailable(this.options.endpoints, this.revision, c),
    );
    const listed = new Map<string, Known>();
    for (const kv of res.kvs) {
      const parsed = this.decode(kv);
      if (parsed)
        listed.set(parsed.id, {
          ...parsed.stored,
          lease: kv.lease,
          lastHeartbeat: this.lastHeartbeatOf(parsed),
        });
    }
    this.instances.clear();
    for (const [id, k] of listed) this.instances.set(id, k);
    this.revision = Math.max(this.revision, Number(res.header.revision));
    this.publish();
    this.release();
    if (this.watcher) return;
    const watcher = await withDeadline(
      () =>
        this.client
          .watch()
          .prefix(REGISTRATION_WATCH_PREFIX)
          .startRevision(String(Number(res.header.revision) + 1))
          .withPreviousKV()
          .create(),
      this.timeoutMs,
      (c) => storeUnavailable(this.options.endpoints, this.revision, c),
    );
    if (this.closed) {
      // Not awaited: etcd3's cancel() waits for etcd's answer, which may never come.
      watcher.cancel().catch(() => undefined);
      return;
    }
    this.watcher = watcher;
    watcher.on('data', (r) => this.onWatch(r));
    watcher.on('error', (err: unknown) => {
      this.logger.warn('the registrations watch was cancelled; listing again', { error: errorMessage(err) });
      if (this.watcher === watcher) this.watcher = undefined;
      watcher.cancel().catch(() => undefined);
      this.recover();
    });
  }

  private lastHeartbeatOf(parsed: { id: string; stored: Stored }): number {
    return this.instances.get(parsed.id)?.lastHeartbeat ?? parsed.stored.registeredAt;
  }

  private recover(): void {
    if (this.closed || this.recovering) return;
    this.recovering = true;
    this.resync()
      .catch(() => {
        clearTimeout(this.retry);
        if (!this.closed) this.retry = setTimeout(() => this.recover(), RETRY_MS);
      })
      .finally(() => (this.recovering = false));
  }

  private onWatch(res: IWatchResponse): void {
    const events =
      (res as IWatchResponse & { events?: { type: string; kv: IKeyValue; prev_kv?: IKeyValue }[] }).events ??
      [];
    const byRevision = new Map<number, typeof events>();
    for (const e of events) {
      const rev = Number(e.kv.mod_revision);
      byRevision.set(rev, [...(byRevision.get(rev) ?? []), e]);
    }
    let changed = false;
    for (const rev of [...byRevision.keys()].sort((a, b) => a - b)) {
      const batch = byRevision.get(rev) ?? [];
      const deregistered = new Set(
        batch
          .filter((e) => e.type === 'Put' && e.kv.key.toString().startsWith(DEREGISTERED_PREFIX))
          .map((e) => decodeURIComponent(e.kv.key.toString().slice(DEREGISTERED_PREFIX.length))),
      );
      for (const e of batch) {
        const key = e.kv.key.toString();
        if (!key.startsWith(REGISTRATION_PREFIX)) continue;
        const id = decodeURIComponent(key.slice(REGISTRATION_PREFIX.length));
        if (e.type === 'Put') {
          const parsed = this.decode(e.kv);
          if (!parsed) continue;
          this.instances.set(id, {
            ...parsed.stored,
            lease: e.kv.lease,
            lastHeartbeat: this.lastHeartbeatOf(parsed),
          });
          changed = true;
        } else if (this.instances.delete(id)) {
          changed = true;
          if (!deregistered.has(id)) this.claimExpiry(id, rev, e.prev_kv);
        }
      }
      this.revision = Math.max(this.revision, rev);
    }
    this.revision = Math.max(this.revision, Number(res.header.revision));
    if (changed) this.publish();
    this.release();
  }

  /** Reports an expiry if this replica is the one that claims it. */
  private claimExpiry(id: string, revision: number, prev: IKeyValue | undefined): void {
    const claim = `${EXPIRED_PREFIX}${encodeURIComponent(id)}/${revision}`;
    void (async () => {
      const lease = await this.client.leaseClient.leaseGrant({ TTL: MARKER_TTL_SECONDS });
      const res = await this.client.kv.txn({
        compare: [{ key: Buffer.from(claim), target: 'Create', result: 'Equal', create_revision: '0' }],
        success: [{ request_put: { key: Buffer.from(claim), value: Buffer.from(''), lease: lease.ID } }],
        failure: [],
      });
      if (!res.succeeded) {
        await this.client.leaseClient.leaseRevoke({ ID: lease.ID }).catch(() => undefined);
        return;
      }
      const stored = prev ? this.decode(prev)?.stored : undefined;
      this.expiries?.inc({});
      this.logger.warn('instance expired: no heartbeat within its TTL', {
        id,
        ...(stored ? { ttlSeconds: stored.reg.ttlSeconds } : {}),
        revision,
      });
    })().catch((err: unknown) =>
      this.logger.debug('could not claim a registration expiry (another replica reports it)', {
        id,
        error: errorMessage(err),
      }),
    );
  }

  private decode(kv: IKeyValue): { id: string; stored: Stored } | undefined {
    const key = kv.key.toString();
    const id = decodeURIComponent(key.slice(REGISTRATION_PREFIX.length));
    try {
      const value = JSON.parse(kv.value.toString()) as Stored;
      const reg = validateRegistration(value.reg);
      return {
        id,
        stored: { reg, hostname: String(value.hostname), registeredAt: Number(value.registeredAt) || 0 },
      };
    } catch (err) {
      this.logger.warn('ignoring an unreadable registration in etcd', { key, error: errorMessage(err) });
      return undefined;
    }
  }

  private publish(): void {
    this.options.index.setSource('registration', registrationContribution([...this.instances.values()]));
  }

  private release(): void {
    const ready = this.waiters.filter((w) => w.revision <= this.revision);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.revision > this.revision);
    for (const w of ready) w.resolve();
  }
}
