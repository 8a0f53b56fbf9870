/**
 * Runtime state per cluster: the hosts it may use and how one is chosen (policy/
 * cluster-load-balancer: priorities, panic, localities, then the cluster's lb_policy), circuit
 * breaker counters (policy/circuit-breaker), outlier detection (policy/outlier-detector, swept
 * on its interval), and the connection pools. Rebuilt from each config snapshot; host objects,
 * counters and outlier state survive updates that keep the cluster and the endpoint.
 */
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { Random } from '../../core/random.js';
import {
  clusterEndpoints,
  type ClusterConfig,
  type Endpoint,
  type EndpointSet,
  type ProxyConfigSnapshot,
} from '../model/config.js';
import { CircuitBreakers } from '../policy/circuit-breaker.js';
import { ClusterLoadBalancer } from '../policy/cluster-load-balancer.js';
import type { HostHealth, LocalityHosts, PriorityHost } from '../policy/locality.js';
import { OutlierDetector, type UpstreamOutcome } from '../policy/outlier-detector.js';
import { UpstreamPools } from './pools.js';
import type { SecretResolver } from '../identity/secret-resolver.js';
import { DnsCaches, type HostLookup } from './dns-cache.js';
import { AggregatePriority } from '../policy/aggregate-priority.js';

export class UpstreamHost implements PriorityHost {
  activeRequests = 0;
  health: HostHealth = 'healthy';
  constructor(public endpoint: Endpoint) {}
  get address(): string {
    return this.endpoint.key;
  }
  get weight(): number {
    return this.endpoint.weight;
  }
}

/** Envoy's per-cluster counter names, for /stats. */
export interface ClusterCounters {
  upstream_rq_total: number;
  upstream_rq_2xx: number;
  upstream_rq_3xx: number;
  upstream_rq_4xx: number;
  upstream_rq_5xx: number;
  upstream_rq_retry: number;
  upstream_rq_timeout: number;
  upstream_rq_per_try_timeout: number;
  upstream_cx_connect_fail: number;
  upstream_rq_rx_reset: number;
  upstream_rq_pending_overflow: number;
}

export interface UpstreamClaim {
  endpoint: Endpoint;
  /** Undefined for an ORIGINAL_DST request (its own destination, not a host of the cluster). */
  host: UpstreamHost | undefined;
  release: () => void;
}

export class ClusterRuntime {
  readonly counters: ClusterCounters = {
    upstream_rq_total: 0,
    upstream_rq_2xx: 0,
    upstream_rq_3xx: 0,
    upstream_rq_4xx: 0,
    upstream_rq_5xx: 0,
    upstream_rq_retry: 0,
    upstream_rq_timeout: 0,
    upstream_rq_per_try_timeout: 0,
    upstream_cx_connect_fail: 0,
    upstream_rq_rx_reset: 0,
    upstream_rq_pending_overflow: 0,
  };
  breakers: CircuitBreakers;
  outlier: OutlierDetector | undefined;
  /** Every endpoint, healthy or not, for /clusters. */
  hosts: UpstreamHost[] = [];
  private byKey = new Map<string, UpstreamHost>();
  private endpoints: EndpointSet | undefined;
  private balancer: ClusterLoadBalancer<UpstreamHost>;
  /** Hosts by priority and locality, with their current health (what aggregates combine). */
  levels: readonly (readonly LocalityHosts<UpstreamHost>[])[] = [];
  /** Bumped on every membership or health change, so aggregates know when to recompute. */
  generation = 0;
  private sweepTimer: TimerHandle | undefined;

  constructor(
    public config: ClusterConfig,
    private readonly clock: Clock,
    private readonly random: Random,
  ) {
    this.breakers = new CircuitBreakers(config.circuitBreakers);
    this.balancer = new ClusterLoadBalancer(config.lb, [], config.priorityOptions, random);
  }

  update(config: ClusterConfig, endpoints: EndpointSet | undefined): void {
    if (JSON.stringify(config.circuitBreakers) !== JSON.stringify(this.config.circuitBreakers)) {
      this.breakers = new CircuitBreakers(config.circuitBreakers);
    }
    if (
      JSON.stringify(config.outlier) !== JSON.stringify(this.config.outlier) ||
      (config.outlier && !this.outlier)
    ) {
      this.stopSweeps();
      this.outlier = config.outlier
        ? new OutlierDetector(config.outlier, { clock: this.clock, random: this.random })
        : undefined;
      this.scheduleSweep();
    }
    this.config = config;
    this.endpoints = endpoints;
    const next = new Map<string, UpstreamHost>();
    for (const loc of endpoints?.localities ?? []) {
      for (const ep of loc.endpoints) {
        const host = this.byKey.get(ep.key) ?? new UpstreamHost(ep);
        host.endpoint = ep;
        next.set(ep.key, host);
      }
    }
    this.byKey = next;
    this.hosts = [...next.values()];
    this.outlier?.setHosts(next.keys());
    this.rebuild();
  }

