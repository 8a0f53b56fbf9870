/**
 * ADS client over @grpc/grpc-js. Subscribes in Envoy's order (CDS, then EDS for the EDS clusters,
 * LDS, then RDS for the route names and SDS for the secret names the listeners reference), ACKs
 * and NACKs with every problem, and reconnects with backoff while the last accepted config keeps
 * serving.
 *
 * Two wire protocols (https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol):
 * - delta (DeltaAggregatedResources), preferred: CDS and LDS are wildcard (an empty subscribe
 *   list on the first request), EDS and RDS name what accepted clusters and listeners need and
 *   unsubscribe what they no longer need; ACK = response_nonce, NACK = response_nonce +
 *   error_detail; a reconnect sends initial_resource_versions so unchanged resources are not
 *   resent;
 * - state of the world (StreamAggregatedResources): ACK and NACK carry version_info (the new one,
 *   or the one still in use) with the nonce.
 * `auto` tries delta and, if the server answers UNIMPLEMENTED before any response, uses state
 * of the world for this target from then on.
 *
 * Several control planes (`server` a list, `trellis proxy --xds-address A,B`): the proxy holds one
 * stream, to one of them. When that stream fails or its channel is not READY within
 * FAILOVER_CONNECT_MS, it moves to the next at once, resuming with the versions it holds (delta
 * xDS's initial_resource_versions: replicas hash resources the same way, so a survivor sends only
 * what differs); it backs off only after every control plane failed in a row. It stays on the one
 * that answers (no fail-back), as Envoy does with a control plane cluster. gRPC keepalive pings
 * find a control plane whose machine died without closing the connection.
 */
import * as grpc from '@grpc/grpc-js';
import { Backoff, type BackoffPolicy } from '../../core/backoff.js';
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { Random } from '../../core/random.js';
import { adsService } from '../../protocol/grpc-services.js';
import { channelCredentials, tlsFailureHint, type ControlPlaneTls } from './control-plane-tls.js';
import type { ProxyConfigSnapshot, XdsShortType } from '../model/config.js';
import type { NodeMsg } from './bootstrap.js';
import type { DiscoveryResponse__Output } from '../../protocol/envoy-types.js';
import {
  TYPE_BY_SHORT,
  WARMING_TIMEOUT_MS,
  XdsResourceCache,
  type DeltaDiscoveryResponseMsg,
} from './resource-cache.js';

/** `auto`: delta when the server offers it, else state of the world. */
export type XdsProtocol = 'auto' | 'delta' | 'sotw';

export interface AdsClientOptions {
  /** `host:port` of the control plane, or several (failed over in order). */
  server: string | readonly string[];
  node: NodeMsg;
  clock: Clock;
  random: Random;
  logger: Logger;
  onSnapshot: (snapshot: ProxyConfigSnapshot) => void;
  onConnected?: () => void;
  /** Reconnect backoff; default XDS_RECONNECT_BACKOFF. */
  backoff?: BackoffPolicy;
  /** Default `auto`. */
  protocol?: XdsProtocol;
  /** Whether the proxy has a workload certificate source (else `sds-grpc` secrets are NACKed). */
  workloadCertificates?: boolean;
  /** TLS to the control plane (its port 15012), verified against these roots; plaintext without. */
  tls?: ControlPlaneTls;
}

interface DiscoveryRequestMsg {
  version_info: string;
  node?: NodeMsg;
  resource_names: string[];
  type_url: string;
  response_nonce: string;
  error_detail?: { code: number; message: string };
}

interface DeltaDiscoveryRequestMsg {
  node?: NodeMsg;
  type_url: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: { code: number; message: string };
}

type AdsCall = grpc.ClientDuplexStream<
  DiscoveryRequestMsg | DeltaDiscoveryRequestMsg,
  DiscoveryResponse__Output | DeltaDiscoveryResponseMsg
>;

/** Types whose names follow from accepted resources (EDS, RDS, ...): the cache's explicit subscriptions. */
type FollowedType = Parameters<XdsResourceCache['setSubscription']>[0];

