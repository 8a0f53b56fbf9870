/**
 * Connection pools per upstream endpoint: a keep-alive http.Agent for HTTP/1.1 (node's agent is
 * fast enough here: bench/proxy.ts measures it) and one multiplexed session for HTTP/2 (h2c).
 * Pools of endpoints that left the config are closed once they are idle.
 */
import http from 'node:http';
import http2 from 'node:http2';

interface H2Entry {
  session: http2.ClientHttp2Session;
  connected: boolean;
}

export class UpstreamPools {
  private readonly agents = new Map<string, http.Agent>();
  private readonly sessions = new Map<string, H2Entry>();

  agent(key: string, maxSockets: number): http.Agent {
    let a = this.agents.get(key);
    if (!a) {
      a = new http.Agent({
        keepAlive: true,
        maxSockets,
        keepAliveMsecs: 1000,
        timeout: 60_000,
        // Reuse the most recently used socket: fewer warm connections, better cache locality.
        scheduling: 'lifo',
      });
      this.agents.set(key, a);
    }
    return a;
  }

  /** The h2c session to `host:port`, connecting when there is none or it closed. */
  session(key: string, host: string, port: number): H2Entry {
    const existing = this.sessions.get(key);
    if (existing && !existing.session.closed && !existing.session.destroyed) return existing;
    const authority = host.includes(':') ? `http://[${host}]:${port}` : `http://${host}:${port}`;
    const session = http2.connect(authority);
    const entry: H2Entry = { session, connected: false };
    session.once('connect', () => {
      entry.connected = true;
    });
    const forget = () => {
      if (this.sessions.get(key) === entry) this.sessions.delete(key);
    };
    session.on('error', forget);
    session.on('close', forget);
    session.on('goaway', forget);
    // An idle session must not keep the process alive.
    session.unref();
    this.sessions.set(key, entry);
    return entry;
  }

  /** Closes pools whose endpoint is not in `live`. In-flight requests finish first. */
  retain(live: ReadonlySet<string>): void {
    for (const [key, agent] of this.agents) {
      if (live.has(key)) continue;
      this.agents.delete(key);
      // destroy() would cut active sockets; free ones close now, busy ones when released.
      for (const list of Object.values(agent.freeSockets)) for (const s of list ?? []) s.destroy();
      agent.on('free', (socket: { destroy(): void }) => socket.destroy());
    }
    for (const [key, entry] of this.sessions) {
      if (live.has(key)) continue;
      this.sessions.delete(key);
      entry.session.close();
    }
  }

  closeAll(): void {
    for (const a of this.agents.values()) a.destroy();
    for (const e of this.sessions.values()) e.session.destroy();
    this.agents.clear();
    this.sessions.clear();
  }
}
