/**
 * One attempt to one endpoint, over HTTP/1.1 or h2c. Resolves when response headers arrive;
 * rejects with an UpstreamError saying whether the connection could not be made (UF) or was
 * reset after it was (UR). The caller owns timeouts and retries.
 */
import http from 'node:http';
import http2 from 'node:http2';
import type { Readable } from 'node:stream';
import type { Endpoint } from '../config.js';
import type { ReplayableBody } from '../http/request-body.js';
import type { UpstreamPools } from './pools.js';

export type OutgoingHeaders = Record<string, string | string[]>;

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
}

export interface UpstreamResponse {
  status: number;
  headers: OutgoingHeaders;
  /** The headers ended the stream: no body, no trailers (gRPC trailers-only). */
  endStream: boolean;
  body: Readable;
  /** Trailers, once the body has ended (empty when there were none). */
  trailers(): OutgoingHeaders;
  /** Drops the response (a retry or a timeout won). */
  abort(): void;
}

export class UpstreamError extends Error {
  constructor(
    readonly kind: 'connect' | 'reset',
    message: string,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

export interface UpstreamAttempt {
  response: Promise<UpstreamResponse>;
  /** Stops feeding this attempt the request body. */
  detachBody(): void;
  /** Cancels the attempt before or after headers. */
  cancel(): void;
}

export function sendUpstream(spec: UpstreamRequestSpec, pools: UpstreamPools): UpstreamAttempt {
  return spec.http2 ? sendH2(spec, pools) : sendH1(spec, pools);
}

function sendH1(spec: UpstreamRequestSpec, pools: UpstreamPools): UpstreamAttempt {
  const { endpoint } = spec;
  const req = http.request({
    host: endpoint.host,
    port: endpoint.port,
    method: spec.method,
    path: spec.path,
    headers: { ...spec.headers, host: spec.authority },
    agent: pools.agent(endpoint.key, spec.maxConnections),
    setHost: false,
  });
  let connected = false;
  const response = new Promise<UpstreamResponse>((resolve, reject) => {
    req.on('socket', (socket) => {
      if (!socket.connecting) {
        connected = true;
        return;
      }
      const timer = setTimeout(() => {
        req.destroy(new Error(`connect timeout after ${spec.connectTimeoutMs}ms`));
      }, spec.connectTimeoutMs);
      socket.once('connect', () => {
        connected = true;
        clearTimeout(timer);
      });
      socket.once('close', () => clearTimeout(timer));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      reject(new UpstreamError(connected ? 'reset' : 'connect', err.code ?? err.message));
    });
    req.on('response', (res: http.IncomingMessage) => {
      resolve({
        status: res.statusCode ?? 502,
        headers: res.headers as OutgoingHeaders,
        endStream: false,
        body: res,
        trailers: () => res.trailers as OutgoingHeaders,
        abort: () => res.destroy(),
      });
    });
  });
  const detachBody = spec.body.attach(req, spec.shadow === true);
  return { response, cancel: () => req.destroy(), detachBody };
}

function sendH2(spec: UpstreamRequestSpec, pools: UpstreamPools): UpstreamAttempt {
  const { endpoint } = spec;
  const entry = pools.session(endpoint.key, endpoint.host, endpoint.port);
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
        ':scheme': 'http',
      });
    } catch (err) {
      reject(new UpstreamError(entry.connected ? 'reset' : 'connect', (err as Error).message));
      return;
    }
    const s = stream;
    let trailers: OutgoingHeaders = {};
    s.on('trailers', (t: http2.IncomingHttpHeaders) => {
      trailers = withoutPseudo(t);
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      reject(new UpstreamError(entry.connected ? 'reset' : 'connect', err.code ?? err.message));
    });
    s.on('close', () => {
      // Closed before headers: refused or reset stream.
      reject(
        new UpstreamError(entry.connected ? 'reset' : 'connect', `stream closed (code ${s.rstCode ?? 0})`),
      );
    });
    s.on('response', (headers: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader, flags: number) => {
      resolve({
        status: Number(headers[':status'] ?? 502),
        headers: withoutPseudo(headers),
        endStream: (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0,
        body: s,
        trailers: () => trailers,
        abort: () => s.close(http2.constants.NGHTTP2_CANCEL),
      });
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