/**
 * Reconnect backoff of the ADS stream: full jitter, capped low so a proxy resyncs within a few
 * seconds of a control plane's return however long it was away (an uncapped 30 s ceiling once
 * left proxies 28 s behind). A proxy keeps serving its last config meanwhile, and a reconnect
 * costs the control plane one stream, so a short cap is cheap; the jitter spreads a fleet's
 * reconnects when the control plane comes back.
 */
export const XDS_RECONNECT_BACKOFF: BackoffPolicy = Object.freeze({ baseMs: 250, maxMs: 2500 });

/**
 * With several control planes: how long a new stream's channel may take to become READY before
 * the proxy tries the next control plane (a dead machine drops SYNs: a TCP connect would take
 * far longer to fail by itself). Keepalive: a ping every 10 s unanswered for 5 s ends the stream.
 */
export const FAILOVER_CONNECT_MS = 3000;
const KEEPALIVE = { 'grpc.keepalive_time_ms': 10_000, 'grpc.keepalive_timeout_ms': 5000 };

/** google.rpc.Code INVALID_ARGUMENT, the code a NACK carries. */
const INVALID_ARGUMENT = 3;

export class AdsClient {
  readonly cache: XdsResourceCache;
  /** The control planes, in failover order; `current` indexes the one in use. */
  private readonly targets: readonly string[];
  private readonly clients: (grpc.Client | undefined)[];
  /** The wire protocol per control plane (`auto` may fall back to sotw on one of them only). */
  private readonly wires: ('delta' | 'sotw')[];
  private current = 0;
  /** Control planes that failed in a row since the last response; all failed: back off. */
  private failedInRow = 0;
  private readonly backoff: Backoff;
  private call: AdsCall | undefined;
  private retryTimer: TimerHandle | undefined;
  /** Fires when the earliest warming cluster times out, to put held routes in service. */
  private warmingTimer: TimerHandle | undefined;
  private stopped = false;
  /** The wire protocol of the next stream; `auto` falls back to sotw once and stays there. */
  private wire: 'delta' | 'sotw';
  /** Types requested on the current stream, and the last nonce seen per type (state of the world). */
  private requested = new Set<XdsShortType>();
  private nonces = new Map<XdsShortType, string>();
  /** Delta: the explicit names the server holds for this stream, per type (empty for wildcard). */
  private deltaNames = new Map<XdsShortType, ReadonlySet<string>>();
  private nodeSent = false;
  private connectedOnce = false;
  readonly stats = {
    /** The wire protocol in use (or being tried): `delta` or `sotw`. */
    protocol: 'delta' as 'delta' | 'sotw',
    acks: 0,
    nacks: 0,
    connects: 0,
    lastNack: '',
    /** Times `auto` found no delta service and went to state of the world. */
    fallbacks: 0,
    /** Delta: resources received in accepted responses, and names removed by them. */
    resourcesUpdated: 0,
    resourcesRemoved: 0,
    /** The control plane in use (or being tried), and the times the proxy moved to another. */
    server: '',
    failovers: 0,
  };

  constructor(private readonly options: AdsClientOptions) {
    this.cache = new XdsResourceCache(() => options.clock.wallNow(), {
      workloadCertificates: options.workloadCertificates === true,
    });
    const backoff = options.backoff ?? XDS_RECONNECT_BACKOFF;
    this.targets = typeof options.server === 'string' ? [options.server] : [...options.server];
    if (this.targets.length === 0) throw new Error('AdsClient: no control plane address');
    this.clients = this.targets.map(() => undefined);
    this.stats.server = this.targets[0]!;
    this.backoff = new Backoff(backoff, options.random);
    this.wire = options.protocol === 'sotw' ? 'sotw' : 'delta';
    this.wires = this.targets.map(() => this.wire);
    this.stats.protocol = this.wire;
  }

