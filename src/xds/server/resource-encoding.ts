import { createHash } from 'node:crypto';
import { encodeMessage } from '../../protocol/protos.js';
import { encodeResourceList } from './wire.js';

/**
 * Encoding generated resources to bytes, memoized by object identity: generators return the
 * same frozen object for the same key, so a resource shared by 1000 proxies is encoded once.
 */
const encoded = new WeakMap<object, Uint8Array>();
const versions = new WeakMap<Uint8Array, string>();

export function encodeResource(typeUrl: string, resource: object): Uint8Array {
  let bytes = encoded.get(resource);
  if (!bytes) {
    bytes = encodeMessage(typeUrl, resource);
    encoded.set(resource, bytes);
  }
  return bytes;
}

/** A short content hash: the per-resource version used by delta xDS. */
export function resourceVersion(bytes: Uint8Array): string {
  let v = versions.get(bytes);
  if (!v) {
    v = createHash('sha1').update(bytes).digest('base64url').slice(0, 16);
    versions.set(bytes, v);
  }
  return v;
}

export function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

/**
 * The resources of one type a proxy receives, encoded once and shared by every proxy that
 * receives the same set: `entries` for bookkeeping and config dumps, `list` as the wire bytes of
 * DiscoveryResponse.resources.
 */
export interface EncodedSet {
  readonly entries: ReadonlyMap<string, Uint8Array>;
  readonly list: Buffer;
  /** Resource bytes (without framing), for metrics. */
  readonly bytes: number;
}

/** Encoded sets by generated map identity, then by the requested-names key ('' = all of it). */
const sets = new WeakMap<ReadonlyMap<string, object>, Map<string, EncodedSet>>();
/** Distinct name filters cached per generated map; beyond this, sets are built uncached. */
const MAX_FILTERS_PER_MAP = 8;

/**
 * Encodes `resources` (optionally only those in `names`, identified by `namesKey`) as a shared
 * set. Resources that fail to encode are left out and reported through `onError`.
 */
export function encodeSet(
  typeUrl: string,
  resources: ReadonlyMap<string, object>,
  names: ReadonlySet<string> | undefined,
  namesKey: string,
  onError: (name: string, err: unknown) => void,
): EncodedSet {
  // A filter that keeps everything is the same set as no filter.
  let key = '';
  if (names) {
    for (const name of resources.keys()) {
      if (!names.has(name)) {
        key = namesKey;
        break;
      }
    }
  }
  let byKey = sets.get(resources);
  const cached = byKey?.get(key);
  if (cached) return cached;
  const entries = new Map<string, Uint8Array>();
  let bytes = 0;
  for (const [name, resource] of resources) {
    if (key !== '' && !names?.has(name)) continue;
    try {
      const encoded = encodeResource(typeUrl, resource);
      entries.set(name, encoded);
      bytes += encoded.length;
    } catch (err) {
      onError(name, err);
    }
  }
  const set: EncodedSet = { entries, list: encodeResourceList(typeUrl, [...entries.values()]), bytes };
  if (!byKey) sets.set(resources, (byKey = new Map<string, EncodedSet>()));
  if (byKey.size < MAX_FILTERS_PER_MAP) byKey.set(key, set);
  return set;
}

export function sameSet(a: EncodedSet | undefined, b: EncodedSet): boolean {
  if (a === b) return true;
  if (!a || a.entries.size !== b.entries.size || a.list.length !== b.list.length) return false;
  return a.list.equals(b.list);
}
