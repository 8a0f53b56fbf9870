/**
 * HTTP/1.1 upgrades (WebSocket), the upstream half. The request was routed like any other
 * (request-handler.ts: route match, filters, header mutations, path normalization) and the upgrade type
 * is one the connection manager enables (`upgrade_configs`; Istio sends websocket). Here the
 * proxy opens a connection to the chosen endpoint and sends the request head, and:
 * - on `101 Switching Protocols` the downstream connection leaves the HTTP codec and bytes are
 *   piped both ways until either side closes; the bytes the client sent after its head, held
 *   until now, go first;
 * - on any other answer the response is relayed as a normal response and the downstream
 *   connection closes after it (an upgrade exchange never keeps its connection, see
 *   server-exchange.ts): the held bytes were never parsed, routed or forwarded, so a request
 *   smuggled behind an upgrade head goes nowhere.
 * The request counts against the cluster's circuit breaker and the host's active requests for as
 * long as the tunnel is open.
 */
import { tlsFailureReason, type UpstreamSocket } from '../upstream/transport.js';
import net from 'node:net';
import { errorMessage } from '../../core/errors.js';
import type { Endpoint } from '../model/config.js';
import { Http1Parser, type MessageHead } from '../codec/http1/parser.js';
import { fieldLines } from '../codec/http1/serializer.js';
import type { ClusterRuntime, UpstreamClaim, UpstreamHost } from '../upstream/cluster-manager.js';
import type { OutgoingHeaders } from '../upstream/attempt.js';
import type { Downstream } from './downstream.js';
import { forwardableResponseHeaders } from './headers.js';
import type { LocalReplyReason } from './local-reply.js';
import type { StreamIdleTimer } from './stream-idle-timeout.js';
import type { StreamInfo } from './stream-info.js';

/** How long a client may keep its side of a tunnel open after the upstream closed. */
const TUNNEL_LINGER_MS = 1000;
/** How much of an upstream's answer may come before its head ends. */
const MAX_RESPONSE_HEAD = 60 * 1024;

export interface UpgradeRequest {
  cluster: ClusterRuntime;
  originalDestination?: Endpoint;
  method: string;
  path: string;
  authority: string;
  /** End-to-end request headers after mutations; Connection and Upgrade are added here. */
  headers: OutgoingHeaders;
  /** The upgrade protocol as the client named it. */
  protocol: string;
  idle?: StreamIdleTimer;
  finishHeaders: (headers: OutgoingHeaders) => void;
  /** Opens the connection to the endpoint (TLS for a TLS transport socket); plain TCP when absent. */
  connect?: (endpoint: Endpoint) => UpstreamSocket;
}

/** Resolves once the exchange (and, after a 101, the tunnel) is over. */
export async function tunnel(
  req: UpgradeRequest,
  ds: Downstream,
  info: StreamInfo,
): Promise<LocalReplyReason | undefined> {
  const { cluster } = req;
  const upgrade = ds.upgrade;
  if (!upgrade) return { kind: 'bad-request', detail: 'not an upgrade request' };
  let head: string;
  try {
    head = requestHead(req);
  } catch (err) {
    // A header value that cannot be written (fieldLines refuses CR/LF): as forward.ts, 503 UR.
    return { kind: 'upstream-reset', cluster: cluster.config.name, detail: errorMessage(err) };
  }
  const claim = cluster.claim(req.originalDestination);
  if (claim === 'overflow') return { kind: 'overflow', cluster: cluster.config.name };
  if (claim === 'no-host') return { kind: 'no-healthy-upstream', cluster: cluster.config.name };
  info.upstreamHost = claim.endpoint.key;
  info.destinationIdentity = claim.endpoint.identity;
  info.attempts = 1;
  try {
    return await new UpgradeAttempt(req, ds, info, claim, head, upgrade).run();
  } finally {
    claim.release();
  }
}

