/**
 * Connection pools per upstream endpoint: the hand-written HTTP/1.1 pool (src/proxy/codec/http1, keep-
 * alive, limited to the cluster's max_connections) and one multiplexed session for HTTP/2 (h2c).
 * Pools of endpoints that left the config are closed once they are idle.
 */
import http2 from 'node:http2';
import { Http1Pool } from '../codec/http1/client-pool.js';
import type { UpstreamTlsConfig } from '../model/config.js';
import type { SecretResolver } from '../identity/secret-resolver.js';
import { tlsFailureReason, UpstreamTransports } from './transport.js';

interface H2Entry {
  session: http2.ClientHttp2Session;
  connected: boolean;
  /** The endpoint (`host:port`) it connects to: pools are keyed by endpoint and TLS context. */
  endpoint: string;
  /** Why the TLS handshake failed, when it did. */
  transportFailure?: string;
}

/** Connections are interchangeable only with the same endpoint and the same TLS context. */
function poolKey(endpoint: string, tls: UpstreamTlsConfig | undefined): string {
  return tls === undefined ? endpoint : `${endpoint}|${tls.key}`;
}

/** How often idle HTTP/1.1 connections are checked against their idle timeout. */
const IDLE_SWEEP_MS = 5000;

export class UpstreamPools {
  /**
   * HTTP/1.1 pools by TLS context key ('' for plain text), then endpoint: the lookup each
   * request makes uses strings it already holds (their hashes are cached), where one key
   * concatenating both would be a new string to hash every time (tls.key is the whole config).
   */
  private readonly h1 = new Map<string, Map<string, Http1Pool>>();
  private readonly sessions = new Map<string, H2Entry>();
  private sweeper: NodeJS.Timeout | undefined;
  readonly transports: UpstreamTransports;

  constructor(secrets?: SecretResolver) {
    this.transports = new UpstreamTransports(secrets);
  }

  /** The HTTP/1.1 pool for endpoint `endpoint` (`host:port`) over `tls` (undefined: plain text). */
  http1(
    endpoint: string,
    host: string,
    port: number,
    maxConnections: number,
    tls?: UpstreamTlsConfig,
  ): Http1Pool {
    const context = tls?.key ?? '';
    let byEndpoint = this.h1.get(context);
    let pool = byEndpoint?.get(endpoint);
    if (!pool) {
      pool = new Http1Pool(host, port, maxConnections, endpoint, () => this.transports.open(host, port, tls));
      if (byEndpoint === undefined) this.h1.set(context, (byEndpoint = new Map<string, Http1Pool>()));
      byEndpoint.set(endpoint, pool);
      if (!this.sweeper) {
        this.sweeper = setInterval(() => {
          const now = Date.now();
          for (const p of this.h1Pools()) p.closeIdle(now);
        }, IDLE_SWEEP_MS);
        this.sweeper.unref();
      }
    } else if (pool.maxConnections !== maxConnections) {
      // The circuit breaker changed with a config push.
      pool.maxConnections = maxConnections;
    }
    return pool;
  }

  /** The HTTP/2 session to `host:port` (h2c, or h2 over `tls`), connecting when there is none or it closed. */
  session(endpoint: string, host: string, port: number, tls?: UpstreamTlsConfig): H2Entry {
    const key = poolKey(endpoint, tls);
    const existing = this.sessions.get(key);
    if (existing && !existing.session.closed && !existing.session.destroyed) return existing;
    const scheme = tls === undefined ? 'http' : 'https';
    const authority = host.includes(':') ? `${scheme}://[${host}]:${port}` : `${scheme}://${host}:${port}`;
    const session =
      tls === undefined
        ? http2.connect(authority)
        : http2.connect(authority, { createConnection: () => this.transports.open(host, port, tls).socket });
    const entry: H2Entry = { session, connected: false, endpoint };
    session.once('connect', () => {
      entry.connected = true;
    });
    const forget = () => {
      if (this.sessions.get(key) === entry) this.sessions.delete(key);
    };
    session.on('error', (err: NodeJS.ErrnoException) => {
      if (tls !== undefined && !entry.connected) entry.transportFailure ??= tlsFailureReason(err);
      forget();
    });
    session.on('close', forget);
    session.on('goaway', forget);
    // An idle session must not keep the process alive.
    session.unref();
    this.sessions.set(key, entry);
    return entry;
  }

  /** Closes pools whose endpoint is not in `live`. In-flight requests finish first. */
  retain(live: ReadonlySet<string>): void {
    for (const byEndpoint of this.h1.values()) {
      for (const [endpoint, pool] of byEndpoint) {
        if (live.has(endpoint)) continue;
        byEndpoint.delete(endpoint);
        // Idle connections close now, busy ones when their request is done.
        pool.retire();
      }
    }
    for (const [key, entry] of this.sessions) {
      if (live.has(entry.endpoint)) continue;
      this.sessions.delete(key);
      entry.session.close();
    }
  }

  private *h1Pools(): Iterable<Http1Pool> {
    for (const byEndpoint of this.h1.values()) yield* byEndpoint.values();
  }

  closeAll(): void {
    for (const p of this.h1Pools()) p.destroy();
    for (const e of this.sessions.values()) e.session.destroy();
    this.h1.clear();
    this.sessions.clear();
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}
