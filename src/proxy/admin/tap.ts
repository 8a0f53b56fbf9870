/**
 * Live requests through the proxy (`trellis tap`), served on the admin endpoint:
 *   GET /tap?path=PREFIX&method=M&authority=A&max=N
 * answers NDJSON over a chunked response, one line per finished HTTP request that matches
 * (method, authority, path, status, response flags, duration, upstream cluster and host, request
 * id: what `trellis explain --request-id` takes for a failed request), and
 * ends after `max` lines (default: until the client goes away).
 *
 * The data path never waits for a tap client: each event is written only while the client's
 * socket accepts more (`write` returned true); while it does not, events are dropped and
 * counted, and the count goes out as `{"dropped":N}` once the client drains. The observer is
 * installed on the stream-end hook only while a client is connected, so an untapped proxy pays
 * one undefined check per request.
 */
import type http from 'node:http';
import { flagsText } from '../connection-manager/response-flags.js';
import type { StreamInfo } from '../connection-manager/stream-info.js';

export interface TapFilter {
  pathPrefix?: string;
  method?: string;
  authority?: string;
  max?: number;
}

export interface TapEvent {
  time: string;
  method: string;
  authority: string;
  path: string;
  status: number;
  flags: string;
  durationMs: number;
  upstreamCluster: string;
  upstreamHost: string;
  reporter: string;
  /** x-request-id ('' when none): `trellis explain --from PROXY --request-id ID` for a failed one. */
  requestId: string;
}

/** Where the hub installs itself: the access log writer's per-stream observer. */
export interface StreamObserverSlot {
  observer: ((info: StreamInfo) => void) | undefined;
}

/** The writable half of a tap response (an http.ServerResponse in the proxy). */
export interface TapSink {
  write(chunk: string): boolean;
  end(): void;
  once(event: 'drain' | 'close', fn: () => void): unknown;
}

export function tapMatches(f: TapFilter, info: Pick<StreamInfo, 'method' | 'path' | 'authority'>): boolean {
  if (f.pathPrefix !== undefined && !info.path.startsWith(f.pathPrefix)) return false;
  if (f.method !== undefined && info.method.toUpperCase() !== f.method.toUpperCase()) return false;
  if (f.authority !== undefined && info.authority.toLowerCase() !== f.authority.toLowerCase()) return false;
  return true;
}

export function tapEvent(info: StreamInfo): TapEvent {
  return {
    time: new Date(info.startWallMs).toISOString(),
    method: info.method,
    authority: info.authority,
    path: info.path,
    status: info.status,
    flags: flagsText(info.flags),
    durationMs: Math.round(info.durationMs * 10) / 10,
    upstreamCluster: info.upstreamCluster ?? '',
    upstreamHost: info.upstreamHost ?? '',
    reporter: info.reporter,
    requestId: info.requestId,
  };
}

interface Client {
  filter: TapFilter;
  sink: TapSink;
  sent: number;
  dropped: number;
  blocked: boolean;
}

/** The query of GET /tap as a filter; a problem is a message for a 400. */
export function parseTapQuery(query: URLSearchParams): TapFilter | string {
  const f: TapFilter = {};
  for (const k of query.keys()) {
    if (!['path', 'method', 'authority', 'max'].includes(k))
      return `unknown parameter ${JSON.stringify(k)}; /tap takes path, method, authority, max`;
  }
  const path = query.get('path');
  if (path !== null) f.pathPrefix = path;
  const method = query.get('method');
  if (method !== null) f.method = method;
  const authority = query.get('authority');
  if (authority !== null) f.authority = authority;
  const max = query.get('max');
  if (max !== null) {
    const n = Number(max);
    if (!Number.isInteger(n) || n < 1)
      return `max=${JSON.stringify(max)}: expected a whole number of requests, at least 1`;
    f.max = n;
  }
  return f;
}

export class TapHub {
  private readonly clients = new Set<Client>();

  constructor(private readonly slot: StreamObserverSlot) {}

  get size(): number {
    return this.clients.size;
  }

  /** Streams matching requests to `sink` until it closes or `max` were sent. */
  add(filter: TapFilter, sink: TapSink): void {
    const c: Client = { filter, sink, sent: 0, dropped: 0, blocked: false };
    this.clients.add(c);
    this.slot.observer = (info) => this.publish(info);
    sink.once('close', () => this.remove(c));
  }

  private remove(c: Client): void {
    this.clients.delete(c);
    if (this.clients.size === 0) this.slot.observer = undefined;
  }

  publish(info: StreamInfo): void {
    if (info.method === '') return; // a TCP connection, not a request
    for (const c of this.clients) {
      if (!tapMatches(c.filter, info)) continue;
      if (c.blocked) {
        c.dropped++;
        continue;
      }
      c.sent++;
      const ok = c.sink.write(JSON.stringify(tapEvent(info)) + '\n');
      if (c.filter.max !== undefined && c.sent >= c.filter.max) {
        this.remove(c);
        c.sink.end();
      } else if (!ok) {
        c.blocked = true;
        c.sink.once('drain', () => {
          c.blocked = false;
          if (c.dropped > 0 && this.clients.has(c)) {
            c.sink.write(JSON.stringify({ dropped: c.dropped }) + '\n');
            c.dropped = 0;
          }
        });
      }
    }
  }

  /** Ends every tap response (the admin server is closing). */
  close(): void {
    for (const c of [...this.clients]) {
      this.remove(c);
      c.sink.end();
    }
  }
}

/** The admin route: a 400 for a bad query, else the chunked NDJSON stream. */
export function serveTap(hub: TapHub, query: URLSearchParams, res: http.ServerResponse): void {
  const filter = parseTapQuery(query);
  if (typeof filter === 'string') {
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end(filter + '\n');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  res.flushHeaders();
  hub.add(filter, res);
}