/** The request head sent upstream; throws InvalidFieldError for a value that cannot be written. */
function requestHead(req: UpgradeRequest): string {
  let head = `${req.method} ${req.path} HTTP/1.1\r\n${fieldLines('host', req.authority)}`;
  for (const [k, v] of Object.entries(req.headers)) head += fieldLines(k, v);
  return `${head}connection: upgrade\r\n${fieldLines('upgrade', req.protocol)}\r\n`;
}

class UpgradeAttempt {
  private readonly upstream: net.Socket;
  /** `secureConnect` over TLS: the head is written once the handshake is done. */
  private readonly readyEvent: 'connect' | 'secureConnect';
  private readonly host: UpstreamHost | undefined;
  private connected = false;
  private settled = false;
  /** The upstream's answer until its head is complete. */
  private answer: Buffer = Buffer.alloc(0);
  private resolve!: (r: LocalReplyReason | undefined) => void;

  constructor(
    private readonly req: UpgradeRequest,
    private readonly ds: Downstream,
    private readonly info: StreamInfo,
    claim: UpstreamClaim,
    private readonly head: string,
    private readonly upgrade: NonNullable<Downstream['upgrade']>,
  ) {
    this.host = claim.host;
    const opened = req.connect?.(claim.endpoint) ?? {
      socket: net.connect({ host: claim.endpoint.host, port: claim.endpoint.port }),
      readyEvent: 'connect' as const,
    };
    this.upstream = opened.socket;
    this.readyEvent = opened.readyEvent;
  }

