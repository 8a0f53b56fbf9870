/**
 * What the SotW and delta handlers (sotw.ts, delta.ts) share with the server that runs them: the
 * translator contract, the metrics, the nonce sequence and the push queue behind `enqueue`, and
 * the bookkeeping both protocols do alike (ACK/NACK, generation and encoding errors).
 */
import type { Clock } from '../../core/clock.js';
import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import {
  MS_BUCKETS,
  type Counter,
  type Gauge,
  type Histogram,
  type MetricsRegistry,
} from '../../core/metrics.js';
import { SHORT_TYPE, type ResourceTypeUrl } from '../../protocol/protos.js';
import type { ProxyNode } from '../proxy-node.js';
import { noteAcked, noteHeld, typeState, type Connection, type TypeState } from './connection.js';
import { encodeSet, type EncodedSet } from './resource-encoding.js';

export interface PushContextLike {
  readonly version: string;
}

/**
 * Turns an immutable push context into resources per proxy: the server knows type URLs,
 * streams and versions, never the user's resources.
 */
export interface Translator<P extends PushContextLike> {
  generate(
    push: P,
    proxy: ProxyNode,
    typeUrl: ResourceTypeUrl,
    requestedNames?: readonly string[],
  ): ReadonlyMap<string, object>;
  affectedTypes(prev: P, next: P, proxy: ProxyNode): ReadonlySet<ResourceTypeUrl>;
}

/** The server's metrics, under Istio's pilot names so existing dashboards work. */
export interface AdsMetrics {
  pushes: Counter;
  rejects: Counter;
  connected: Gauge;
  convergence: Histogram;
  errors: Counter;
  sentBytes: Counter;
  inconsistent: Counter;
}

export function adsMetrics(registry: MetricsRegistry): AdsMetrics {
  const m: AdsMetrics = {
    pushes: registry.counter('pilot_xds_pushes', 'xDS responses sent, by type', ['type']),
    rejects: registry.counter('pilot_total_xds_rejects', 'xDS responses rejected (NACKed) by proxies', [
      'type',
    ]),
    connected: registry.gauge('pilot_xds', 'Connected xDS streams', ['version']),
    convergence: registry.histogram(
      'pilot_proxy_convergence_time_milliseconds',
      'Time from a config or endpoint change to the push that carries it',
      [],
      MS_BUCKETS,
    ),
    errors: registry.counter(
      'pilot_total_xds_internal_errors',
      'Resources that failed to generate or encode',
      ['type'],
    ),
    sentBytes: registry.counter('pilot_xds_send_bytes_total', 'Bytes of resources sent', ['type']),
    inconsistent: registry.counter(
      'trellis_xds_inconsistent_pushes_total',
      'Pushes held back from a proxy because a listener or cluster named a route or endpoint assignment the push does not have (a translation bug); the proxy keeps its last consistent push',
    ),
  };
  m.inconsistent.inc({}, 0);
  m.connected.set({ version: 'trellis' }, 0);
  return m;
}

/** The server as the protocol handlers see it. */
export interface StreamContext {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: AdsMetrics;
  /** A nonce unique across the server's streams. */
  nextNonce(): string;
  /** Queues a push of `types` to `conn`; `force` sends even what equals the last response. */
  enqueue(conn: Connection, types: readonly string[], force: boolean): void;
}

/** One push context as it is being sent to one connection. */
export interface Publication {
  /** The push context's version: SotW version_info, delta system_version_info. */
  readonly version: string;
  /** Resources of one type for the connection's subscription; throws when generation fails. */
  generate(typeUrl: ResourceTypeUrl, s: TypeState): ReadonlyMap<string, object>;
}

/** A publication of `push` for `conn`; generation errors are counted and logged, then thrown. */
export function publication<P extends PushContextLike>(
  ctx: StreamContext,
  translator: Translator<P>,
  push: P,
  conn: Connection,
): Publication {
  return {
    version: push.version,
    generate(typeUrl, s) {
      const requested = s.wildcard ? undefined : [...s.names];
      try {
        return translator.generate(push, conn.proxy, typeUrl, requested);
      } catch (err) {
        ctx.metrics.errors.inc({ type: SHORT_TYPE[typeUrl] });
        ctx.logger.error('generation failed', {
          proxy: conn.proxy.id,
          type: SHORT_TYPE[typeUrl],
          error: errorMessage(err),
        });
        throw err;
      }
    },
  };
}

/** Reports a resource that does not encode (it is left out of the response). */
/**
 * The type's resources for one connection's subscription, generated and encoded (what both
 * protocols send from); undefined while the connection has not subscribed to the type.
 * `namesKey` memoizes the encoding per subscription (SotW and delta key it differently).
 */
export function encodedFor(
  ctx: StreamContext,
  pub: Publication,
  conn: Connection,
  typeUrl: ResourceTypeUrl,
  namesKey: (s: TypeState) => string,
): { s: TypeState; set: EncodedSet } | undefined {
  const s = typeState(conn, typeUrl);
  if (!s.subscribed) return undefined;
  const set = encodeSet(
    typeUrl,
    pub.generate(typeUrl, s),
    s.wildcard ? undefined : s.names,
    namesKey(s),
    encodingError(ctx, conn, typeUrl),
  );
  return { s, set };
}

export function encodingError(ctx: StreamContext, conn: Connection, typeUrl: ResourceTypeUrl) {
  return (name: string, err: unknown): void => {
    ctx.metrics.errors.inc({ type: SHORT_TYPE[typeUrl] });
    ctx.logger.error('resource does not encode; left out', {
      proxy: conn.proxy.id,
      name,
      error: errorMessage(err),
    });
  };
}

export interface ErrorDetail {
  code?: number;
  message?: string;
}

/** Records the client's answer to the response `nonce`: an ACK of `version`, or a NACK. */
export function recordAck(
  ctx: StreamContext,
  conn: Connection,
  s: TypeState,
  typeUrl: ResourceTypeUrl,
  version: string,
  nonce: string,
  error: ErrorDetail | null | undefined,
): void {
  if (error && (error.message || error.code)) {
    s.nack = {
      version: s.lastSentVersion,
      nonce,
      message: error.message ?? `code ${error.code}`,
      at: ctx.clock.wallNow(),
    };
    ctx.metrics.rejects.inc({ type: SHORT_TYPE[typeUrl] });
    ctx.logger.warn('proxy rejected config (NACK)', {
      proxy: conn.proxy.id,
      type: SHORT_TYPE[typeUrl],
      version: s.lastSentVersion,
      error: error.message ?? '',
    });
    return;
  }
  s.lastAckedVersion = version;
  s.lastAckedNonce = nonce;
  if (nonce === s.lastSentNonce) noteAcked(s);
}

/** Bookkeeping of a response about to be sent, shared by SotW and delta. */
export function recordSent(
  ctx: StreamContext,
  s: TypeState,
  typeUrl: ResourceTypeUrl,
  version: string,
  bytes: number,
  since: number,
): string {
  const nonce = ctx.nextNonce();
  s.lastSentVersion = version;
  s.lastSentNonce = nonce;
  s.lastSentAt = ctx.clock.wallNow();
  noteHeld(s, version);
  ctx.metrics.pushes.inc({ type: SHORT_TYPE[typeUrl] });
  ctx.metrics.sentBytes.inc({ type: SHORT_TYPE[typeUrl] }, bytes);
  ctx.metrics.convergence.observe({}, ctx.clock.now() - since);
  return nonce;
}
