/**
 * ADS state-of-the-world client over @grpc/grpc-js. Subscribes in Envoy's order (CDS, then EDS
 * for the EDS clusters, LDS, then RDS for the route names the listeners reference), ACKs with
 * the response's version and nonce, NACKs with every problem and the previous version, and
 * reconnects with backoff while the last accepted config keeps serving.
 */
import * as grpc from '@grpc/grpc-js';
import { Backoff } from '../../core/backoff.js';
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { Random } from '../../core/random.js';
import { adsService } from '../../protocol/grpc-services.js';
import type { ProxyConfigSnapshot, XdsShortType } from '../config.js';
import type { NodeMsg } from './bootstrap.js';
import type { DiscoveryResponseMsg } from './envoy-types.js';
import { TYPE_BY_SHORT, XdsResourceCache } from './resource-cache.js';

export interface AdsClientOptions {
  /** `host:port` of the control plane. */
  server: string;
  node: NodeMsg;
  clock: Clock;
  random: Random;
  logger: Logger;
  onSnapshot: (snapshot: ProxyConfigSnapshot) => void;
  onConnected?: () => void;
  backoff?: { baseMs: number; maxMs: number };
}

interface DiscoveryRequestMsg {
  version_info: string;
  node?: NodeMsg;
  resource_names: string[];
  type_url: string;
  response_nonce: string;
  error_detail?: { code: number; message: string };
}

type AdsCall = grpc.ClientDuplexStream<DiscoveryRequestMsg, DiscoveryResponseMsg>;

export class AdsClient {
  readonly cache: XdsResourceCache;
  private readonly client: grpc.Client;
  private readonly backoff: Backoff;
  private call: AdsCall | undefined;
  private retryTimer: TimerHandle | undefined;
  private stopped = false;
  /** Types requested on the current stream, and the last nonce seen per type. */
  private requested = new Set<XdsShortType>();
  private nonces = new Map<XdsShortType, string>();
  private connectedOnce = false;
  readonly stats = { acks: 0, nacks: 0, connects: 0, lastNack: '' };

  constructor(private readonly options: AdsClientOptions) {
    this.cache = new XdsResourceCache(() => options.clock.wallNow());
    this.client = new grpc.Client(options.server, grpc.credentials.createInsecure());
    this.backoff = new Backoff(options.backoff ?? { baseMs: 500, maxMs: 30_000 }, options.random);
  }

  start(): void {
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.retryTimer?.cancel();
    this.call?.cancel();
    this.call = undefined;
    this.client.close();
  }

  private connect(): void {
    if (this.stopped) return;
    const method = adsService().StreamAggregatedResources!;
    const call = this.client.makeBidiStreamRequest(
      method.path,
      method.requestSerialize as (v: DiscoveryRequestMsg) => Buffer,
      method.responseDeserialize as (b: Buffer) => DiscoveryResponseMsg,
    );
    this.call = call;
    this.requested = new Set();
    this.nonces = new Map();
    let gotResponse = false;
    call.on('data', (res: DiscoveryResponseMsg) => {
      if (!gotResponse) {
        gotResponse = true;
        this.backoff.reset();
        this.stats.connects++;
        this.options.logger.info('connected to control plane', { server: this.options.server });
        if (!this.connectedOnce) {
          this.connectedOnce = true;
          this.options.onConnected?.();
        }
      }
      this.onResponse(res);
    });
    const onGone = (reason: string) => {
      if (this.call !== call) return;
      this.call = undefined;
      if (this.stopped) return;
      const delay = this.backoff.next();
      this.options.logger.warn('control plane stream closed; serving the last config', {
        reason,
        retryInMs: Math.round(delay),
      });
      this.retryTimer = this.options.clock.setTimeout(() => this.connect(), delay);
    };
    call.on('error', (err: Error) => onGone(err.message));
    call.on('end', () => onGone('stream ended'));
    // Resume the subscriptions this proxy already holds, with the versions it has: a control
    // plane that restarted can then skip resending what is unchanged.
    this.request('CDS');
    if (this.cache.snapshot().received.has('LDS') || this.cache.snapshot().received.has('CDS')) {
      this.syncEndpoints();
      this.request('LDS');
      this.syncRoutes();
    }
  }

  private send(req: DiscoveryRequestMsg): void {
    if (this.call === undefined) return;
    this.call.write(req);
  }

  private request(type: XdsShortType): void {
    this.requested.add(type);
    this.send({
      version_info: this.cache.version(type),
      node: this.options.node,
      resource_names: this.cache.resourceNames(type),
      type_url: TYPE_BY_SHORT[type],
      response_nonce: this.nonces.get(type) ?? '',
    });
  }

  private onResponse(res: DiscoveryResponseMsg): void {
    const outcome = this.cache.handleResponse(res);
    if (outcome.kind === 'ignored') {
      this.options.logger.warn('ignoring discovery response', { reason: outcome.reason });
      return;
    }
    const type = outcome.type;
    this.nonces.set(type, outcome.nonce);
    if (outcome.kind === 'nack') {
      this.stats.nacks++;
      this.stats.lastNack = outcome.message;
      this.options.logger.warn('rejected config (NACK)', { type, message: outcome.message });
      this.send({
        version_info: outcome.version,
        node: this.options.node,
        resource_names: this.cache.resourceNames(type),
        type_url: TYPE_BY_SHORT[type],
        response_nonce: outcome.nonce,
        error_detail: { code: 3, message: outcome.message },
      });
      return;
    }
    this.stats.acks++;
    for (const w of outcome.warnings)
      this.options.logger.warn('accepted config with a warning', { type, warning: w });
    this.options.logger.debug('accepted config (ACK)', { type, version: outcome.version });
    this.request(type);
    if (type === 'CDS') {
      this.syncEndpoints();
      if (!this.requested.has('LDS')) this.request('LDS');
    } else if (type === 'LDS') {
      this.syncRoutes();
    }
    this.options.onSnapshot(this.cache.snapshot());
  }

  private syncEndpoints(): void {
    const changed = this.cache.setSubscription('EDS', this.cache.wantedEndpointNames());
    if ((changed || !this.requested.has('EDS')) && this.cache.resourceNames('EDS').length > 0)
      this.request('EDS');
  }

  private syncRoutes(): void {
    const changed = this.cache.setSubscription('RDS', this.cache.wantedRouteNames());
    if ((changed || !this.requested.has('RDS')) && this.cache.resourceNames('RDS').length > 0)
      this.request('RDS');
  }
}