  /** New balancer over current membership and health (EDS status and outlier ejection). */
  private rebuild(): void {
    const levels: LocalityHosts<UpstreamHost>[][] = [];
    for (const loc of this.endpoints?.localities ?? []) {
      const hosts = loc.endpoints.map((ep) => {
        const h = this.byKey.get(ep.key)!;
        h.health =
          !ep.healthy || this.outlier?.isEjected(ep.key)
            ? 'unhealthy'
            : ep.healthStatus === 'DEGRADED'
              ? 'degraded'
              : 'healthy';
        return h;
      });
      const level = (levels[loc.priority] ??= []);
      level.push({ locality: loc.locality, weight: loc.weight, hosts });
    }
    for (let i = 0; i < levels.length; i++) levels[i] ??= [];
    this.levels = levels;
    this.generation++;
    const options = {
      ...this.config.priorityOptions,
      overprovisioningFactor: this.endpoints?.overprovisioningFactor ?? 140,
    };
    this.balancer = new ClusterLoadBalancer(this.config.lb, levels, options, this.random);
  }

  pick(hash?: bigint, exclude?: ReadonlySet<UpstreamHost>): UpstreamHost | undefined {
    const ctx: { hash?: bigint; exclude?: ReadonlySet<UpstreamHost> } = {};
    if (hash !== undefined) ctx.hash = hash;
    if (exclude !== undefined) ctx.exclude = exclude;
    return this.balancer.pick(ctx);
  }

  /**
   * One attempt's hold on the cluster: a slot of its `requests` circuit breaker and a host (or,
   * for ORIGINAL_DST, the request's own destination), counted in the host's rq_active until
   * `release` (idempotent). 'overflow' (counted) or 'no-host' when either is not to be had.
   */
  claim(
    originalDestination: Endpoint | undefined,
    hash?: bigint,
    exclude?: ReadonlySet<UpstreamHost>,
  ): UpstreamClaim | 'overflow' | 'no-host' {
    const releaseSlot = this.breakers.forPriority().tryAcquire('requests');
    if (!releaseSlot) {
      this.counters.upstream_rq_pending_overflow++;
      return 'overflow';
    }
    const host = originalDestination ? undefined : this.pick(hash, exclude);
    const endpoint = originalDestination ?? host?.endpoint;
    if (!endpoint) {
      releaseSlot();
      return 'no-host';
    }
    if (host) host.activeRequests++;
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      releaseSlot();
      if (host) host.activeRequests--;
    };
    return { endpoint, host, release };
  }

  /** The cluster whose settings (TLS, HTTP/2, timeouts) connect to an endpoint this cluster picked. */
  configFor(_endpoint: Endpoint): ClusterConfig {
    return this.config;
  }

  /** Whether `host` is one of this cluster's own host objects. */
  owns(host: UpstreamHost): boolean {
    return this.byKey.get(host.address) === host;
  }

  /** The cluster's `retries` circuit breaker, as the router's retry layer takes it. */
  readonly retryBreaker = {
    tryAcquire: (): (() => void) | undefined => {
      const release = this.breakers.forPriority().tryAcquire('retries');
      if (release) this.counters.upstream_rq_retry++;
      return release;
    },
  };

  /** Feeds outlier detection; an ejection takes effect for the next pick. */
  record(host: UpstreamHost | undefined, outcome: UpstreamOutcome): void {
    const c = this.counters;
    c.upstream_rq_total++;
    if (outcome.kind === 'response') {
      const cls = Math.floor(outcome.status / 100);
      if (cls === 2) c.upstream_rq_2xx++;
      else if (cls === 3) c.upstream_rq_3xx++;
      else if (cls === 4) c.upstream_rq_4xx++;
      else if (cls === 5) c.upstream_rq_5xx++;
    } else if (outcome.kind === 'connect-failure') c.upstream_cx_connect_fail++;
    else if (outcome.kind === 'reset') c.upstream_rq_rx_reset++;
    if (!host || !this.outlier) return;
    if (this.outlier.record(host.address, outcome)) this.rebuild();
  }

  private scheduleSweep(): void {
    const outlier = this.outlier;
    if (!outlier) return;
    this.sweepTimer = this.clock.setTimeout(() => {
      if (outlier !== this.outlier) return;
      if (outlier.evaluate().length > 0) this.rebuild();
      this.scheduleSweep();
    }, outlier.intervalMs);
  }

  stopSweeps(): void {
    this.sweepTimer?.cancel();
    this.sweepTimer = undefined;
  }
}

/**
 * An aggregate cluster (Envoy's `envoy.clusters.aggregate`): no hosts of its own; each request
 * goes to one of its member clusters, chosen by the priority load over the members' levels laid
 * end to end (policy/aggregate-priority), and then to a host that member picks. It follows the
 * members' endpoint, health and outlier changes as they happen (their `generation`), so a retry
 * after an ejection may land on the next member, as in Envoy. The attempt holds a `requests`
 * slot of both the aggregate (whose breakers, and retry budget, the route's retries see) and the
 * member; outcomes feed the member's outlier detection and counters.
 */
