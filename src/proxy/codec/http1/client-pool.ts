/**
 * The HTTP/1.1 connections to one upstream endpoint, as node's keep-alive http.Agent kept them
 * before (same limits and order): at most `maxConnections` open (the cluster's circuit breaker
 * `max_connections`), requests beyond that wait in order for a connection to come free, idle
 * connections are reused most recently used first (fewer warm connections, better cache
 * locality) and closed after 60 s idle or when the upstream closes them.
 */
import type { UpstreamSocket } from '../../upstream/transport.js';
import { Http1ClientConnection, type ConnectionOwner, type Http1ClientRequest } from './client-connection.js';

export const IDLE_TIMEOUT_MS = 60_000;

export class Http1Pool implements ConnectionOwner {
  private readonly idle: Http1ClientConnection[] = [];
  private waiting: Http1ClientRequest[] = [];
  private readonly all = new Set<Http1ClientConnection>();
  private retired = false;

  constructor(
    readonly host: string,
    readonly port: number,
    public maxConnections: number,
    /** `host:port`, what config pushes keep pools by. */
    readonly endpoint = `${host}:${port}`,
    /** Opens a connection: plain TCP by default, TLS for clusters with a TLS transport socket. */
    readonly open?: () => UpstreamSocket,
  ) {}

  /** Connections open or connecting. */
  get size(): number {
    return this.all.size;
  }

  send(req: Http1ClientRequest): void {
    const idle = this.idle;
    while (idle.length > 0) {
      const conn = idle.pop()!;
      if (conn.reusable) {
        conn.assign(req);
        return;
      }
    }
    if (this.all.size < this.maxConnections) {
      this.connect(req);
    } else {
      req.queuedIn = this;
      this.waiting.push(req);
    }
  }

  /** Requests waiting for a connection. */
  get pending(): number {
    return this.waiting.length;
  }

  /** A waiting request was cancelled (timeout, client gone): it must not stay queued. */
  unqueue(req: Http1ClientRequest): void {
    const i = this.waiting.indexOf(req);
    if (i !== -1) this.waiting.splice(i, 1);
  }

  private connect(req: Http1ClientRequest): void {
    const conn = new Http1ClientConnection(this, req.spec.connectTimeoutMs);
    this.all.add(conn);
    conn.assign(req);
  }

  release(conn: Http1ClientConnection): void {
    const next = this.nextWaiting();
    if (next) {
      conn.assign(next);
      return;
    }
    if (this.retired) conn.destroy();
    else this.idle.push(conn);
  }

  removed(conn: Http1ClientConnection): void {
    this.all.delete(conn);
    const i = this.idle.lastIndexOf(conn);
    if (i !== -1) this.idle.splice(i, 1);
    // A request waiting for a free slot may now open its own connection.
    while (this.all.size < this.maxConnections) {
      const next = this.nextWaiting();
      if (!next) break;
      this.connect(next);
    }
  }

  private nextWaiting(): Http1ClientRequest | undefined {
    while (this.waiting.length > 0) {
      const r = this.waiting.shift()!;
      r.queuedIn = undefined;
      if (!r.cancelled) return r;
    }
    return undefined;
  }

  /** Closes connections idle for longer than `IDLE_TIMEOUT_MS` (called by a periodic sweep). */
  closeIdle(now: number): void {
    for (const conn of [...this.idle]) if (now - conn.idleSince > IDLE_TIMEOUT_MS) conn.destroy();
  }

  /** The endpoint left the config: idle connections close now, busy ones when released. */
  retire(): void {
    this.retired = true;
    for (const conn of [...this.idle]) conn.destroy();
  }

  /** Closes everything, in-flight requests too (they fail as resets). */
  destroy(): void {
    this.retired = true;
    const waiting = this.waiting;
    this.waiting = [];
    for (const r of waiting) r.cancel();
    for (const conn of [...this.all]) conn.destroy();
  }

  /** No connection open and no request waiting. */
  get empty(): boolean {
    return this.all.size === 0 && this.waiting.length === 0;
  }
}