  private clientAt(i: number): grpc.Client {
    let c = this.clients[i];
    if (c === undefined) {
      const backoff = this.options.backoff ?? XDS_RECONNECT_BACKOFF;
      // grpc-js has its own connection backoff under ours (1 s growing to 120 s): a new stream on
      // a channel still backing off fails without dialing, so cap it the same way or it would
      // outlast our cap.
      c = new grpc.Client(this.targets[i]!, channelCredentials(this.options.tls), {
        'grpc.initial_reconnect_backoff_ms': Math.max(1, backoff.baseMs),
        'grpc.max_reconnect_backoff_ms': Math.max(1, backoff.maxMs),
        ...(this.targets.length > 1 ? KEEPALIVE : {}),
      });
      this.clients[i] = c;
    }
    return c;
  }

  start(): void {
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.retryTimer?.cancel();
    this.warmingTimer?.cancel();
    this.call?.cancel();
    this.call = undefined;
    for (const c of this.clients) c?.close();
  }

  private connect(): void {
    if (this.stopped) return;
    const target = this.current;
    const server = this.targets[target]!;
    const client = this.clientAt(target);
    const wire = this.wires[target]!;
    this.wire = wire;
    this.stats.protocol = wire;
    this.stats.server = server;
    const method = adsService()[wire === 'delta' ? 'DeltaAggregatedResources' : 'StreamAggregatedResources']!;
    const call: AdsCall = client.makeBidiStreamRequest(
      method.path,
      method.requestSerialize as (v: DiscoveryRequestMsg | DeltaDiscoveryRequestMsg) => Buffer,
      method.responseDeserialize as (b: Buffer) => DiscoveryResponse__Output | DeltaDiscoveryResponseMsg,
    );
    this.call = call;
    this.requested = new Set();
    this.nonces = new Map();
    this.deltaNames = new Map();
    this.nodeSent = false;
    let gotResponse = false;
    // A delta stream resumed with nothing new may stay silent: a stream that stays up this long
    // counts as connected for the backoff too, so later drops do not wait ever longer.
    const settled = this.options.clock.setTimeout(() => {
      if (this.call === call) this.backoff.reset();
    }, 5000);
    // With somewhere else to go, a channel that is not up soon is given up on (see FAILOVER_CONNECT_MS).
    const connectCheck =
      this.targets.length > 1
        ? this.options.clock.setTimeout(() => {
            if (this.call !== call || gotResponse) return;
            if (client.getChannel().getConnectivityState(false) === grpc.connectivityState.READY) return;
            call.cancel();
            onGone(`not connected within ${FAILOVER_CONNECT_MS} ms`);
          }, FAILOVER_CONNECT_MS)
        : undefined;
    call.on('data', (res: DiscoveryResponse__Output | DeltaDiscoveryResponseMsg) => {
      if (this.call !== call) return;
      if (!gotResponse) {
        gotResponse = true;
        this.backoff.reset();
        this.failedInRow = 0;
        this.stats.connects++;
        this.options.logger.info('connected to control plane', { server, protocol: wire });
        if (!this.connectedOnce) {
          this.connectedOnce = true;
          this.options.onConnected?.();
        }
      }
      if (wire === 'delta') this.onDeltaResponse(res as DeltaDiscoveryResponseMsg);
      else this.onResponse(res as DiscoveryResponse__Output);
    });
    const onGone = (reason: string, code?: number) => {
      settled.cancel();
      connectCheck?.cancel();
      if (this.call !== call) return;
      this.call = undefined;
      if (this.stopped) return;
      if (
        wire === 'delta' &&
        code === grpc.status.UNIMPLEMENTED &&
        !gotResponse &&
        (this.options.protocol ?? 'auto') === 'auto'
      ) {
        this.wires[target] = 'sotw';
        this.stats.fallbacks++;
        this.options.logger.info('control plane does not serve delta xDS; using state of the world', {
          server,
          reason,
        });
        this.retryTimer = this.options.clock.setTimeout(() => this.connect(), 0);
        return;
      }
      const hint = tlsFailureHint(this.options.tls, reason);
      const n = this.targets.length;
      // A stream that was answered, then lost, starts a new round: the others are tried at once.
      this.failedInRow = gotResponse ? 1 : this.failedInRow + 1;
      if (n > 1) {
        this.current = (target + 1) % n;
        this.stats.failovers++;
      }
      const delay = n > 1 && this.failedInRow < n ? 0 : this.backoff.next();
      this.options.logger.warn('control plane stream closed; serving the last config', {
        server,
        reason,
        protocol: wire,
        ...(n > 1 ? { next: this.targets[this.current] } : {}),
        retryInMs: Math.round(delay),
        ...(hint ? { hint } : {}),
      });
      this.retryTimer = this.options.clock.setTimeout(() => this.connect(), delay);
    };
    call.on('error', (err: grpc.ServiceError) => onGone(err.message, err.code));
    call.on('end', () => onGone('stream ended'));
    // Resume the subscriptions this proxy already holds, with the versions it has: a control
    // plane that restarted can then skip resending what is unchanged.
    this.request('CDS');
    if (this.cache.snapshot().received.has('LDS') || this.cache.snapshot().received.has('CDS')) {
      this.syncEndpoints();
      this.request('LDS');
      this.syncRoutes();
      this.syncSecrets();
    }
  }

