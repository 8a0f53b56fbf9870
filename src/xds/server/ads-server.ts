import * as grpc from '@grpc/grpc-js';
import type { Clock } from '../../core/clock.js';
import { systemClock } from '../../core/clock.js';
import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { silentLogger } from '../../core/logger.js';
import { MetricsRegistry } from '../../core/metrics.js';
import { adsService } from '../../protocol/grpc-services.js';
import { RESOURCE_TYPES } from '../../protocol/protos.js';
import { parseNode, type NodeMessage } from '../node.js';
import type { FirstRequest } from '../grpc-client.js';
import { checkConsistency } from './consistency.js';
import { noteUnchanged, streamConnection, type Connection } from './connection.js';
import { onDeltaRequest, pushDelta, type DeltaRequest } from './delta.js';
import { PushQueue, pushSteps } from './push-queue.js';
import {
  adsMetrics,
  publication,
  type AdsMetrics,
  type PushContextLike,
  type StreamContext,
  type Translator,
} from './server-context.js';
import { onSotwRequest, pushSotw, type SotwRequest } from './sotw.js';
import { connectionConfigDump, connectionStatus, type ProxyStatus } from './status.js';

export type { ProxyStatus } from './status.js';
export type { PushContextLike, Translator } from './server-context.js';

/**
 * The ADS server: state-of-the-world (sotw.ts) and delta (delta.ts) streams over one gRPC
 * service, a push queue (push-queue.ts) drained by a bounded set of workers. It knows type URLs,
 * streams and versions, never the user's resources: a Translator turns an immutable push
 * context into resources per proxy. See ARCHITECTURE.md for the grpc-js-xds quirks honoured here
 * (stale nonces ignored unless the subscription changed; LDS/CDS responses always complete).
 */
export interface AdsServerOptions<P extends PushContextLike> {
  translator: Translator<P>;
  initial: P;
  clock?: Clock;
  logger?: Logger;
  metrics?: MetricsRegistry;
  /** Pushes in flight at once (flow control across proxies). */
  concurrency?: number;
  /**
   * Other gRPC services served on the same port as ADS (the control plane's CA), as Istio serves
   * its CA beside xDS on 15012. The server only registers them.
   */
  services?: readonly {
    definition: grpc.ServiceDefinition;
    implementation: grpc.UntypedServiceImplementation;
  }[];
}

/** How long close() lets streams end on their own before it cuts them. */
const CLOSE_GRACE_MS = 1000;

type AnyStream = grpc.ServerDuplexStream<object, object>;

export class AdsServer<P extends PushContextLike> {
  private push: P;
  private readonly connections = new Map<string, Connection>();
  private readonly queue = new PushQueue();
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly translator: Translator<P>;
  private readonly ctx: StreamContext;
  private server: grpc.Server | undefined;
  private nonceSeq = 0;
  private streamSeq = 0;
  private closed = false;
  private readonly workers: Promise<void>[] = [];
  /** Per connection: the last push found consistent for it, which it is served while later ones are not. */
  private readonly consistent = new WeakMap<Connection, P>();
  /**
   * Connections whose last push was held back: what they hold is older than the push the
   * translator compares the next one with, so the next push reconsiders every type.
   */
  private readonly behind = new WeakSet<Connection>();
  /** Per connection: the version of the last inconsistent push reported (one error per push). */
  private readonly reported = new WeakMap<Connection, string>();
  readonly metrics: MetricsRegistry;
  private readonly m: AdsMetrics;
  private readonly services: NonNullable<AdsServerOptions<P>['services']>;

