/**
 * One attempt to one endpoint, over HTTP/1.1 (the hand-written client in src/proxy/codec/http1) or
 * h2c (node:http2). Resolves when response headers arrive; rejects with an UpstreamError saying
 * whether the connection could not be made (UF) or was reset after it was (UR). The caller owns
 * timeouts and retries. Response bodies are read through a small callback interface rather than
 * a stream, so the HTTP/1.1 path allocates no stream per request.
 */
import http2 from 'node:http2';
import type { Endpoint, UpstreamTlsConfig } from '../model/config.js';
import type { ReplayableBody } from '../connection-manager/request-body.js';
import { Http1ClientRequest } from '../codec/http1/client-connection.js';
import {
  UpstreamError,
  type OutgoingHeaders,
  type ResponseBodyReader,
  type UpstreamAttempt,
  type UpstreamResponse,
} from './attempt.js';
import type { UpstreamPools } from './pools.js';

export interface UpstreamRequestSpec {
  endpoint: Endpoint;
  http2: boolean;
  method: string;
  path: string;
  authority: string;
  headers: OutgoingHeaders;
  body: ReplayableBody;
  connectTimeoutMs: number;
  maxConnections: number;
  /** A mirror: the body is copied without backpressure. */
  shadow?: boolean;
  /** TLS to the endpoint (transport-socket-match.ts picks it); undefined: plain text. */
  tls?: UpstreamTlsConfig | undefined;
}

export function sendUpstream(spec: UpstreamRequestSpec, pools: UpstreamPools): UpstreamAttempt {
  return spec.http2 ? sendH2(spec, pools) : sendH1(spec, pools);
}

function sendH1(spec: UpstreamRequestSpec, pools: UpstreamPools): UpstreamAttempt {
  const { endpoint } = spec;
  let req: Http1ClientRequest;
  try {
    req = new Http1ClientRequest({
      method: spec.method,
      path: spec.path,
      authority: spec.authority,
      headers: spec.headers,
      body: spec.body,
      connectTimeoutMs: spec.connectTimeoutMs,
      shadow: spec.shadow === true,
    });
  } catch (err) {
    // A head that cannot be written (a header value with CR/LF or above U+00FF, a bad path):
    // this attempt fails like a reset. Thrown instead, it would skip the caller's clean-up
    // (circuit breaker, active requests) and fail the main request from inside a mirror.
    const e = err instanceof UpstreamError ? err : new UpstreamError('reset', (err as Error).message);
    return { response: Promise.reject(e), cancel: () => undefined, detachBody: () => undefined };
  }
  req.start();
  pools.http1(endpoint.key, endpoint.host, endpoint.port, spec.maxConnections, spec.tls).send(req);
  return req;
}

function sendH2(spec: UpstreamRequestSpec, pools: UpstreamPools): UpstreamAttempt {
  const { endpoint } = spec;
  const entry = pools.session(endpoint.key, endpoint.host, endpoint.port, spec.tls);
  let stream: http2.ClientHttp2Stream | undefined;
  let detachBody = () => undefined as void;
  const response = new Promise<UpstreamResponse>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    if (!entry.connected) {
      timer = setTimeout(() => {
        entry.session.destroy(new Error(`connect timeout after ${spec.connectTimeoutMs}ms`));
      }, spec.connectTimeoutMs);
      entry.session.once('connect', () => clearTimeout(timer));
      entry.session.once('close', () => clearTimeout(timer));
    }
    try {
      stream = entry.session.request({
        ...spec.headers,
        ':method': spec.method,
        ':path': spec.path,
        ':authority': spec.authority,
        ':scheme': spec.tls === undefined ? 'http' : 'https',
      });
    } catch (err) {
      reject(new UpstreamError(entry.connected ? 'reset' : 'connect', (err as Error).message));
      return;
    }
    const s = stream;
    let trailers: OutgoingHeaders | undefined;
    s.on('trailers', (t: http2.IncomingHttpHeaders) => {
      trailers = withoutPseudo(t);
    });
    // Closed before headers: a connect failure, a stream the upstream refused (it did no work on
    // it, so `refused-stream` may retry it), or a reset.
    const failure = (message: string) => {
      const tlsFailure = entry.connected ? undefined : entry.transportFailure;
      const error = new UpstreamError(
        !entry.connected
          ? 'connect'
          : s.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM
            ? 'refused-stream'
            : 'reset',
        tlsFailure !== undefined ? `transport failure reason: ${tlsFailure}` : message,
      );
      if (tlsFailure !== undefined) error.transportFailureReason = tlsFailure;
      return error;
    };
    s.on('error', (err: NodeJS.ErrnoException) => reject(failure(err.code ?? err.message)));
    s.on('close', () => reject(failure(`stream closed (code ${s.rstCode ?? 0})`)));
    s.on('response', (headers: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader, flags: number) => {
      resolve(
        new H2Response(
          Number(headers[':status'] ?? 502),
          withoutPseudo(headers),
          (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0,
          s,
          () => trailers,
        ),
      );
    });
    detachBody = spec.body.attach(s, spec.shadow === true);
  });
  return {
    response,
    cancel: () => stream?.close(http2.constants.NGHTTP2_CANCEL),
    detachBody: () => detachBody(),
  };
}

function withoutPseudo(h: http2.IncomingHttpHeaders): OutgoingHeaders {
  const out: OutgoingHeaders = {};
  for (const [k, v] of Object.entries(h)) if (!k.startsWith(':') && v !== undefined) out[k] = v;
  return out;
}

/** An h2c response read through the UpstreamResponse interface. */
class H2Response implements UpstreamResponse {
  constructor(
    readonly status: number,
    readonly headers: OutgoingHeaders,
    readonly endStream: boolean,
    private readonly stream: http2.ClientHttp2Stream,
    private readonly trailers: () => OutgoingHeaders | undefined,
  ) {}

  read(reader: ResponseBodyReader): void {
    const s = this.stream;
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      if (ok) reader.end(this.trailers());
      else reader.error();
    };
    s.on('data', (chunk: Buffer) => reader.data(chunk));
    s.once('end', () => finish(true));
    s.once('error', () => finish(false));
    s.once('close', () => {
      // Closed with an error code after headers, or before the body ended: cut short.
      const rst = s.rstCode;
      if (rst !== undefined && rst !== http2.constants.NGHTTP2_NO_ERROR) finish(false);
      else finish(s.readableEnded);
    });
  }

  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    this.stream.resume();
  }

  abort(): void {
    this.stream.close(http2.constants.NGHTTP2_CANCEL);
  }

  onDone(fn: () => void): void {
    let called = false;
    const once = () => {
      if (called) return;
      called = true;
      fn();
    };
    this.stream.once('close', once);
    this.stream.once('end', once);
  }
}
