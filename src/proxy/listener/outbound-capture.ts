/**
 * The outbound capture listener (--outbound-port, Istio's 15001). Two kinds of clients reach it:
 *
 * - clients pointed at it (HTTP_PROXY): their connections were not NATed, so they are HTTP and
 *   routed by Host / :authority (targets.ts `outboundTarget`);
 * - connections iptables redirected to it (`trellis up --capture netns`, Istio's init
 *   container): when the proxy was given a reader of SO_ORIGINAL_DST, the address the client
 *   dialled selects the Listener resource, as Envoy's `use_original_dst` does: `ADDRESS_PORT`
 *   first, then `0.0.0.0_PORT`. An HTTP listener serves the connection with its own route
 *   configuration (virtual hosts still matched by Host); a tcp_proxy listener pipes it to its
 *   cluster; a connection that matches no listener takes `virtualOutbound`'s chain
 *   (PassthroughCluster: the address dialled; BlackHoleCluster: closed), and is closed when
 *   there is no `virtualOutbound` either.
 *
 * Nothing here parses bytes: choosing the listener needs only the socket's original destination.
 */
import net from 'node:net';
import type { Logger } from '../../core/logger.js';
import { listenOn } from '../../core/net.js';
import type { ListenerConfig, ProxyConfigSnapshot, TcpProxyConfig } from '../model/config.js';
import type { RouterDeps } from '../connection-manager/request-handler.js';
import { HttpListener } from './http-listener.js';
import { boundTarget, outboundTarget } from './targets.js';
import { inspectClientHello, MAX_CLIENT_HELLO } from './client-hello.js';
import { selectFilterChain } from './filter-chain-match.js';
import { proxyTcpConnection, type TcpProxyDeps } from './tcp-proxy.js';

/** How long a captured connection may take to send its ClientHello (Envoy: 15 s). */
const INSPECT_TIMEOUT_MS = 15_000;

export interface OriginalDestination {
  address: string;
  port: number;
}

/** Reads a connection's pre-NAT destination; undefined when it was not redirected. */
export type OriginalDestinationReader = (socket: net.Socket) => OriginalDestination | undefined;

export const VIRTUAL_OUTBOUND = 'virtualOutbound';

export type CaptureDecision =
  | { kind: 'http-proxy' }
  | { kind: 'http'; listener: ListenerConfig }
  | { kind: 'tcp'; listener: ListenerConfig; config: TcpProxyConfig }
  /** TCP chains told apart by the ClientHello (server_names, transport_protocol). */
  | { kind: 'inspect'; listener: ListenerConfig }
  | { kind: 'none' };

/** Which listener serves a connection redirected from `dst` (a pure function of the snapshot). */
export function captureDecision(
  snapshot: ProxyConfigSnapshot,
  dst: OriginalDestination | undefined,
  capturePort: number,
): CaptureDecision {
  // Not redirected: no NAT entry, or one that kept the address the client connected to. A
  // destination on the capture port itself is never passed through either: that would dial
  // this port again, forever (Istio's virtualOutbound blackholes destination_port 15001).
  if (dst === undefined || dst.port === capturePort) return { kind: 'http-proxy' };
  const listener =
    snapshot.listeners.get(`${dst.address}_${dst.port}`) ??
    snapshot.listeners.get(`0.0.0.0_${dst.port}`) ??
    snapshot.listeners.get(VIRTUAL_OUTBOUND);
  if (listener === undefined) return { kind: 'none' };
  if (
    listener.filterChains.some((c) => (c.serverNames ?? []).length > 0 || c.transportProtocol !== undefined)
  )
    return { kind: 'inspect', listener };
  // A listener is served by its first chain; per-port chains (destination_port) come first.
  const chain =
    listener.filterChains.find((c) => c.destinationPort === dst.port) ??
    listener.filterChains.find((c) => c.destinationPort === undefined);
  if (chain === undefined) return { kind: 'none' };
  if (chain.filter.kind === 'http') return { kind: 'http', listener };
  return { kind: 'tcp', listener, config: chain.filter };
}

export interface OutboundCaptureOptions {
  deps: RouterDeps;
  tcp: TcpProxyDeps;
  logger: Logger;
  snapshot: () => ProxyConfigSnapshot;
  originalDestination?: OriginalDestinationReader;
}