  run(): Promise<LocalReplyReason | undefined> {
    const { upstream, req, ds } = this;
    const done = new Promise<LocalReplyReason | undefined>((r) => (this.resolve = r));
    const timer = setTimeout(
      () => upstream.destroy(new Error('connect timeout')),
      req.cluster.config.connectTimeoutMs,
    );
    upstream.setNoDelay(true);
    upstream.on(this.readyEvent, () => {
      this.connected = true;
      clearTimeout(timer);
      upstream.write(this.head, 'latin1');
    });
    upstream.on('data', this.onHeadData);
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const detail =
        !this.connected && this.readyEvent === 'secureConnect'
          ? `transport failure reason: ${tlsFailureReason(err)}`
          : (err.code ?? err.message);
      if (!this.connected) {
        this.req.cluster.record(this.host, { kind: 'connect-failure' });
        this.settle({ kind: 'connect-failure', cluster: req.cluster.config.name, detail });
      } else this.settle({ kind: 'upstream-reset', cluster: req.cluster.config.name, detail });
    });
    upstream.on('close', () => {
      clearTimeout(timer);
      this.settle({ kind: 'upstream-reset', cluster: req.cluster.config.name, detail: 'connection closed' });
    });
    ds.onAbort(() => {
      upstream.destroy();
      this.settle(undefined);
    });
    req.idle?.whenExpired(() => {
      upstream.destroy();
      this.settle({ kind: 'stream-idle-timeout', requestComplete: true });
    });
    return done;
  }

  private settle(r: LocalReplyReason | undefined): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve(r);
  }

  /** Collects the upstream's answer until its head is complete, then decides. */
  private readonly onHeadData = (chunk: Buffer): void => {
    let all = this.answer.length === 0 ? chunk : Buffer.concat([this.answer, chunk]);
    let end = all.indexOf('\r\n\r\n');
    // Interim answers (100 Continue, 102, 103) before the decisive one are dropped, as the
    // HTTP/1.1 client drops them for plain requests.
    while (end !== -1 && /^HTTP\/1\.[01] 1(?!01)\d\d[ \r]/.test(all.subarray(0, 13).toString('latin1'))) {
      all = all.subarray(end + 4);
      end = all.indexOf('\r\n\r\n');
    }
    if (end === -1) {
      this.answer = all;
      if (all.length > MAX_RESPONSE_HEAD) {
        this.upstream.destroy();
        this.settle({
          kind: 'upstream-reset',
          cluster: this.req.cluster.config.name,
          detail: 'response head too large',
        });
      }
      return;
    }
    this.upstream.off('data', this.onHeadData);
    this.req.idle?.touch();
    if (/^HTTP\/1\.1 101[ \r]/.test(all.subarray(0, 13).toString('latin1'))) this.switchProtocols(all);
    else this.relayResponse(all);
  };

  /** 101: the connection is a byte stream both ways from here on. */
  private switchProtocols(answer: Buffer): void {
    const { upstream, info } = this;
    this.req.idle?.stop();
    this.req.cluster.record(this.host, { kind: 'response', status: 101 });
    info.status = 101;
    let taken: { socket: net.Socket; head: Buffer };
    try {
      taken = this.upgrade.takeOver();
    } catch {
      // The client's connection ended in the same turn: nothing to switch.
      upstream.destroy();
      this.settle(undefined);
      return;
    }
    const { socket, head } = taken;
    socket.on('error', () => undefined);
    socket.write(answer);
    info.bytesSent += answer.length;
    if (head.length > 0) {
      upstream.write(head);
      info.bytesReceived += head.length;
    }
    upstream.on('data', (c: Buffer) => (info.bytesSent += c.length));
    socket.on('data', (c: Buffer) => (info.bytesReceived += c.length));
    socket.pipe(upstream);
    upstream.pipe(socket);
    socket.resume();
    // Either side closing ends the tunnel (as Envoy closes the downstream once its upstream
    // closed): the request is over and what it holds is released at once. The client gets our
    // FIN and LINGER_MS to close its side before its socket is destroyed.
    upstream.removeAllListeners('close');
    upstream.on('close', () => {
      socket.end();
      const timer = setTimeout(() => socket.destroy(), TUNNEL_LINGER_MS);
      timer.unref();
      socket.once('close', () => clearTimeout(timer));
      this.settle(undefined);
    });
    socket.on('close', () => {
      // The client is gone entirely: nothing more can be delivered.
      upstream.destroy();
      this.settle(undefined);
    });
  }

  /** Not switching: relay the answer as a normal response; the downstream connection closes. */
  private relayResponse(answer: Buffer): void {
    const { upstream, ds, info, req } = this;
    const cluster = req.cluster.config.name;
    const parser = new Http1Parser(
      {
        onHead: (head: MessageHead) => {
          const headers = forwardableResponseHeaders(head.headers);
          req.finishHeaders(headers);
          info.status = head.status;
          req.cluster.record(this.host, { kind: 'response', status: head.status });
          ds.respond(head.status, headers);
        },
        onBody: (chunk: Buffer) => {
          info.bytesSent += chunk.length;
          req.idle?.touch();
          if (!ds.write(Buffer.from(chunk))) {
            upstream.pause();
            ds.onceDrain(() => upstream.resume());
          }
        },
        onMessageEnd: (trailers) => {
          ds.end(trailers as OutgoingHeaders | undefined);
          upstream.destroy();
          this.settle(undefined);
        },
      },
      { mode: 'response', maxHeaderBytes: MAX_RESPONSE_HEAD },
    );
    if (req.method === 'HEAD') parser.noBodyExpected = true;
    const feed = (chunk: Buffer | undefined): void => {
      try {
        if (chunk) parser.execute(chunk);
        else parser.finish();
      } catch (err) {
        upstream.destroy();
        if (ds.headersSent) ds.reset();
        this.settle(
          ds.headersSent
            ? undefined
            : { kind: 'upstream-reset', cluster, detail: `protocol error: ${(err as Error).message}` },
        );
      }
    };
    upstream.on('data', feed);
    upstream.on('end', () => feed(undefined));
    upstream.removeAllListeners('close');
    upstream.on('close', () => {
      if (this.settled) return;
      if (ds.headersSent) ds.reset();
      this.settle(
        ds.headersSent ? undefined : { kind: 'upstream-reset', cluster, detail: 'connection closed' },
      );
    });
    feed(answer);
  }
}
