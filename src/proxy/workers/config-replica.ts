/**
 * Config from the primary to the workers of `trellis proxy --concurrency N`.
 *
 * The primary turns the accepted resources of its xDS cache into `WireType`s (`toWire`), only
 * for the types that changed since the last send (`changedTypes`). A worker's `ConfigReplica`
 * feeds them through its own XdsResourceCache as state-of-the-world responses, one whole type at
 * a time, so it converts the same bytes with the same code and builds the same snapshot the
 * primary built (and a single-process proxy would). The primary already judged the resources;
 * a problem here would mean the two processes run different code, and is reported, not hidden.
 */
import type { ProxyConfigSnapshot, XdsShortType } from '../model/config.js';
import { TYPE_BY_SHORT, XdsResourceCache } from '../xds-client/resource-cache.js';
import type { TlsConvertOptions } from '../model/convert-tls.js';
import type { WireType } from './ipc.js';

const TYPES: readonly XdsShortType[] = ['CDS', 'EDS', 'LDS', 'RDS', 'SDS'];

/** Every resource of the given types in `snapshot`, ready for IPC. */
export function toWire(snapshot: ProxyConfigSnapshot, types: Iterable<XdsShortType>): WireType[] {
  const out: WireType[] = [];
  for (const type of types) {
    out.push({
      type,
      version: snapshot.versions[type],
      resources: [...snapshot.raw[type].values()].map((r) => ({
        name: r.name,
        typeUrl: r.resource.type_url,
        value: Buffer.from(r.resource.value).toString('base64'),
      })),
    });
  }
  return out;
}

/**
 * The types accepted in `next` whose resources or version differ from `prev` (every accepted
 * type when there is no `prev`). The cache keeps a resource's record while it is unchanged, so
 * identity is enough; a state-of-the-world response renews every record of its type.
 */
export function changedTypes(
  prev: ProxyConfigSnapshot | undefined,
  next: ProxyConfigSnapshot,
): XdsShortType[] {
  return TYPES.filter((type) => {
    if (!next.received.has(type)) return false;
    if (prev === undefined || !prev.received.has(type)) return true;
    if (prev.versions[type] !== next.versions[type]) return true;
    const a = prev.raw[type];
    const b = next.raw[type];
    if (a.size !== b.size) return true;
    for (const [name, r] of b) if (a.get(name) !== r) return true;
    return false;
  });
}

export class ConfigReplica {
  private readonly cache: XdsResourceCache;

  constructor(now: () => number = Date.now, options?: TlsConvertOptions) {
    this.cache = new XdsResourceCache(now, options);
  }

  snapshot(): ProxyConfigSnapshot {
    return this.cache.snapshot();
  }

  /** Replaces each given type's whole set of resources; returns the problems, if any. */
  apply(types: readonly WireType[]): string[] {
    const problems: string[] = [];
    for (const t of types) {
      // Named types keep only what is subscribed: the subscription is exactly what was sent.
      if (t.type === 'EDS' || t.type === 'RDS' || t.type === 'SDS')
        this.cache.setSubscription(
          t.type,
          t.resources.map((r) => r.name),
        );
      const outcome = this.cache.handleResponse({
        type_url: TYPE_BY_SHORT[t.type],
        version_info: t.version,
        nonce: '',
        resources: t.resources.map((r) => ({ type_url: r.typeUrl, value: Buffer.from(r.value, 'base64') })),
      });
      if (outcome.kind === 'nack') problems.push(outcome.message);
      else if (outcome.kind === 'ignored') problems.push(outcome.reason);
    }
    return problems;
  }
}
