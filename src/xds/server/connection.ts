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
  /**
   * The newest push version whose resources of this type, for this proxy, equal the last
   * response sent: the version sent, carried forward while later pushes leave the type unchanged
   * (`sameAs`). Once that response is ACKed, the proxy runs this version's config of the type
   * (what `trellis wait` checks).
   */
  heldEquivalentTo: string;
  /** The same for the last response the proxy ACKed: the push whose config of the type it runs. */
  ackedEquivalentTo: string;
  /** Pushes that left this type unchanged for the proxy: previous version -> next (bounded). */
  sameAs: Map<string, string>;
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
    heldEquivalentTo: '',
    ackedEquivalentTo: '',
    sameAs: new Map(),
    sotwSent: undefined,
    sent: new Map(),
  };
}

/** How many unchanged-push links a type keeps (enough for pushes racing one send). */
const SAME_AS_LIMIT = 16;

/** Records that push `next` leaves this type as push `prev` had it for the proxy. */
export function noteUnchanged(s: TypeState, prev: string, next: string): void {
  if (prev === next) return;
  s.sameAs.set(prev, next);
  if (s.sameAs.size > SAME_AS_LIMIT) s.sameAs.delete(s.sameAs.keys().next().value as string);
  s.heldEquivalentTo = followUnchanged(s, s.heldEquivalentTo);
  s.ackedEquivalentTo = followUnchanged(s, s.ackedEquivalentTo);
}

/** Records that the last response (sent now, or found equal to what `version` holds) is `version`. */
export function noteHeld(s: TypeState, version: string): void {
  s.heldEquivalentTo = followUnchanged(s, version);
  // Found equal without a send: the proxy, if it ACKed the last response, runs this one too.
  if (syncStatus(s) === 'SYNCED') s.ackedEquivalentTo = s.heldEquivalentTo;
}

/** Records the ACK of the last response sent. */
export function noteAcked(s: TypeState): void {
  s.ackedEquivalentTo = s.heldEquivalentTo;
}

function followUnchanged(s: TypeState, version: string): string {
  let v = version;
  for (let i = 0; i <= SAME_AS_LIMIT; i++) {
    const next = s.sameAs.get(v);
    if (next === undefined) break;
    v = next;
  }
  return v;
}

/**
 * The push version whose config of this type the proxy runs: the last ACKed response's, carried
 * forward over pushes that left the type unchanged for it ('' before the first ACK).
 */
export function runningVersion(s: TypeState): string {
  return s.ackedEquivalentTo;
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