export class OutboundCapture {
  private readonly server: net.Server;
  /** Clients pointed at the proxy: HTTP routed by Host. */
  private readonly httpProxy: HttpListener;
  /** One HTTP server per outbound Listener resource that captured connections were handed to. */
  private readonly handoff = new Map<string, HttpListener>();
  private readonly sockets = new Set<net.Socket>();
  private port = 0;

  constructor(private readonly opts: OutboundCaptureOptions) {
    this.httpProxy = new HttpListener(
      (ds) => outboundTarget(opts.snapshot(), ds),
      'source',
      opts.deps,
      opts.logger,
    );
    this.server = net.createServer((socket) => this.onConnection(socket));
  }

  async listen(host: string, port: number): Promise<number> {
    this.port = await listenOn(this.server, host, port);
    return this.port;
  }

  private onConnection(socket: net.Socket): void {
    let dst: OriginalDestination | undefined;
    try {
      dst = this.opts.originalDestination?.(socket);
    } catch (err) {
      // The socket closed before it was read, or the kernel refused: this connection only.
      this.opts.logger.debug('reading the original destination failed', { error: (err as Error).message });
      socket.destroy();
      return;
    }
    const decision = captureDecision(this.opts.snapshot(), dst, this.port);
    switch (decision.kind) {
      case 'http-proxy':
        this.httpProxy.accept(socket);
        return;
      case 'http':
        this.handoffFor(decision.listener.name).accept(socket);
        return;
      case 'tcp':
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        proxyTcpConnection(socket, decision.config, this.opts.tcp, { originalDestination: dst });
        return;
      case 'inspect':
        this.inspect(socket, decision.listener, dst as OriginalDestination);
        return;
      case 'none':
        this.opts.logger.debug('no listener for a captured connection', {
          destination: dst ? `${dst.address}:${dst.port}` : '-',
        });
        socket.destroy();
    }
  }

  /**
   * Envoy's TLS inspector: reads the ClientHello (or the first plain bytes), puts them back, and
   * hands the connection to the TCP chain its SNI and transport select.
   */
  private inspect(socket: net.Socket, listener: ListenerConfig, dst: OriginalDestination): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => socket.destroy(), INSPECT_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      const data = Buffer.concat(chunks, size);
      const hello = inspectClientHello(data.subarray(0, MAX_CLIENT_HELLO));
      if (hello.kind === 'need-more') return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.pause();
      socket.unshift(data);
      const chain = selectFilterChain(listener.filterChains, {
        destinationPort: dst.port,
        transportProtocol: hello.kind === 'tls' ? 'tls' : 'raw_buffer',
        ...(hello.kind === 'tls' && hello.serverName !== undefined ? { serverName: hello.serverName } : {}),
      });
      if (chain === undefined || chain.filter.kind !== 'tcp') {
        this.opts.logger.debug('no filter chain for a captured connection', {
          destination: `${dst.address}:${dst.port}`,
        });
        socket.destroy();
        return;
      }
      proxyTcpConnection(socket, chain.filter, this.opts.tcp, { originalDestination: dst });
      socket.resume();
    };
    socket.on('data', onData);
    socket.on('error', () => undefined);
    socket.on('close', () => clearTimeout(timer));
  }

  /** Drains the servers of listeners that are gone (their open requests finish). */
  prune(snapshot: ProxyConfigSnapshot): void {
    for (const [name, l] of this.handoff) {
      if (snapshot.listeners.has(name)) continue;
      this.handoff.delete(name);
      l.drain().catch(() => undefined);
    }
  }

  private handoffFor(name: string): HttpListener {
    let l = this.handoff.get(name);
    if (l === undefined) {
      l = new HttpListener(
        (ds) => {
          // The listener as of this request: it may have changed since the connection came.
          const current = this.opts.snapshot().listeners.get(name);
          if (current !== undefined) return boundTarget(this.opts.snapshot(), current, ds);
          return { kind: 'reply', reason: { kind: 'no-route', authority: ds.authority, path: ds.path } };
        },
        'source',
        this.opts.deps,
        this.opts.logger.child(name),
      );
      this.handoff.set(name, l);
    }
    return l;
  }

  /** Stops accepting; open requests and TCP connections get `graceMs` to finish. */
  async drain(graceMs = 30_000): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const deadline = Date.now() + graceMs;
    await Promise.all([
      this.httpProxy.drain(graceMs),
      ...[...this.handoff.values()].map((l) => l.drain(graceMs)),
      (async () => {
        while (this.sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        for (const s of this.sockets) s.destroy();
      })(),
    ]);
    await closed;
  }
}
