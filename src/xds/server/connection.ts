import type { ProxyNode } from '../proxy-node.js';

/** What the server knows about one resource type on one stream. */
export interface TypeState {
  /** Names subscribed (SotW: the last request's resource_names; delta: the running set). */
  names: Set<string>;
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
  /** What the client holds: resource name -> encoded bytes (and its version, for delta). */
  sent: Map<string, { bytes: Uint8Array; version: string }>;
}

export function newTypeState(): TypeState {
  return {
    names: new Set(),
    wildcard: false,
    subscribed: false,
    lastSentVersion: '',
    lastSentNonce: '',
    lastSentAt: 0,
    lastAckedVersion: '',
    lastAckedNonce: '',
    nack: undefined,
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
