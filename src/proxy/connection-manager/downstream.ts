/**
 * One downstream request and its response, the same shape for HTTP/1.1 (the hand-written codec
 * in src/proxy/codec/http1) and HTTP/2 (node's compatibility API), so the router is written once.
 * Absolute-form request targets (`GET http://reviews:9080/path`, what HTTP_PROXY clients send)
 * arrive as authority + path.
 */
import http2 from 'node:http2';
import type net from 'node:net';
import type { BodySource } from './request-body.js';

export type HeaderMap = Record<string, string | string[] | undefined>;
export type OutHeaders = Record<string, string | string[]>;

/**
 * What the connection a request arrived on proves about its peer: filled by the listener for TLS
 * connections; absent on plaintext ones. RBAC (`authenticated.principal_name`), the access log and
 * Istio's metric labels (`connection_security_policy`, `source_principal`) read it.
 */
export interface ConnectionSecurity {
  /** `mutual_tls` when the client presented a certificate the listener verified; else `none`. */
  policy: 'mutual_tls' | 'none';
  /** The verified peer certificate's URI SAN (else its subject), Envoy's principal. */
  peerPrincipal?: string | undefined;
  /** This side's certificate URI SAN, when the listener served one. */
  localPrincipal?: string | undefined;
  /** The SNI the client asked for. */
  sni?: string | undefined;
  /** The negotiated ALPN protocol. */
  alpn?: string | undefined;
  /** Every URI SAN of the verified peer certificate, comma-joined (%DOWNSTREAM_PEER_URI_SAN%). */
  peerUriSan?: string | undefined;
  /** Every URI SAN of the certificate this side served (%DOWNSTREAM_LOCAL_URI_SAN%). */
  localUriSan?: string | undefined;
  /** `TLSv1.3`, `TLSv1.2`... (%DOWNSTREAM_TLS_VERSION%). */
  tlsVersion?: string | undefined;
  /** The negotiated cipher suite's standard name, `TLS_AES_128_GCM_SHA256` (%DOWNSTREAM_TLS_CIPHER%). */
  tlsCipher?: string | undefined;
  /** The verified peer certificate's DER SHA-256 (hex), subject (RFC 2253) and DNS SANs, for XFCC. */
  peerCertificateHash?: string | undefined;
  peerSubject?: string | undefined;
  peerDnsSans?: readonly string[] | undefined;
}

/** Where a TLS listener leaves a connection's ConnectionSecurity for the codecs to read. */
const SECURITY = Symbol('trellis.connectionSecurity');

/** Marks a socket with what its handshake proved, before it is handed to a codec. */
export function setConnectionSecurity(socket: object, security: ConnectionSecurity): void {
  (socket as { [SECURITY]?: ConnectionSecurity })[SECURITY] = security;
}

/** What a socket's handshake proved; undefined for plain text (HTTP/2: see HttpListener). */
export function connectionSecurity(socket: object | null | undefined): ConnectionSecurity | undefined {
  return socket == null ? undefined : (socket as { [SECURITY]?: ConnectionSecurity })[SECURITY];
}

export interface Downstream {
  method: string;
  /** The request path; path normalization (request-handler.ts) replaces it before routing. */
  path: string;
  authority: string;
  scheme: string;
  protocol: 'HTTP/1.0' | 'HTTP/1.1' | 'HTTP/2';
  /** Lower-case names, pseudo-headers removed. */
  headers: HeaderMap;
  /** The request body: a node Readable for HTTP/2, a lighter source for HTTP/1.1. */
  body: BodySource;
  remoteAddress: string;
  /** Local port the request arrived on. */
  localPort: number;
  /** Local address the connection arrived on (RBAC `destination_ip`); '' when unknown. */
  localAddress?: string;
  /** The connection's TLS facts; undefined for plaintext connections. */
  security?: ConnectionSecurity | undefined;
  readonly headersSent: boolean;
  /** True once the client went away before the response finished. */
  readonly aborted: boolean;
  respond(status: number, headers: OutHeaders): void;
  /** A response with no body whose headers end the stream (gRPC trailers-only). */
  respondHeadersOnly(status: number, headers: OutHeaders): void;
  write(chunk: Buffer): boolean;
  onceDrain(fn: () => void): void;
  end(trailers?: OutHeaders): void;
  /** Resets the stream (HTTP/2) or closes the connection (HTTP/1.1): the response is broken. */
  reset(): void;
  onAbort(fn: () => void): void;
  /**
   * HTTP/1.1 upgrade requests only: the protocol asked for, and the switch to a byte stream once
   * the upstream answered 101 (the socket, and the bytes the client sent after its head).
   */
  upgrade?: { protocol: string; takeOver(): { socket: net.Socket; head: Buffer } } | undefined;
}

/** Connection-specific headers: never forwarded, and illegal in HTTP/2. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'http2-settings',
  'host',
]);

export function fromHttp2(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): Downstream {
  const headers: HeaderMap = {};
  for (const [k, v] of Object.entries(req.headers)) if (!k.startsWith(':')) headers[k] = v;
  const authority = req.headers[':authority'] ?? req.headers.host ?? '';
  // One name per request: a client-sent `host` that differs from `:authority` (RFC 9113 8.3.1)
  // must not reach a filter or upstream that reads Host while routing used :authority.
  if (req.headers[':authority'] !== undefined && headers.host !== undefined) headers.host = authority;
  let aborted = false;
  // Set once the proxy has ended its response (end() or a headers-only response); a stream that
  // closes before that was abandoned by the client: reset, disconnect, GOAWAY or a timeout.
  let responseEnded = false;
  const abortFns: (() => void)[] = [];
  res.stream.once('close', () => {
    if (responseEnded) return;
    aborted = true;
    for (const f of abortFns) f();
  });
  return {
    method: req.method,
    path: req.url,
    authority,
    scheme: req.scheme || 'http',
    protocol: 'HTTP/2',
    headers,
    body: req,
    remoteAddress: req.socket?.remoteAddress ?? '',
    localPort: req.socket?.localPort ?? 0,
    localAddress: req.socket?.localAddress ?? '',
    get headersSent() {
      return res.headersSent;
    },
    get aborted() {
      return aborted;
    },
    respond: (status, h) => void res.writeHead(status, h),
    respondHeadersOnly: (status, h) => {
      if (res.stream.destroyed) return;
      responseEnded = true;
      res.stream.respond({ ...h, ':status': status }, { endStream: true });
    },
    write: (chunk) => res.write(chunk),
    onceDrain: (fn) => void res.once('drain', fn),
    end: (trailers) => {
      responseEnded = true;
      if (trailers && Object.keys(trailers).length > 0) res.addTrailers(trailers);
      res.end();
    },
    reset: () => void res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR),
    onAbort: (fn) => {
      // Registered after the stream closed: the caller still has to let go of what it holds.
      if (aborted) queueMicrotask(fn);
      else abortFns.push(fn);
    },
  };
}
