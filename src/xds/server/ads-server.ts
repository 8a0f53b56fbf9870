import * as grpc from '@grpc/grpc-js';
import type { Clock } from '../../core/clock.js';
import { systemClock } from '../../core/clock.js';
import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { silentLogger } from '../../core/logger.js';
import { MetricsRegistry, MS_BUCKETS, type Counter, type Gauge, type Histogram } from '../../core/metrics.js';
import { adsService } from '../../protocol/grpc-services.js';
import { RESOURCE_TYPES, SHORT_TYPE, TYPE, type ResourceTypeUrl } from '../../protocol/protos.js';
import type { ProxyNode } from '../proxy-node.js';
import { parseNode, type NodeMessage } from '../node.js';
import { typeState, type Connection, type TypeState } from './connection.js';
import { PushQueue } from './push-queue.js';
import { encodeSet, resourceVersion, sameSet, type EncodedSet } from './resource-encoding.js';
import { encodeDiscoveryResponse, encodeResourceList } from './wire.js';
import { connectionConfigDump, connectionStatus, type ProxyStatus } from './status.js';

export type { ProxyStatus } from './status.js';

/**
 * The ADS server: state-of-the-world and delta streams over one gRPC service. It knows type
 * URLs, streams and versions, never the user's resources: a Translator turns an immutable push
 * context into resources per proxy. See ARCHITECTURE.md for the grpc-js-xds quirks honoured here
 * (stale nonces ignored unless the subscription changed; LDS/CDS responses always complete).
 */
export interface PushContextLike {
  readonly version: string;
}

export interface Translator<P extends PushContextLike> {
  generate(
    push: P,
    proxy: ProxyNode,
    typeUrl: ResourceTypeUrl,
    requestedNames?: readonly string[],
  ): ReadonlyMap<string, object>;
  affectedTypes(prev: P, next: P, proxy: ProxyNode): ReadonlySet<ResourceTypeUrl>;
}

export interface AdsServerOptions<P extends PushContextLike> {
  translator: Translator<P>;
  initial: P;
  clock?: Clock;
  logger?: Logger;
  metrics?: MetricsRegistry;
  /** Pushes in flight at once (flow control across proxies). */
  concurrency?: number;
}

/** How long close() lets streams end on their own before it cuts them. */
const CLOSE_GRACE_MS = 1000;

/** Types whose SotW responses must list every subscribed resource; also wildcard-capable. */
const WILDCARD_TYPES = new Set<string>([TYPE.listener, TYPE.cluster]);
/**
 * Envoy's make-before-break order (xDS protocol, "eventual consistency considerations"): clusters
 * and their endpoints before the listeners and routes that may name them. Removals go the other
 * way: a push that changes clusters and also listeners or routes first sends the clusters with
 * the removed ones still in, then the listeners and routes that stop naming them, and only then
 * the clusters without them (see `worker`).
 */
const PUSH_ORDER: readonly string[] = [TYPE.cluster, TYPE.endpoint, TYPE.listener, TYPE.route, TYPE.secret];

interface SotwRequest {
  version_info?: string;
  node?: NodeMessage;
  resource_names?: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string } | null;
}

interface DeltaRequest {
  node?: NodeMessage;
  type_url?: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string } | null;
}

type AnyStream = grpc.ServerDuplexStream<object, object>;

export class AdsServer<P extends PushContextLike> {
  private push: P;
  private readonly connections = new Map<string, Connection>();
  private readonly queue = new PushQueue();
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly translator: Translator<P>;
  private server: grpc.Server | undefined;
  private nonceSeq = 0;
  private streamSeq = 0;
  private closed = false;
  private readonly workers: Promise<void>[] = [];
  readonly metrics: MetricsRegistry;
  private readonly m: {
    pushes: Counter;
    rejects: Counter;
    connected: Gauge;
    convergence: Histogram;
    errors: Counter;
    sentBytes: Counter;
  };

