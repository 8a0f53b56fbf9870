/**
 * One downstream request and its response, the same shape for HTTP/1.1 and HTTP/2 (node's
 * compatibility API underneath), so the router is written once. Absolute-form request targets
 * (`GET http://reviews:9080/path`, what HTTP_PROXY clients send) become authority + path here.
 */
import type http from 'node:http';
import http2 from 'node:http2';
import type { Readable } from 'node:stream';

export type HeaderMap = Record<string, string | string[] | undefined>;
export type OutHeaders = Record<string, string | string[]>;

export interface Downstream {
  method: string;
  path: string;
  authority: string;
  scheme: string;
  protocol: 'HTTP/1.0' | 'HTTP/1.1' | 'HTTP/2';
  /** Lower-case names, pseudo-headers removed. */
  headers: HeaderMap;
  body: Readable;
  remoteAddress: string;
  /** Local port the request arrived on. */
  localPort: number;
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

function splitTarget(url: string, hostHeader: string | undefined): { authority: string; path: string } {
  if (url.startsWith('/') || url === '*') return { authority: hostHeader ?? '', path: url };
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)(.*)$/i.exec(url);
  if (m) return { authority: m[1] ?? '', path: m[2] || '/' };
  return { authority: hostHeader ?? '', path: url };
}

export function fromHttp1(req: http.IncomingMessage, res: http.ServerResponse): Downstream {
  return new Http1Downstream(req, res);
}

/**
 * A class rather than an object of closures: this is built once per request, and methods on the
 * prototype cost nothing per request.
 */
class Http1Downstream implements Downstream {
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  readonly scheme: 'http' | 'https';
  readonly protocol: 'HTTP/1.0' | 'HTTP/1.1';
  readonly headers: HeaderMap;
  readonly body: Readable;
  readonly remoteAddress: string;
  readonly localPort: number;
  private abortedFlag = false;
  private abortFns: (() => void)[] | undefined;

  constructor(
    req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
  ) {
    const { authority, path } = splitTarget(req.url ?? '/', req.headers.host);
    this.method = req.method ?? 'GET';
    this.path = path;
    this.authority = authority;
    // A TLS listener hands over the decrypted socket: the client spoke https.
    this.scheme = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
    this.protocol = req.httpVersion === '1.0' ? 'HTTP/1.0' : 'HTTP/1.1';
    this.headers = req.headers;
    this.body = req;
    this.remoteAddress = req.socket.remoteAddress ?? '';
    this.localPort = req.socket.localPort ?? 0;
    res.on('close', () => {
      if (!res.writableFinished) {
        this.abortedFlag = true;
        if (this.abortFns) for (const f of this.abortFns) f();
      }
    });
  }

  get headersSent(): boolean {
    return this.res.headersSent;
  }

  get aborted(): boolean {
    return this.abortedFlag;
  }

  respond(status: number, headers: OutHeaders): void {
    this.res.writeHead(status, headers);
  }

  respondHeadersOnly(status: number, headers: OutHeaders): void {
    this.res.writeHead(status, headers);
    this.res.end();
  }

  write(chunk: Buffer): boolean {
    return this.res.write(chunk);
  }

  onceDrain(fn: () => void): void {
    this.res.once('drain', fn);
  }

  end(trailers?: OutHeaders): void {
    if (trailers && Object.keys(trailers).length > 0) this.res.addTrailers(trailers);
    this.res.end();
  }

  reset(): void {
    this.res.destroy();
  }

  onAbort(fn: () => void): void {
    (this.abortFns ??= []).push(fn);
  }
}

export function fromHttp2(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): Downstream {
  const headers: HeaderMap = {};
  for (const [k, v] of Object.entries(req.headers)) if (!k.startsWith(':')) headers[k] = v;
  const authority = req.headers[':authority'] ?? req.headers.host ?? '';
  let aborted = false;
  const abortFns: (() => void)[] = [];
  res.stream.on('close', () => {
    if (!res.writableFinished && !res.stream.endAfterHeaders) {
      aborted = !res.finished;
      if (aborted) for (const f of abortFns) f();
    }
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
    get headersSent() {
      return res.headersSent;
    },
    get aborted() {
      return aborted;
    },
    respond: (status, h) => void res.writeHead(status, h),
    respondHeadersOnly: (status, h) => {
      if (res.stream.destroyed) return;
      res.stream.respond({ ...h, ':status': status }, { endStream: true });
    },
    write: (chunk) => res.write(chunk),
    onceDrain: (fn) => void res.once('drain', fn),
    end: (trailers) => {
      if (trailers && Object.keys(trailers).length > 0) res.addTrailers(trailers);
      res.end();
    },
    reset: () => void res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR),
    onAbort: (fn) => void abortFns.push(fn),
  };
}
