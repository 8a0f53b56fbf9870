import http from 'node:http';
import { TrellisError, errorMessage, isTrellisError, type ErrorCode } from '../core/errors.js';
import { answerMalformedRequests } from '../core/http-errors.js';
import { listenOn } from '../core/net.js';
import type { Logger } from '../core/logger.js';

/**
 * A tiny router over node:http for the control plane's HTTP API: JSON in and out, errors mapped
 * to status codes in one place by their stable code.
 */
export interface ApiRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The body as UTF-8 text; TRELLIS_TOO_LARGE past 8 MiB. */
  text(): Promise<string>;
  /** The body parsed as JSON (undefined when empty); TRELLIS_INVALID_ARGUMENT when it is not JSON. */
  body(): Promise<unknown>;
  raw: http.IncomingMessage;
}

export type ApiResult =
  | {
      status?: number;
      json?: unknown;
      text?: string;
      contentType?: string;
      /** More response headers (a redirect's location, the console's cache and security headers). */
      headers?: Record<string, string>;
    }
  | undefined;
export type Handler = (req: ApiRequest) => Promise<ApiResult> | ApiResult;

interface RouteEntry {
  method: string;
  parts: string[];
  handler: Handler;
}

const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  TRELLIS_INVALID_CONFIG: 400,
  TRELLIS_INVALID_ARGUMENT: 400,
  TRELLIS_BAD_REQUEST: 400,
  TRELLIS_UNAUTHENTICATED: 401,
  TRELLIS_FORBIDDEN: 403,
  TRELLIS_NOT_FOUND: 404,
  TRELLIS_METHOD_NOT_ALLOWED: 405,
  TRELLIS_CONFLICT: 409,
  TRELLIS_TOO_LARGE: 413,
  TRELLIS_UNSUPPORTED: 422,
  TRELLIS_STORE_UNAVAILABLE: 503,
};

export const MAX_BODY = 8 * 1024 * 1024;

/** The JSON error body every control plane endpoint answers with. */
export function errorBody(err: TrellisError): { error: { code: ErrorCode; message: string; path?: string } } {
  return { error: { code: err.code, message: err.message, ...(err.path ? { path: err.path } : {}) } };
}

/** Refuses a request before any route sees it (write-guard.ts), or lets it through (undefined). */
export type RequestGuard = (
  req: http.IncomingMessage,
  path: string,
) => { status: 401 | 403; message: string } | undefined;

export class HttpRouter {
  private readonly routes: RouteEntry[] = [];
  private guard: RequestGuard | undefined;

  constructor(private readonly logger: Logger) {}

  /** Every request passes `guard` first; a refusal is answered 401/403 with its message. */
  setGuard(guard: RequestGuard): this {
    this.guard = guard;
    return this;
  }

  on(method: string, pattern: string, handler: Handler): this {
    this.routes.push({ method, parts: pattern.split('/').filter(Boolean), handler });
    return this;
  }

  /**
   * The handler of a route and the params it matched, for a route that answers with another's
   * data (the console's graph reads /v1/graph when a graph is served).
   */
  find(method: string, path: string): { handler: Handler; params: Record<string, string> } | undefined {
    const parts = path.split('/').filter(Boolean);
    for (const r of this.routes) {
      const params = r.method === method ? match(r.parts, parts) : undefined;
      if (params) return { handler: r.handler, params };
    }
    return undefined;
  }

  /** An http.Server answering with this router, malformed requests included (core/http-errors.ts). */
  createServer(): http.Server {
    const server = http.createServer(this.listener());
    answerMalformedRequests(server, 'json', this.logger);
    return server;
  }