  constructor(options: AdsServerOptions<P>) {
    this.translator = options.translator;
    this.push = options.initial;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.metrics = options.metrics ?? new MetricsRegistry();
    // Istio's pilot metric names, so existing dashboards work.
    this.m = {
      pushes: this.metrics.counter('pilot_xds_pushes', 'xDS responses sent, by type', ['type']),
      rejects: this.metrics.counter('pilot_total_xds_rejects', 'xDS responses rejected (NACKed) by proxies', [
        'type',
      ]),
      connected: this.metrics.gauge('pilot_xds', 'Connected xDS streams', ['version']),
      convergence: this.metrics.histogram(
        'pilot_proxy_convergence_time_milliseconds',
        'Time from a config or endpoint change to the push that carries it',
        [],
        MS_BUCKETS,
      ),
      errors: this.metrics.counter(
        'pilot_total_xds_internal_errors',
        'Resources that failed to generate or encode',
        ['type'],
      ),
      sentBytes: this.metrics.counter('pilot_xds_send_bytes_total', 'Bytes of resources sent', ['type']),
    };
    this.m.connected.set({ version: 'trellis' }, 0);
    const concurrency = Math.max(1, options.concurrency ?? 32);
    for (let i = 0; i < concurrency; i++) this.workers.push(this.worker());
  }

  get current(): P {
    return this.push;
  }