  private send(req: DiscoveryRequestMsg | DeltaDiscoveryRequestMsg): void {
    if (this.call === undefined) return;
    this.call.write(req);
  }

  /**
   * Asks for a type's current subscription. State of the world: a full request (also the ACK).
   * Delta: the first request of the stream subscribes (wildcard: no names) with the versions
   * held; later ones send only the names added and removed since, and nothing when none were.
   */
  private request(type: XdsShortType): void {
    if (this.wire === 'delta') {
      this.requestDelta(type);
      return;
    }
    this.requested.add(type);
    this.send({
      version_info: this.cache.version(type),
      node: this.options.node,
      resource_names: this.cache.resourceNames(type),
      type_url: TYPE_BY_SHORT[type],
      response_nonce: this.nonces.get(type) ?? '',
    });
  }

  private requestDelta(type: XdsShortType): void {
    const wanted = this.cache.resourceNames(type);
    const held = this.deltaNames.get(type);
    if (held === undefined) {
      this.requested.add(type);
      this.deltaNames.set(type, new Set(wanted));
      this.sendDelta({
        type_url: TYPE_BY_SHORT[type],
        resource_names_subscribe: wanted,
        initial_resource_versions: this.cache.heldVersions(type),
      });
      return;
    }
    const next = new Set(wanted);
    const subscribe = wanted.filter((n) => !held.has(n));
    const unsubscribe = [...held].filter((n) => !next.has(n)).sort();
    if (subscribe.length === 0 && unsubscribe.length === 0) return;
    this.deltaNames.set(type, next);
    this.sendDelta({
      type_url: TYPE_BY_SHORT[type],
      resource_names_subscribe: subscribe,
      resource_names_unsubscribe: unsubscribe,
    });
  }

  /** The node goes on the first request of a delta stream only. */
  private sendDelta(req: DeltaDiscoveryRequestMsg): void {
    if (!this.nodeSent) {
      req.node = this.options.node;
      this.nodeSent = true;
    }
    this.send(req);
  }

  private onResponse(res: DiscoveryResponse__Output): void {
    const outcome = this.cache.handleResponse(res);
    if (outcome.kind === 'ignored') {
      this.options.logger.warn('ignoring discovery response', { reason: outcome.reason });
      return;
    }
    const type = outcome.type;
    this.nonces.set(type, outcome.nonce);
    if (outcome.kind === 'nack') {
      this.rejected(type, outcome.message);
      this.send({
        version_info: outcome.version,
        node: this.options.node,
        resource_names: this.cache.resourceNames(type),
        type_url: TYPE_BY_SHORT[type],
        response_nonce: outcome.nonce,
        error_detail: { code: INVALID_ARGUMENT, message: outcome.message },
      });
      return;
    }
    this.stats.acks++;
    for (const w of outcome.warnings)
      this.options.logger.warn('accepted config with a warning', { type, warning: w });
    this.options.logger.debug('accepted config (ACK)', { type, version: outcome.version });
    this.request(type);
    this.accepted(type);
  }

