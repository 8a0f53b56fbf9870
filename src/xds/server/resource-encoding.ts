import { createHash } from 'node:crypto';
import { encodeMessage } from '../../protocol/protos.js';

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