  /** Starts serving on `host:port` (port 0 picks one); resolves to the bound port. */
  async listen(host: string, port: number): Promise<number> {
    const server = new grpc.Server({
      'grpc.max_send_message_length': 256 * 1024 * 1024,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.keepalive_time_ms': 30_000,
    });
    server.addService(adsService(), {
      StreamAggregatedResources: (stream: AnyStream) => this.serveSotw(stream),
      DeltaAggregatedResources: (stream: AnyStream) => this.serveDelta(stream),
    });
    const bound = await new Promise<number>((resolve, reject) => {
      server.bindAsync(
        `${host.includes(':') ? `[${host}]` : host}:${port}`,
        grpc.ServerCredentials.createInsecure(),
        (err, p) => (err ? reject(err) : resolve(p)),
      );
    });
    this.server = server;
    return bound;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.queue.wake();
    for (const c of this.connections.values()) c.close();
    const server = this.server;
    if (server) {
      await new Promise<void>((resolve) => {
        // Streams that do not end on their own are cut after a grace period. grpc-js does not
        // promise tryShutdown's callback after forceShutdown (a session already closing may
        // never report back), so the grace period ends the wait by itself.
        const t = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, CLOSE_GRACE_MS);
        server.tryShutdown(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    // Every connection is closed by now, which settles any send a worker was waiting on.
    await Promise.all(this.workers);
  }

  /**
   * Publishes a new push context. Each connected proxy gets a push only for the types the
   * translator says may differ for it; `since` is when the change happened (for metrics).
   */
  update(next: P, since = this.clock.now()): void {
    const prev = this.push;
    this.push = next;
    for (const c of this.connections.values()) {
      let affected: ReadonlySet<string>;
      try {
        affected = this.translator.affectedTypes(prev, next, c.proxy);
      } catch (err) {
        this.logger.error('affectedTypes failed; pushing everything', {
          proxy: c.proxy.id,
          error: errorMessage(err),
        });
        affected = new Set(RESOURCE_TYPES);
      }
      const types = [...affected].filter((t) => c.types.get(t)?.subscribed);
      if (types.length) this.queue.enqueue(c.key, types, since);
    }
  }

  status(): ProxyStatus[] {
    return [...this.connections.values()].map((c) => connectionStatus(c, this.push.version));
  }

  /** What a proxy was last sent, in Envoy's config_dump shape (proto3 JSON). */
  configDump(proxyId: string): object | undefined {
    const conns = [...this.connections.values()].filter((c) => c.proxy.id === proxyId);
    const c = conns[conns.length - 1];
    return c ? connectionConfigDump(c) : undefined;
  }

  // --- streams ---------------------------------------------------------------------------------

  private openConnection(
    stream: AnyStream,
    mode: 'sotw' | 'delta',
    node: NodeMessage | undefined,
  ): Connection {
    const proxy = parseNode(node);
    const key = `${proxy.id}-${++this.streamSeq}`;
    let ended = false;
    // Sends waiting for the transport; settled when the stream ends however it ends, so a
    // worker never waits on a stream that is gone (and close() never waits on a worker).
    const waiting = new Set<() => void>();
    const settleSends = () => {
      for (const resolve of [...waiting]) resolve();
    };
    const conn: Connection = {
      key,
      proxy,
      mode,
      connectedAt: this.clock.wallNow(),
      peer: stream.getPeer(),
      types: new Map(),
      // Resolves once the message is handed to the transport, so the push workers bound the
      // bytes in flight (one response per worker) instead of queueing a push for every proxy.
      send: async (message) => {
        if (ended) return;
        await new Promise<void>((resolve) => {
          const done = () => {
            waiting.delete(done);
            resolve();
          };
          waiting.add(done);
          stream.write(message, done);
        });
      },
      close: () => {
        if (!ended) {
          ended = true;
          stream.end();
        }
        settleSends();
      },
    };
    const drop = () => {
      ended = true;
      settleSends();
      if (this.connections.delete(key)) {
        this.queue.remove(key);
        this.m.connected.inc({ version: 'trellis' }, -1);
        this.logger.info('proxy disconnected', { proxy: proxy.id, mode });
      }
    };
    stream.on('close', drop);
    stream.on('error', drop);
    stream.on('cancelled', drop);
    this.connections.set(key, conn);
    this.m.connected.inc({ version: 'trellis' });
    this.logger.info('proxy connected', {
      proxy: proxy.id,
      type: proxy.type,
      namespace: proxy.namespace,
      mode,
      peer: conn.peer,
    });
    return conn;
  }

  private serveSotw(stream: AnyStream): void {
    let conn: Connection | undefined;
    stream.on('data', (req: SotwRequest) => {
      if (this.closed) return;
      conn ??= this.openConnection(stream, 'sotw', req.node);
      try {
        this.onSotwRequest(conn, req);
      } catch (err) {
        this.logger.error('bad discovery request', { proxy: conn.proxy.id, error: errorMessage(err) });
      }
    });
    stream.on('end', () => stream.end());
  }

  private serveDelta(stream: AnyStream): void {
    let conn: Connection | undefined;
    stream.on('data', (req: DeltaRequest) => {
      if (this.closed) return;
      conn ??= this.openConnection(stream, 'delta', req.node);
      try {
        this.onDeltaRequest(conn, req);
      } catch (err) {
        this.logger.error('bad delta discovery request', { proxy: conn.proxy.id, error: errorMessage(err) });
      }
    });
    stream.on('end', () => stream.end());
  }

  private onSotwRequest(conn: Connection, req: SotwRequest): void {
    const typeUrl = req.type_url ?? '';
    if (!RESOURCE_TYPES.includes(typeUrl as ResourceTypeUrl)) {
      this.logger.debug('ignoring request for unknown type', { proxy: conn.proxy.id, typeUrl });
      return;
    }
    const s = typeState(conn, typeUrl);
    // Joining is much cheaper than building a Set of thousands of names on every ACK.
    const requested = req.resource_names ?? [];
    const namesKey = requested.join('\n');
    const namesChanged = !s.subscribed || namesKey !== s.namesKey;
    const nonce = req.response_nonce ?? '';

    if (nonce !== '' && nonce !== s.lastSentNonce && !namesChanged) return; // stale: a newer response is on its way
    if (nonce !== '' && nonce === s.lastSentNonce) {
      this.recordAck(conn, s, typeUrl, req.version_info ?? '', nonce, req.error_detail);
    }
    if (!namesChanged) return;
    const names = new Set(requested.filter((n) => n !== ''));
    s.wildcard = WILDCARD_TYPES.has(typeUrl) && (names.size === 0 || names.has('*'));
    names.delete('*');
    s.subscribed = true;
    s.names = names;
    s.namesKey = namesKey;
    this.queue.enqueue(conn.key, [typeUrl], this.clock.now(), true);
  }

  private onDeltaRequest(conn: Connection, req: DeltaRequest): void {
    const typeUrl = req.type_url ?? '';
    if (!RESOURCE_TYPES.includes(typeUrl as ResourceTypeUrl)) return;
    const s = typeState(conn, typeUrl);
    const nonce = req.response_nonce ?? '';
    // A NACKed resource keeps its (rejected) version in `sent`; a corrected one hashes
    // differently, so it is sent again on the next push.
    if (nonce !== '' && nonce === s.lastSentNonce) {
      this.recordAck(conn, s, typeUrl, s.lastSentVersion, nonce, req.error_detail);
    }
    let changed = false;
    if (!s.subscribed) {
      s.subscribed = true;
      changed = true;
      const subs = req.resource_names_subscribe ?? [];
      if (WILDCARD_TYPES.has(typeUrl) && subs.length === 0) s.wildcard = true;
      for (const [name, version] of Object.entries(req.initial_resource_versions ?? {})) {
        s.sent.set(name, { bytes: new Uint8Array(), version });
      }
    }
    for (const n of req.resource_names_subscribe ?? []) {
      if (n === '*') s.wildcard = true;
      else s.names.add(n);
      changed = true;
    }
    for (const n of req.resource_names_unsubscribe ?? []) {
      if (n === '*') s.wildcard = false;
      else {
        s.names.delete(n);
        s.sent.delete(n);
      }
      changed = true;
    }
    if (changed) this.queue.enqueue(conn.key, [typeUrl], this.clock.now(), false);
  }

  private recordAck(
    conn: Connection,
    s: TypeState,
    typeUrl: string,
    version: string,
    nonce: string,
    error: SotwRequest['error_detail'],
  ): void {
    if (error && (error.message || error.code)) {
      s.nack = {
        version: s.lastSentVersion,
        nonce,
        message: error.message ?? `code ${error.code}`,
        at: this.clock.wallNow(),
      };
      this.m.rejects.inc({ type: SHORT_TYPE[typeUrl as ResourceTypeUrl] });
      this.logger.warn('proxy rejected config (NACK)', {
        proxy: conn.proxy.id,
        type: SHORT_TYPE[typeUrl as ResourceTypeUrl],
        version: s.lastSentVersion,
        error: error.message ?? '',
      });
      return;
    }
    s.lastAckedVersion = version;
    s.lastAckedNonce = nonce;
  }

  // --- pushing ---------------------------------------------------------------------------------

  private async worker(): Promise<void> {
    while (!this.closed) {
      const job = this.queue.take();
      if (!job) {
        await this.queue.wait();
        continue;
      }
      const conn = this.connections.get(job.proxyId);
      try {
        if (conn) {
          const types = PUSH_ORDER.filter((t) => job.types.has(t)) as ResourceTypeUrl[];
          // Clusters removed while routes may still name them are removed after those routes,
          // and so are their endpoints in delta (a delta EDS removal empties a cluster that is
          // still routed to; a SotW EDS response leaving a name out removes nothing).
          const breakLast =
            job.types.has(TYPE.cluster) && (job.types.has(TYPE.route) || job.types.has(TYPE.listener));
          const held = (t: string) => breakLast && (t === TYPE.cluster || t === TYPE.endpoint);
          for (const t of types) {
            if (conn.mode === 'sotw')
              await this.pushSotw(conn, t, job.force, job.since, held(t) && t === TYPE.cluster);
            else await this.pushDelta(conn, t, job.since, held(t));
          }
          for (const t of breakLast ? types.filter(held) : []) {
            if (conn.mode === 'sotw') await this.pushSotw(conn, t, false, job.since);
            else await this.pushDelta(conn, t, job.since);
          }
        }
      } catch (err) {
        this.logger.error('push failed', { proxy: conn?.proxy.id, error: errorMessage(err) });
      } finally {
        this.queue.done(job.proxyId);
      }
    }
  }

  private generate(conn: Connection, typeUrl: ResourceTypeUrl, s: TypeState): ReadonlyMap<string, object> {
    const requested = s.wildcard ? undefined : [...s.names];
    try {
      return this.translator.generate(this.push, conn.proxy, typeUrl, requested);
    } catch (err) {
      this.m.errors.inc({ type: SHORT_TYPE[typeUrl] });
      this.logger.error('generation failed', {
        proxy: conn.proxy.id,
        type: SHORT_TYPE[typeUrl],
        error: errorMessage(err),
      });
      throw err;
    }
  }

  private encodingError(conn: Connection, typeUrl: ResourceTypeUrl) {
    return (name: string, err: unknown) => {
      this.m.errors.inc({ type: SHORT_TYPE[typeUrl] });
      this.logger.error('resource does not encode; left out', {
        proxy: conn.proxy.id,
        name,
        error: errorMessage(err),
      });
    };
  }

  private async pushSotw(
    conn: Connection,
    typeUrl: ResourceTypeUrl,
    force: boolean,
    since: number,
    keepRemoved = false,
  ): Promise<void> {
    const s = typeState(conn, typeUrl);
    if (!s.subscribed) return;
    const generated = this.generate(conn, typeUrl, s);
    let set = encodeSet(
      typeUrl,
      generated,
      s.wildcard ? undefined : s.names,
      s.namesKey,
      this.encodingError(conn, typeUrl),
    );
    if (keepRemoved) set = withRemoved(typeUrl, set, s.sotwSent);
    if (!force && sameSet(s.sotwSent, set)) return;
    const version = this.push.version;
    const nonce = String(++this.nonceSeq);
    s.sotwSent = set;
    s.lastSentVersion = version;
    s.lastSentNonce = nonce;
    s.lastSentAt = this.clock.wallNow();
    this.m.pushes.inc({ type: SHORT_TYPE[typeUrl] });
    this.m.sentBytes.inc({ type: SHORT_TYPE[typeUrl] }, set.bytes);
    this.m.convergence.observe({}, this.clock.now() - since);
    await conn.send(encodeDiscoveryResponse(set.list, typeUrl, version, nonce));
  }

  private async pushDelta(
    conn: Connection,
    typeUrl: ResourceTypeUrl,
    since: number,
    keepRemoved = false,
  ): Promise<void> {
    const s = typeState(conn, typeUrl);
    if (!s.subscribed) return;
    const generated = this.generate(conn, typeUrl, s);
    const resources = encodeSet(
      typeUrl,
      generated,
      s.wildcard ? undefined : s.names,
      [...s.names].join('\n'),
      this.encodingError(conn, typeUrl),
    ).entries;
    const changed: { name: string; version: string; resource: { type_url: string; value: Uint8Array } }[] =
      [];
    let bytes = 0;
    for (const [name, value] of resources) {
      const version = resourceVersion(value);
      if (s.sent.get(name)?.version === version) {
        s.sent.set(name, { bytes: value, version });
        continue;
      }
      s.sent.set(name, { bytes: value, version });
      changed.push({ name, version, resource: { type_url: typeUrl, value } });
      bytes += value.length;
    }
    const removed: string[] = [];
    for (const name of [...s.sent.keys()]) {
      if (!resources.has(name) && !keepRemoved) {
        s.sent.delete(name);
        removed.push(name);
      }
    }
    if (changed.length === 0 && removed.length === 0 && s.lastSentNonce !== '') return;
    const nonce = String(++this.nonceSeq);
    s.lastSentVersion = this.push.version;
    s.lastSentNonce = nonce;
    s.lastSentAt = this.clock.wallNow();
    this.m.pushes.inc({ type: SHORT_TYPE[typeUrl] });
    this.m.sentBytes.inc({ type: SHORT_TYPE[typeUrl] }, bytes);
    this.m.convergence.observe({}, this.clock.now() - since);
    await conn.send({
      system_version_info: this.push.version,
      resources: changed,
      type_url: typeUrl,
      removed_resources: removed,
      nonce,
    });
  }
}

/**
 * A state-of-the-world set that also keeps what `previous` had and `next` dropped (as they were
 * sent): the first half of a make-before-break cluster update.
 */
function withRemoved(typeUrl: string, next: EncodedSet, previous: EncodedSet | undefined): EncodedSet {
  if (previous === undefined) return next;
  const kept = [...previous.entries].filter(([name]) => !next.entries.has(name));
  if (kept.length === 0) return next;
  const entries = new Map([...next.entries, ...kept]);
  let bytes = 0;
  for (const b of entries.values()) bytes += b.length;
  return { entries, list: encodeResourceList(typeUrl, [...entries.values()]), bytes };
}
