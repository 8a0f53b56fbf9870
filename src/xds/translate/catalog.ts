/**
 * The services of one registry snapshot, indexed for scope computation: by hostname
 * (case-insensitive, as host matching is), by namespace, with one fingerprint of the whole
 * service set (ports, resolution, exportTo, ...; endpoints excluded) and, lazily, one per
 * service's endpoint set. A push context whose registry snapshot is the previous one's reuses
 * the previous catalog as is; it reads nothing but that snapshot.
 */
import type { Endpoint, Service, ServiceIndexSnapshot } from '../../registry/types.js';
import { digest, fingerprint } from './memo.js';

export class ServiceCatalog {
  /** Every service, sorted by hostname. */
  readonly services: readonly Service[];
  /** Fingerprint of every Service (not their endpoints): equal means the same service set. */
  readonly fingerprint: string;
  private readonly position = new Map<Service, number>();
  private readonly byLowerHost = new Map<string, Service[]>();
  private readonly byNs = new Map<string, Service[]>();
  private readonly endpointFps = new Map<string, string>();
  private byAddress: Map<string, Endpoint[]> | undefined;

  constructor(readonly registry: ServiceIndexSnapshot) {
    this.services = [...registry.services].sort((a, b) => a.hostname.localeCompare(b.hostname));
    const fps: string[] = [];
    this.services.forEach((s, i) => {
      this.position.set(s, i);
      push(this.byLowerHost, s.hostname.toLowerCase(), s);
      push(this.byNs, s.namespace, s);
      fps.push(fingerprint(s));
    });
    this.fingerprint = digest(fps.join(','));
  }

  service(hostname: string): Service | undefined {
    return this.registry.service(hostname);
  }

  /** Services whose hostname equals `host` ignoring case (host matching ignores it). */
  byHostname(host: string): readonly Service[] {
    return this.byLowerHost.get(host.toLowerCase()) ?? [];
  }

  inNamespace(namespace: string): readonly Service[] {
    return this.byNs.get(namespace) ?? [];
  }

  /** `services` restricted to `chosen`, in the catalog's (hostname) order. */
  ordered(chosen: Iterable<Service>): Service[] {
    return [...chosen].sort((a, b) => (this.position.get(a) ?? 0) - (this.position.get(b) ?? 0));
  }

  endpoints(hostname: string): readonly Endpoint[] {
    return this.registry.endpoints(hostname);
  }

  /** Fingerprint of a service's endpoint set; computed once per registry snapshot. */
  endpointsFingerprint(hostname: string): string {
    let fp = this.endpointFps.get(hostname);
    if (fp === undefined) {
      fp = digest(JSON.stringify(this.registry.endpoints(hostname)));
      this.endpointFps.set(hostname, fp);
    }
    return fp;
  }

  /** Instances whose address is one of `addresses`: the workloads a sidecar sits beside. */
  instancesAt(addresses: readonly string[]): Endpoint[] {
    if (this.byAddress === undefined) {
      const map = new Map<string, Endpoint[]>();
      for (const svc of this.services) {
        for (const ep of this.registry.endpoints(svc.hostname)) push(map, ep.address, ep);
      }
      this.byAddress = map;
    }
    const out: Endpoint[] = [];
    for (const a of addresses) out.push(...(this.byAddress.get(a) ?? []));
    return out;
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  let list = map.get(key);
  if (!list) map.set(key, (list = []));
  list.push(value);
}
