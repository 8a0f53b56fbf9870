import type { Clock, TimerHandle } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import { TrellisError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';
import { fqdn, portProtocol } from '../api/hosts.js';
import type { Endpoint, Service, ServiceIndexSnapshot, ServicePort } from './types.js';

/**
 * The service index: services and their endpoints from every registry source, as immutable
 * snapshots. Sources replace their whole contribution (`setSource`) and the index merges them:
 * a hostname's service comes from the first source that declares it (config before
 * registrations), and endpoints from all sources are combined.
 */
export interface SourceContribution {
  services: readonly Service[];
  endpoints: readonly Endpoint[];
}

/**
 * Called after the merged view changed. It carries no description of the change on purpose:
 * which proxies and types a change affects is decided by the translation, which compares its
 * generators' input keys between two push contexts (xds/translate affectedTypes): an
 * endpoint-only change moves only EDS there, except for DNS clusters, whose endpoints are inline
 * in CDS, which a per-host "endpoints changed" set could not tell.
 */
export type IndexListener = () => void;

class IndexSnapshot implements ServiceIndexSnapshot {
  readonly services: readonly Service[];
  private readonly byHost: ReadonlyMap<string, Service>;

  constructor(
    readonly version: number,
    services: Map<string, Service>,
    private readonly eps: ReadonlyMap<string, readonly Endpoint[]>,
  ) {
    this.byHost = services;
    this.services = Object.freeze(
      [...services.values()].sort((a, b) => a.hostname.localeCompare(b.hostname)),
    );
    Object.freeze(this);
  }

  service(hostname: string): Service | undefined {
    return this.byHost.get(hostname);
  }

  endpoints(hostname: string): readonly Endpoint[] {
    return this.eps.get(hostname) ?? [];
  }
}

export class ServiceIndex {
  private readonly sources = new Map<string, SourceContribution>();
  private readonly listeners = new Set<IndexListener>();
  private current: IndexSnapshot = new IndexSnapshot(0, new Map(), new Map());
  private fingerprint = JSON.stringify([[], []]);

  /** Source names in precedence order; unknown names sort after these. */
  constructor(private readonly precedence: readonly string[] = ['config', 'registration']) {}

  snapshot(): ServiceIndexSnapshot {
    return this.current;
  }

  onChange(listener: IndexListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Replaces one source's contribution; emits a change when the merged view differs. */
  setSource(name: string, contribution: SourceContribution): void {
    this.sources.set(name, contribution);
    this.rebuild();
  }

  private rebuild(): void {
    const order = [...this.sources.keys()].sort(
      (a, b) => rank(this.precedence, a) - rank(this.precedence, b),
    );
    const services = new Map<string, Service>();
    const endpoints = new Map<string, Endpoint[]>();
    for (const name of order) {
      const c = this.sources.get(name) as SourceContribution;
      for (const s of c.services) if (!services.has(s.hostname)) services.set(s.hostname, Object.freeze(s));
      for (const e of c.endpoints) {
        let list = endpoints.get(e.hostname);
        if (!list) endpoints.set(e.hostname, (list = []));
        list.push(Object.freeze(e));
      }
    }
    for (const list of endpoints.values()) list.sort(compareEndpoints);

    // One fingerprint of the merged view: an identical contribution is not a change.
    // Sorted by host, so a source listing the same things in another order changes nothing.
    const byHost = <T>(m: Map<string, T>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const fingerprint = JSON.stringify([byHost(services), byHost(endpoints)]);
    if (fingerprint === this.fingerprint) return;
    this.fingerprint = fingerprint;
    this.current = new IndexSnapshot(this.current.version + 1, services, endpoints);
    for (const l of this.listeners) l();
  }
}

function rank(order: readonly string[], name: string): number {
  const i = order.indexOf(name);
  return i === -1 ? order.length : i;
}

function compareEndpoints(a: Endpoint, b: Endpoint): number {
  return a.address.localeCompare(b.address) || JSON.stringify(a.ports).localeCompare(JSON.stringify(b.ports));
}

// --- the registration source: register, heartbeat with TTL, deregister ------------------------

export interface Registration {
  /** Service host; short names are qualified with the namespace (`reviews` -> `reviews.default.svc.cluster.local`). */
  service: string;
  namespace?: string;
  address: string;
  /** Port name -> number, e.g. `{ http: 9080 }`. Names carry the protocol as in Istio (`http`, `grpc-api`, `tcp`). */
  ports: Record<string, number>;
  labels?: Record<string, string>;
  locality?: string;
  weight?: number;
  workloadName?: string;
  serviceAccount?: string;
  /** Seconds without a heartbeat after which the instance leaves the index. Default 30. */
  ttlSeconds?: number;
  /** Stable id; defaults to `service/address:firstPort`. Re-registering the same id replaces it. */
  id?: string;
}

interface Instance {
  reg: ValidRegistration;
  hostname: string;
  expiry: TimerHandle;
  lastHeartbeat: number;
}

export interface RegisteredInstance {
  id: string;
  hostname: string;
  address: string;
  ports: Record<string, number>;
  labels: Record<string, string>;
  ttlSeconds: number;
  /** Milliseconds since the last heartbeat. */
  sinceHeartbeatMs: number;
}

/**
 * Instances that announce themselves over the API and must keep heart-beating. An instance
 * whose TTL passes without a heartbeat is removed, which removes it from EDS.
 */
export class RegistrationSource {
  private readonly instances = new Map<string, Instance>();

  constructor(
    private readonly index: ServiceIndex,
    private readonly options: { clock?: Clock; logger?: Logger; domainSuffix?: string } = {},
  ) {}

  private get clock(): Clock {
    return this.options.clock ?? systemClock;
  }

  private get logger(): Logger {
    return this.options.logger ?? silentLogger;
  }

  register(input: Registration): string {
    const reg = validateRegistration(input);
    const hostname = fqdn(reg.service, reg.namespace, this.options.domainSuffix);
    const id = registrationId(reg, hostname);
    this.instances.get(id)?.expiry.cancel();
    this.instances.set(id, {
      reg,
      hostname,
      expiry: this.arm(id, reg.ttlSeconds),
      lastHeartbeat: this.clock.now(),
    });
    this.logger.info('instance registered', { id, service: hostname, address: reg.address });
    this.publish();
    return id;
  }

  heartbeat(id: string): void {
    const inst = this.instances.get(id);
    if (!inst) {
      throw new TrellisError(
        'TRELLIS_NOT_FOUND',
        `no registered instance ${JSON.stringify(id)} (expired or never registered): register it again`,
      );
    }
    inst.expiry.cancel();
    inst.expiry = this.arm(id, inst.reg.ttlSeconds);
    inst.lastHeartbeat = this.clock.now();
  }

  deregister(id: string): boolean {
    const inst = this.instances.get(id);
    if (!inst) return false;
    inst.expiry.cancel();
    this.instances.delete(id);
    this.logger.info('instance deregistered', { id });
    this.publish();
    return true;
  }

  list(): RegisteredInstance[] {
    const now = this.clock.now();
    return [...this.instances].map(([id, i]) => ({
      id,
      hostname: i.hostname,
      address: i.reg.address,
      ports: i.reg.ports,
      labels: i.reg.labels ?? {},
      ttlSeconds: i.reg.ttlSeconds,
      sinceHeartbeatMs: now - i.lastHeartbeat,
    }));
  }

  close(): void {
    for (const i of this.instances.values()) i.expiry.cancel();
  }

  private arm(id: string, ttlSeconds: number): TimerHandle {
    return this.clock.setTimeout(() => {
      if (!this.instances.has(id)) return;
      this.instances.delete(id);
      this.logger.warn('instance expired: no heartbeat within its TTL', { id, ttlSeconds });
      this.publish();
    }, ttlSeconds * 1000);
  }

  private publish(): void {
    this.index.setSource('registration', registrationContribution([...this.instances.values()]));
  }
}

/**
 * The services and endpoints a set of registrations contributes to the index (one service per
 * hostname, its ports the union of its instances' ports). Shared by the in-memory source and the
 * etcd-backed one (controlplane/etcd-registrations.ts).
 */
export function registrationContribution(
  instances: readonly { reg: ValidRegistration; hostname: string }[],
): SourceContribution {
  const services = new Map<string, Service>();
  const endpoints: Endpoint[] = [];
  for (const { reg, hostname } of instances) {
    let svc = services.get(hostname);
    if (!svc) {
      svc = {
        hostname,
        namespace: reg.namespace,
        ports: [],
        resolution: 'STATIC',
        location: 'MESH_INTERNAL',
        addresses: [],
        labels: {},
        source: 'registration',
      };
      services.set(hostname, svc);
    }
    const ports = svc.ports as ServicePort[];
    for (const [name, number] of Object.entries(reg.ports)) {
      if (!ports.some((p) => p.name === name)) ports.push({ name, number, protocol: portProtocol(name) });
    }
    endpoints.push({
      hostname,
      namespace: reg.namespace,
      address: reg.address,
      ports: reg.ports,
      labels: reg.labels ?? {},
      locality: reg.locality ?? '',
      weight: reg.weight ?? 1,
      healthy: true,
      ...(reg.workloadName ? { workloadName: reg.workloadName } : {}),
      ...(reg.serviceAccount ? { serviceAccount: reg.serviceAccount } : {}),
    });
  }
  for (const s of services.values()) (s.ports as ServicePort[]).sort((a, b) => a.number - b.number);
  return { services: [...services.values()], endpoints };
}

/** A registration with its defaults filled in. */
export type ValidRegistration = Required<
  Pick<Registration, 'service' | 'namespace' | 'address' | 'ports' | 'ttlSeconds'>
> &
  Registration;

/** The stable id of a registration: its own, or `hostname/address:firstPort`. */
export function registrationId(reg: ValidRegistration, hostname: string): string {
  return reg.id ?? `${hostname}/${reg.address}:${Object.values(reg.ports)[0] ?? 0}`;
}

/** Checks a registration from the API; throws TRELLIS_INVALID_ARGUMENT with the field path. */
export function validateRegistration(r: Registration): ValidRegistration {
  const bad = (path: string, msg: string) => new TrellisError('TRELLIS_INVALID_ARGUMENT', msg, { path });
  if (typeof r !== 'object' || r === null)
    throw bad('', 'expected an object with service, address and ports');
  if (typeof r.service !== 'string' || r.service === '')
    throw bad('service', 'service: required, e.g. "reviews"');
  if (typeof r.address !== 'string' || r.address === '')
    throw bad('address', 'address: required, e.g. "127.0.0.1"');
  if (typeof r.ports !== 'object' || r.ports === null || Object.keys(r.ports).length === 0) {
    throw bad('ports', 'ports: required, e.g. {"http": 9080}');
  }
  for (const [name, n] of Object.entries(r.ports)) {
    if (!Number.isInteger(n) || n < 1 || n > 65535)
      throw bad(`ports.${name}`, `ports.${name}: expected a port number 1-65535`);
  }
  const ttl = r.ttlSeconds ?? 30;
  if (!(ttl > 0)) throw bad('ttlSeconds', 'ttlSeconds: expected a positive number');
  if (r.weight !== undefined && !(Number.isInteger(r.weight) && r.weight >= 1)) {
    throw bad('weight', 'weight: expected a whole number >= 1');
  }
  return { ...r, namespace: r.namespace ?? 'default', ttlSeconds: ttl };
}
