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

/** The part of a gRPC duplex stream a Connection uses. */
export interface ResponseStream {
  write(message: object, cb: () => void): unknown;
  end(): void;
  getPeer(): string;
  on(event: 'close' | 'error' | 'cancelled', listener: () => void): unknown;
}

/**
 * A Connection over `stream`. Sends resolve once the message is handed to the transport, so the
 * push workers bound the bytes in flight (one response per worker) instead of queueing a push
 * for every proxy; a send still waiting when the stream ends, however it ends, settles then, so
 * a worker never waits on a stream that is gone. `onEnd` runs once the stream is gone.
 */
export function streamConnection(
  stream: ResponseStream,
  init: { key: string; proxy: ProxyNode; mode: 'sotw' | 'delta'; connectedAt: number },
  onEnd: () => void,
): Connection {
  let ended = false;
  const waiting = new Set<() => void>();
  const settleSends = () => {
    for (const resolve of [...waiting]) resolve();
  };
  const conn: Connection = {
    ...init,
    peer: stream.getPeer(),
    types: new Map(),
    send: async (message) => {
      if (ended) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          waiting.delete(done);
          resolve();
        };
        waiting.add(done);
        stream.write(message, done);
      });
    },
    close: () => {
      if (!ended) {
        ended = true;
        stream.end();
      }
      settleSends();
    },
  };
  let gone = false;
  const drop = () => {
    ended = true;
    settleSends();
    if (!gone) {
      gone = true;
      onEnd();
    }
  };
  stream.on('close', drop);
  stream.on('error', drop);
  stream.on('cancelled', drop);
  return conn;
}