  /**
   * The request listener. Whatever a handler does (throw, reject, fail after answering), the
   * request ends in a response or a closed socket and a log line: never an unhandled rejection,
   * which would end the process.
   */
  listener(): http.RequestListener {
    return (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.logger.error('HTTP request failed', { url: req.url, error: errorMessage(err) });
        if (!res.headersSent) sendError(res, new TrellisError('TRELLIS_INTERNAL', errorMessage(err)));
        else res.destroy();
      });
    };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let target: RequestTarget;
    try {
      target = parseTarget(req.url ?? '/');
    } catch (err) {
      sendError(res, err as TrellisError);
      return;
    }
    const refused = this.guard?.(req, target.path);
    if (refused) {
      const code = refused.status === 401 ? 'TRELLIS_UNAUTHENTICATED' : 'TRELLIS_FORBIDDEN';
      res.setHeader('www-authenticate', 'Bearer realm="trellis"');
      sendError(res, new TrellisError(code, refused.message));
      return;
    }
    let matchedPath = false;
    for (const r of this.routes) {
      const params = match(r.parts, target.parts);
      if (!params) continue;
      matchedPath = true;
      if (r.method !== req.method) continue;
      let text: Promise<string> | undefined;
      const readText = () => (text ??= readBody(req, res));
      try {
        const result = await r.handler({
          method: req.method,
          path: target.path,
          params,
          query: target.query,
          text: readText,
          body: async () => parseJson(await readText()),
          raw: req,
        });
        send(res, result?.status ?? 200, result);
      } catch (err) {
        const status = isTrellisError(err) ? (STATUS_BY_CODE[err.code] ?? 500) : 500;
        if (status === 500)
          this.logger.error('API handler failed', { path: target.path, error: errorMessage(err) });
        const coded = isTrellisError(err) ? err : new TrellisError('TRELLIS_INTERNAL', errorMessage(err));
        sendError(res, coded, status);
      }
      return;
    }
    sendError(
      res,
      matchedPath
        ? new TrellisError('TRELLIS_METHOD_NOT_ALLOWED', `method ${req.method} not allowed on ${target.path}`)
        : new TrellisError('TRELLIS_NOT_FOUND', `no such endpoint ${target.path}`),
    );
  }
}

interface RequestTarget {
  path: string;
  /** Decoded path segments. */
  parts: string[];
  query: URLSearchParams;
}

/**
 * The origin-form request target (`/v1/config/vs?namespace=x`) split and percent-decoded;
 * TRELLIS_BAD_REQUEST for anything else (absolute-form, `*`, bad escapes such as `%zz`).
 */
function parseTarget(url: string): RequestTarget {
  const q = url.indexOf('?');
  const path = (q < 0 ? url : url.slice(0, q)).split('#')[0] ?? '';
  if (!path.startsWith('/'))
    throw new TrellisError('TRELLIS_BAD_REQUEST', `request target ${JSON.stringify(url)} is not a path`);
  const parts: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '') continue;
    try {
      parts.push(decodeURIComponent(segment));
    } catch {
      throw new TrellisError(
        'TRELLIS_BAD_REQUEST',
        `path ${JSON.stringify(path)} has a malformed percent-escape in ${JSON.stringify(segment)}`,
      );
    }
  }
  return { path, parts, query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1).split('#')[0]) };
}

function match(pattern: string[], parts: string[]): Record<string, string> | undefined {
  if (pattern.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i] as string;
    const v = parts[i] as string;
    if (p.startsWith(':')) params[p.slice(1)] = v;
    else if (p !== v) return undefined;
  }
  return params;
}

function send(res: http.ServerResponse, status: number, result: ApiResult): void {
  if (result?.text !== undefined) {
    res.writeHead(status, {
      ...result.headers,
      'content-type': result.contentType ?? 'text/plain; charset=utf-8',
    });
    res.end(result.text);
    return;
  }
  const body = JSON.stringify(result?.json ?? {}, null, 2) + '\n';
  res.writeHead(status, { ...result?.headers, 'content-type': 'application/json' });
  res.end(body);
}

function sendError(
  res: http.ServerResponse,
  err: TrellisError,
  status = STATUS_BY_CODE[err.code] ?? 500,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  send(res, status, { json: errorBody(err) });
}

/**
 * Reads the body up to MAX_BODY. Past it, the rest is not read: the answer (413) says
 * `connection: close` so the client cannot keep streaming into this connection.
 */
function readBody(req: http.IncomingMessage, res: http.ServerResponse): Promise<string> {
  const tooLarge = () => {
    res.setHeader('connection', 'close');
    return new TrellisError('TRELLIS_TOO_LARGE', `request body larger than ${MAX_BODY} bytes`);
  };
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      req.pause();
      reject(tooLarge());
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `request body is not valid JSON: ${errorMessage(err)}`,
    );
  }
}

/** Binds the API server; see core/net.ts. */
export const listenHttp = (server: http.Server, host: string, port: number): Promise<number> =>
  listenOn(server, host, port);