  private onDeltaResponse(res: DeltaDiscoveryResponseMsg): void {
    const outcome = this.cache.handleDeltaResponse(res);
    if (outcome.kind === 'ignored') {
      this.options.logger.warn('ignoring delta discovery response', { reason: outcome.reason });
      return;
    }
    const type = outcome.type;
    if (outcome.kind === 'nack') {
      this.rejected(type, outcome.message);
      this.sendDelta({
        type_url: TYPE_BY_SHORT[type],
        response_nonce: outcome.nonce,
        error_detail: { code: INVALID_ARGUMENT, message: outcome.message },
      });
      return;
    }
    this.stats.acks++;
    this.stats.resourcesUpdated += outcome.updated.length;
    this.stats.resourcesRemoved += outcome.removed.length;
    for (const w of outcome.warnings)
      this.options.logger.warn('accepted config with a warning', { type, warning: w });
    this.options.logger.debug('accepted delta config (ACK)', {
      type,
      version: outcome.version,
      updated: outcome.updated.length,
      removed: outcome.removed.length,
    });
    this.sendDelta({ type_url: TYPE_BY_SHORT[type], response_nonce: outcome.nonce });
    this.accepted(type);
  }

  private rejected(type: XdsShortType, message: string): void {
    this.stats.nacks++;
    this.stats.lastNack = message;
    this.options.logger.warn('rejected config (NACK)', { type, message });
  }

  /** After an ACK: the subscriptions that follow from what was accepted, then the new snapshot. */
  private accepted(type: XdsShortType): void {
    if (type === 'CDS') {
      this.syncEndpoints();
      if (!this.requested.has('LDS')) this.request('LDS');
      // Clusters name secrets too (DestinationRule credentialName), once listeners were asked for.
      else this.syncSecrets();
    } else if (type === 'LDS') {
      this.syncRoutes();
      this.syncSecrets();
    }
    this.options.onSnapshot(this.cache.snapshot());
    this.scheduleWarmingTimeout();
  }

  /**
   * A cluster whose endpoints never come is used anyway after WARMING_TIMEOUT_MS (Envoy's
   * initial_fetch_timeout), so a route waiting for it does not wait for ever.
   */
  private scheduleWarmingTimeout(): void {
    this.warmingTimer?.cancel();
    this.warmingTimer = undefined;
    const deadline = this.cache.warmingDeadline();
    if (deadline === undefined || this.stopped) return;
    this.warmingTimer = this.options.clock.setTimeout(
      () => {
        this.warmingTimer = undefined;
        if (this.stopped) return;
        if (this.cache.refresh()) {
          this.options.logger.warn(
            'a new cluster got no endpoints within the warming timeout; routes and listeners naming it are in service',
            { timeoutMs: WARMING_TIMEOUT_MS },
          );
          this.options.onSnapshot(this.cache.snapshot());
        }
        this.scheduleWarmingTimeout();
      },
      Math.max(0, deadline - this.options.clock.wallNow()) + 1,
    );
  }

  private syncEndpoints(): void {
    this.follow('EDS', this.cache.wantedEndpointNames());
  }

  private syncRoutes(): void {
    this.follow('RDS', this.cache.wantedRouteNames());
  }

  /** SDS for the certificates and CAs the TLS contexts of accepted listeners and clusters name. */
  private syncSecrets(): void {
    this.follow('SDS', this.cache.wantedSecretNames());
  }

  /**
   * Sets an explicit subscription from what accepted resources need and tells the server when it
   * changed (or was not yet sent on this stream). Both wires unsubscribe the names that went
   * away, down to none: state of the world sends the new list even when empty (for these
   * non-wildcard types an empty list subscribes to nothing), delta the removed names. A type
   * never asked for on this stream is not asked for with nothing.
   */
  private follow(type: FollowedType, wanted: readonly string[]): void {
    const changed = this.cache.setSubscription(type, wanted);
    if (!changed && this.requested.has(type)) return;
    if (this.cache.resourceNames(type).length === 0 && !this.requested.has(type)) return;
    this.request(type);
  }
}