export class AggregateClusterRuntime extends ClusterRuntime {
  private chosen:
    { key: string; members: ClusterRuntime[]; priority: AggregatePriority<UpstreamHost> } | undefined;

  constructor(
    config: ClusterConfig,
    clock: Clock,
    private readonly aggregateRandom: Random,
    private readonly lookup: (name: string) => ClusterRuntime | undefined,
  ) {
    super(config, clock, aggregateRandom);
  }

  /** The members that exist now (Envoy skips names it has no cluster for), in order. */
  private members(): { members: ClusterRuntime[]; priority: AggregatePriority<UpstreamHost> } {
    const members = (this.config.aggregateClusters ?? [])
      .map((n) => this.lookup(n))
      .filter((c): c is ClusterRuntime => c !== undefined && !(c instanceof AggregateClusterRuntime));
    const key = members.map((m) => `${m.config.name}@${m.generation}`).join('|');
    if (this.chosen?.key !== key || this.chosen.members.some((m, i) => m !== members[i])) {
      const options = { ...this.config.priorityOptions, localityWeighted: false };
      this.chosen = {
        key,
        members,
        priority: new AggregatePriority(
          members.map((m) => m.levels),
          options,
        ),
      };
    }
    return this.chosen;
  }

  private member(hash?: bigint): ClusterRuntime | undefined {
    const { members, priority } = this.members();
    const i = priority.choose(this.aggregateRandom, hash);
    return i === undefined ? undefined : members[i];
  }

  override pick(hash?: bigint, exclude?: ReadonlySet<UpstreamHost>): UpstreamHost | undefined {
    return this.member(hash)?.pick(hash, exclude);
  }

  override claim(
    _originalDestination: Endpoint | undefined,
    hash?: bigint,
    exclude?: ReadonlySet<UpstreamHost>,
  ): UpstreamClaim | 'overflow' | 'no-host' {
    const member = this.member(hash);
    if (member === undefined) return 'no-host';
    const releaseOwn = this.breakers.forPriority().tryAcquire('requests');
    if (!releaseOwn) {
      this.counters.upstream_rq_pending_overflow++;
      return 'overflow';
    }
    const claim = member.claim(undefined, hash, exclude);
    if (typeof claim === 'string') {
      releaseOwn();
      return claim;
    }
    return {
      ...claim,
      release: () => {
        claim.release();
        releaseOwn();
      },
    };
  }

  override configFor(endpoint: Endpoint): ClusterConfig {
    for (const m of this.members().members) {
      if (m.hosts.some((h) => h.endpoint === endpoint)) return m.configFor(endpoint);
    }
    return this.config;
  }

  override record(host: UpstreamHost | undefined, outcome: UpstreamOutcome): void {
    const owner = host === undefined ? undefined : this.members().members.find((m) => m.owns(host));
    if (owner) owner.record(host, outcome);
    else super.record(host, outcome);
  }
}

export class ClusterManager {
  readonly pools: UpstreamPools;
  /** Dynamic forward proxy DNS caches by name (the clusters and filters naming them share one). */
  readonly dnsCaches: DnsCaches;
  private readonly clusters = new Map<string, ClusterRuntime>();
  private snapshot: ProxyConfigSnapshot | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly random: Random,
    /** Secrets for TLS transport sockets; absent: TLS clusters fail to connect. */
    secrets?: SecretResolver,
    /** How dynamic forward proxy clusters resolve hosts; getaddrinfo by default. */
    lookup?: HostLookup,
  ) {
    this.pools = new UpstreamPools(secrets);
    this.dnsCaches = new DnsCaches(clock, lookup);
  }

  get(name: string): ClusterRuntime | undefined {
    return this.clusters.get(name);
  }

  all(): IterableIterator<ClusterRuntime> {
    return this.clusters.values();
  }

  update(snapshot: ProxyConfigSnapshot): void {
    if (snapshot === this.snapshot) return;
    this.snapshot = snapshot;
    const live = new Set<string>();
    for (const [name, config] of snapshot.clusters) {
      let rt = this.clusters.get(name);
      const aggregate = config.type === 'AGGREGATE';
      if (!rt || rt instanceof AggregateClusterRuntime !== aggregate) {
        rt?.stopSweeps();
        rt = aggregate
          ? new AggregateClusterRuntime(config, this.clock, this.random, (n) => this.clusters.get(n))
          : new ClusterRuntime(config, this.clock, this.random);
        this.clusters.set(name, rt);
      }
      rt.update(config, clusterEndpoints(snapshot, config));
      for (const h of rt.hosts) live.add(h.endpoint.key);
    }
    for (const [name, rt] of [...this.clusters]) {
      if (snapshot.clusters.has(name)) continue;
      rt.stopSweeps();
      this.clusters.delete(name);
    }
    this.pools.retain(live);
  }

  close(): void {
    for (const rt of this.clusters.values()) rt.stopSweeps();
    this.pools.closeAll();
  }
}
