import type { ProxyNode } from '../proxy-node.js';
import type { EncodedSet } from './resource-encoding.js';

/** What the server knows about one resource type on one stream. */
export interface TypeState {
  /** Names subscribed (SotW: the last request's resource_names; delta: the running set). */
  names: Set<string>;
  /** SotW: the last request's names joined, to tell a changed subscription cheaply. */
  namesKey: string;
  /** Subscribed to everything (LDS/CDS with no names, or `*`). */
  wildcard: boolean;
  /** The client asked for this type at least once. */
  subscribed: boolean;
  lastSentVersion: string;
  lastSentNonce: string;
  lastSentAt: number;
  lastAckedVersion: string;
  lastAckedNonce: string;
  nack: { version: string; nonce: string; message: string; at: number } | undefined;
  /** SotW: the set last sent (shared with other proxies that got the same one). */
  sotwSent: EncodedSet | undefined;
  /** Delta: what the client holds, resource name -> encoded bytes and version. */
  sent: Map<string, { bytes: Uint8Array; version: string }>;
}

/** What the client holds of this type, by name. */
export function heldResources(s: TypeState): ReadonlyMap<string, Uint8Array> {
  if (s.sotwSent) return s.sotwSent.entries;
  return new Map([...s.sent].map(([name, { bytes }]) => [name, bytes]));
}

export function newTypeState(): TypeState {
  return {
    names: new Set(),
    namesKey: '',
    wildcard: false,
    subscribed: false,
    lastSentVersion: '',
    lastSentNonce: '',
    lastSentAt: 0,
    lastAckedVersion: '',
    lastAckedNonce: '',
    nack: undefined,
    sotwSent: undefined,
    sent: new Map(),
  };
}

export type SyncStatus = 'SYNCED' | 'STALE' | 'NACK' | 'NOT SENT';

export function syncStatus(s: TypeState): SyncStatus {
  if (!s.lastSentNonce) return 'NOT SENT';
  if (s.nack && s.nack.nonce === s.lastSentNonce) return 'NACK';
  if (s.lastAckedNonce === s.lastSentNonce) return 'SYNCED';
  return 'STALE';
}

/** One ADS stream (a proxy may reconnect; each stream is its own Connection). */
export interface Connection {
  /** Unique per stream: `NODEID-N`. */
  readonly key: string;
  readonly proxy: ProxyNode;
  readonly mode: 'sotw' | 'delta';
  readonly connectedAt: number;
  readonly peer: string;
  readonly types: Map<string, TypeState>;
  /** Sends one response; resolves when the transport can take more (flow control). */
  send(message: object): Promise<void>;
  close(): void;
}

export function typeState(c: Connection, typeUrl: string): TypeState {
  let s = c.types.get(typeUrl);
  if (!s) c.types.set(typeUrl, (s = newTypeState()));
  return s;
}
