/**
 * Counters in Redis (one server or a Redis Cluster), shared by every service replica.
 *
 * - Token bucket: Lua (./redis-scripts.ts, registered with defineCommand: EVALSHA, falling
 *   back to EVAL after a Redis restart empties the script cache), timed by Redis's own TIME so
 *   replicas on different hosts agree.
 * - Fixed window: INCRBY + PEXPIRE, as envoyproxy/ratelimit does (inside the batch script on
 *   one server; as two pipelined commands on a cluster).
 * - Batching: on one Redis server, every check of every request that arrives in the same
 *   event-loop turn goes to Redis as ONE script call (BATCH_LUA), so concurrent requests share
 *   a round trip and its per-command cost. A Redis Cluster cannot run one script over keys in
 *   different slots, so there each counter is its own command and ioredis auto-pipelining
 *   groups the commands of a turn per node (fixed window: INCRBY + PEXPIRE).
 * - The over-limit cache answers hot rejected keys locally.
 * - No offline queue and a command timeout: when Redis is down, calls fail at once and the
 *   service applies its failure mode; ioredis keeps reconnecting in the background.
 */
import { Cluster, Redis } from 'ioredis';
import { systemClock, type Clock } from '../../core/clock.js';
import { errorMessage } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import type { LimitDecision } from '../algorithm/decision.js';
import { NEAR_LIMIT_RATIO, blockedDecision } from '../algorithm/decision.js';
import { windowDecision, windowStart } from '../algorithm/fixed-window.js';
import { storageKey, type CounterCheck, type RateLimitBackend } from './backend.js';
import { OverLimitCache } from './over-limit-cache.js';
import { BATCH_LUA, TOKEN_BUCKET_LUA, type ScriptReply, type TrellisScripts } from './redis-scripts.js';

/** Most counters sent in one script call; a bigger turn is split. */
const MAX_BATCH = 256;

interface Pending {
  key: string;
  check: CounterCheck;
  now: number;
  wall: number;
  resolve: (d: LimitDecision) => void;
  reject: (err: unknown) => void;
}

export type RedisClient = Redis | Cluster;

export interface RedisTarget {
  /** redis://[:password@]host:port[/db] */
  url?: string;
  /** Cluster seed nodes, `host:port`. */
  clusterNodes?: string[];
}

export interface RedisBackendOptions extends RedisTarget {
  clock?: Clock;
  logger?: Logger;
  /** Fail a command that gets no answer in this time (default 1000 ms). */
  commandTimeoutMs?: number;
  /** Prefix for every key, so several meshes can share one Redis. */
  keyPrefix?: string;
  /** Local over-limit cache size; 0 disables it. */
  overLimitCacheKeys?: number;
}

function parseNode(text: string): { host: string; port: number } {
  const i = text.lastIndexOf(':');
  return i === -1
    ? { host: text, port: 6379 }
    : { host: text.slice(0, i) || '127.0.0.1', port: Number(text.slice(i + 1)) };
}

export function createRedisClient(target: RedisTarget, commandTimeoutMs: number): RedisClient {
  const cluster = !!target.clusterNodes?.length;
  const common = {
    enableOfflineQueue: false,
    // One server gets our own batches; auto-pipelining would only add a Pipeline per turn.
    enableAutoPipelining: cluster,
  };
  const perConnection = {
    commandTimeout: commandTimeoutMs,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: 2000,
  };
  const retryStrategy = (times: number) => Math.min(50 * times, 1000);
  if (cluster) {
    return new Cluster((target.clusterNodes ?? []).map(parseNode), {
      ...common,
      clusterRetryStrategy: retryStrategy,
      redisOptions: perConnection,
    });
  }
  return new Redis(target.url ?? 'redis://127.0.0.1:6379', {
    ...common,
    ...perConnection,
    retryStrategy,
  });
}

export class RedisBackend implements RateLimitBackend {
  readonly kind = 'redis';
  private readonly client: RedisClient;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly prefix: string;
  private readonly cache: OverLimitCache | undefined;
  private readonly listeners: ((up: boolean) => void)[] = [];
  private readonly batching: boolean;
  private pending: Pending[] = [];
  private flushScheduled = false;
  private up = false;
  private closed = false;

  constructor(options: RedisBackendOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.prefix = options.keyPrefix ?? 'trellis-rl:';
    const cacheKeys = options.overLimitCacheKeys ?? 100_000;
    this.cache = cacheKeys > 0 ? new OverLimitCache(cacheKeys) : undefined;
    this.client = createRedisClient(options, options.commandTimeoutMs ?? 1000);
    this.batching = !options.clusterNodes?.length;
    this.client.defineCommand('trellisTokenBucket', { numberOfKeys: 1, lua: TOKEN_BUCKET_LUA });
    this.client.defineCommand('trellisBatch', { lua: BATCH_LUA });
    const where = options.clusterNodes?.length
      ? `cluster ${options.clusterNodes.join(',')}`
      : (options.url ?? 'redis://127.0.0.1:6379');
    this.client.on('ready', () => this.setUp(true, where));
    this.client.on('close', () => this.setUp(false, where));
    this.client.on('end', () => this.setUp(false, where));
    // Without a listener ioredis would crash the process on a connection error.
    this.client.on('error', (err: unknown) => {
      if (this.up) this.logger.warn('redis error', { error: errorMessage(err) });
    });
  }