  constructor(options: AdsServerOptions<P>) {
    this.services = options.services ?? [];
    this.translator = options.translator;
    this.push = options.initial;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.metrics = options.metrics ?? new MetricsRegistry();
    this.m = adsMetrics(this.metrics);
    this.ctx = {
      clock: this.clock,
      logger: this.logger,
      metrics: this.m,
      nextNonce: () => String(++this.nonceSeq),
      enqueue: (conn, types, force) => this.queue.enqueue(conn.key, types, this.clock.now(), force),
    };
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
      StreamAggregatedResources: (stream: AnyStream) =>
        this.serve(stream, 'sotw', (conn, req: SotwRequest) => onSotwRequest(this.ctx, conn, req)),
      DeltaAggregatedResources: (stream: AnyStream) =>
        this.serve(stream, 'delta', (conn, req: DeltaRequest) => onDeltaRequest(this.ctx, conn, req)),
    });
    for (const s of this.services) server.addService(s.definition, s.implementation);
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

  /**
   * Serves the same services on another port with TLS (istiod's 15012 beside 15010), after
   * listen(); resolves to the bound port.
   */
  async listenTls(host: string, port: number, credentials: grpc.ServerCredentials): Promise<number> {
    const server = this.server;
    if (!server) throw new Error('listenTls needs listen() first');
    return await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${port}`, credentials, (err, p) =>
        err ? reject(err) : resolve(p),
      );
    });
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
        affected = this.behind.has(c)
          ? new Set(RESOURCE_TYPES)
          : this.translator.affectedTypes(prev, next, c.proxy);
      } catch (err) {
        this.logger.error('affectedTypes failed; pushing everything', {
          proxy: c.proxy.id,
          error: errorMessage(err),
        });
        affected = new Set(RESOURCE_TYPES);
      }
      const types = [...affected].filter((t) => c.types.get(t)?.subscribed);
      if (types.length) this.queue.enqueue(c.key, types, since);
      if (!this.behind.has(c))
        for (const [t, s] of c.types) if (!affected.has(t)) noteUnchanged(s, prev.version, next.version);
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

  /** One ADS stream: the first request's node opens the Connection; each request is handled. */
  private serve<R extends { node?: NodeMessage }>(
    stream: AnyStream,
    mode: 'sotw' | 'delta',
    handle: (conn: Connection, req: R) => void,
  ): void {
    let conn: Connection | undefined;
    stream.on('data', (req: R) => {
      if (this.closed) return;
      conn ??= this.openConnection(stream, mode, req.node, firstRequest(req));
      try {
        handle(conn, req);
      } catch (err) {
        this.logger.error(mode === 'sotw' ? 'bad discovery request' : 'bad delta discovery request', {
          proxy: conn.proxy.id,
          error: errorMessage(err),
        });
      }
    });
    stream.on('end', () => stream.end());
  }

  private openConnection(
    stream: AnyStream,
    mode: 'sotw' | 'delta',
    node: NodeMessage | undefined,
    first: FirstRequest,
  ): Connection {
    const proxy = parseNode(node, first);
    const key = `${proxy.id}-${++this.streamSeq}`;
    const conn = streamConnection(stream, { key, proxy, mode, connectedAt: this.clock.wallNow() }, () => {
      if (this.connections.delete(key)) {
        this.queue.remove(key);
        this.m.connected.inc({ version: 'trellis' }, -1);
        this.logger.info('proxy disconnected', { proxy: proxy.id, mode });
      }
    });
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
        const push = conn && this.publishable(conn);
        if (conn && push) {
          const pub = publication(this.ctx, this.translator, push, conn);
          for (const step of pushSteps(job.types, job.force)) {
            if (conn.mode === 'sotw')
              await pushSotw(this.ctx, pub, conn, step.typeUrl, step.force, job.since, step.holdRemovals);
            else await pushDelta(this.ctx, pub, conn, step.typeUrl, job.since, step.holdRemovals);
          }
        }
      } catch (err) {
        this.logger.error('push failed', { proxy: conn?.proxy.id, error: errorMessage(err) });
      } finally {
        this.queue.done(job.proxyId);
      }
    }
  }

  /**
   * The push to serve `conn` from: the current one if it is consistent for the proxy
   * (consistency.ts), else the last one that was, else none (nothing is sent until a consistent
   * push arrives). An inconsistent push is logged and counted once per connection.
   */
  private publishable(conn: Connection): P | undefined {
    const push = this.push;
    const unresolved = checkConsistency(this.translator, push, conn);
    if (unresolved === undefined) {
      this.consistent.set(conn, push);
      this.behind.delete(conn);
      return push;
    }
    this.behind.add(conn);
    const fallback = this.consistent.get(conn);
    if (this.reported.get(conn) !== push.version) {
      this.reported.set(conn, push.version);
      this.m.inconsistent.inc();
      this.logger.error('push is inconsistent for this proxy; not sent (translation bug)', {
        proxy: conn.proxy.id,
        version: push.version,
        unresolvedRoutes: unresolved.routes.join(','),
        unresolvedEndpoints: unresolved.endpoints.join(','),
        serving: fallback === undefined ? 'nothing yet' : `last consistent push ${fallback.version}`,
      });
    }
    return fallback;
  }
}

/** What the first request of a stream asks (SotW or delta): how a bare gRPC client shows itself. */
function firstRequest(req: object): FirstRequest {
  const r = req as { type_url?: string; resource_names?: string[]; resource_names_subscribe?: string[] };
  return { typeUrl: r.type_url ?? '', names: r.resource_names ?? r.resource_names_subscribe ?? [] };
}