  /** Resolves once Redis answers, or after `timeoutMs` (the service runs degraded meanwhile). */
  async waitUntilReady(timeoutMs: number): Promise<boolean> {
    if (this.up) return true;
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => resolve(this.up), timeoutMs);
      this.onStatusChange((up) => {
        if (up) {
          timer.cancel();
          resolve(true);
        }
      });
    });
  }

  async check(checks: readonly CounterCheck[]): Promise<LimitDecision[]> {
    const now = this.clock.now();
    const wall = this.clock.wallNow();
    return Promise.all(checks.map((c) => this.checkOne(c, now, wall)));
  }

  isUp(): boolean {
    return this.up;
  }

  onStatusChange(listener: (up: boolean) => void): void {
    this.listeners.push(listener);
  }

  size(): number {
    return this.cache?.size ?? 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cache?.clear();
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  private async checkOne(c: CounterCheck, now: number, wall: number): Promise<LimitDecision> {
    const limit = c.limit;
    if (limit.requestsPerUnit === 0 || limit.burst === 0) return blockedDecision(limit.unitMs);
    const fixed = limit.algorithm === 'fixed_window';
    const key = this.prefix + storageKey(c, fixed ? windowStart(wall, limit.unitMs) : undefined);
    const cached = this.cache?.remainingMs(key, now) ?? 0;
    if (cached > 0) return { overLimit: true, remaining: 0, resetMs: cached, nearLimit: false };
    if (this.batching) {
      return new Promise((resolve, reject) => {
        this.pending.push({ key, check: c, now, wall, resolve, reject });
        if (!this.flushScheduled) {
          this.flushScheduled = true;
          // setImmediate runs after the I/O callbacks of this turn: every request read in it joins.
          setImmediate(() => this.flush());
        }
      });
    }
    const scripts = this.client as unknown as TrellisScripts;
    if (fixed) {
      const [count] = await Promise.all([
        this.client.incrby(key, c.hits),
        this.client.pexpire(key, fixedWindowTtl(c, wall)),
      ]);
      return this.decided(key, c, now, wall, [count, '', 0]);
    }
    const reply = await scripts.trellisTokenBucket(key, limit.burst, perMsText(c), c.hits);
    return this.decided(key, c, now, wall, reply);
  }

  private flush(): void {
    this.flushScheduled = false;
    const all = this.pending;
    this.pending = [];
    for (let i = 0; i < all.length; i += MAX_BATCH) void this.sendBatch(all.slice(i, i + MAX_BATCH));
  }

  private async sendBatch(batch: Pending[]): Promise<void> {
    const keys: string[] = [];
    const args: (string | number)[] = [];
    for (const p of batch) {
      keys.push(p.key);
      if (p.check.limit.algorithm === 'fixed_window')
        args.push('w', fixedWindowTtl(p.check, p.wall), 0, p.check.hits);
      else args.push('t', p.check.limit.burst, perMsText(p.check), p.check.hits);
    }
    let reply: (number | string)[];
    try {
      reply = await (this.client as unknown as TrellisScripts).trellisBatch(keys.length, ...keys, ...args);
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    batch.forEach((p, i) => {
      const r = [reply[3 * i], reply[3 * i + 1], reply[3 * i + 2]] as ScriptReply;
      p.resolve(this.decided(p.key, p.check, p.now, p.wall, r));
    });
  }

  /** Turns a script reply into a decision, remembering keys that are over their limit. */
  private decided(
    key: string,
    c: CounterCheck,
    now: number,
    wall: number,
    reply: ScriptReply,
  ): LimitDecision {
    const limit = c.limit;
    if (limit.algorithm === 'fixed_window') {
      const d = windowDecision(limit, Number(reply[0]), wall);
      if (d.overLimit) this.cache?.add(key, now + d.resetMs);
      return d;
    }
    const [allowed, tokensText, resetMs] = reply;
    const tokens = Number(tokensText);
    if (Number(allowed) === 1) {
      return {
        overLimit: false,
        remaining: Math.floor(tokens),
        resetMs: Number(resetMs),
        nearLimit: limit.burst - tokens > Math.floor(limit.burst * NEAR_LIMIT_RATIO),
      };
    }
    // Cache only until a single token is back: a cheaper request may pass before this one could.
    if (tokens < 1) {
      this.cache?.add(key, now + Math.ceil((1 - tokens) / (limit.requestsPerUnit / limit.unitMs)));
    }
    return { overLimit: true, remaining: Math.floor(tokens), resetMs: Number(resetMs), nearLimit: false };
  }

  private setUp(up: boolean, where: string): void {
    if (up === this.up) return;
    this.up = up;
    if (up) this.logger.info('redis connected', { redis: where });
    else if (!this.closed) this.logger.warn('redis unreachable; applying failure mode', { redis: where });
    for (const l of this.listeners) l(up);
  }
}

/** Window keys outlive their window a little, so a replica with a slow clock still finds them. */
function fixedWindowTtl(c: CounterCheck, wall: number): number {
  return windowStart(wall, c.limit.unitMs) + c.limit.unitMs - wall + 1000;
}

/** Refill rate as text with full precision (Lua parses it with tonumber). */
function perMsText(c: CounterCheck): string {
  return String(c.limit.requestsPerUnit / c.limit.unitMs);
}
