import http from 'node:http';
import { TrellisError, errorMessage, isTrellisError, type ErrorCode } from '../core/errors.js';
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
  body(): Promise<unknown>;
  raw: http.IncomingMessage;
}

export type ApiResult = { status?: number; json?: unknown; text?: string; contentType?: string } | undefined;
export type Handler = (req: ApiRequest) => Promise<ApiResult> | ApiResult;

interface RouteEntry {
  method: string;
  parts: string[];
  handler: Handler;
}

const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  TRELLIS_INVALID_CONFIG: 400,
  TRELLIS_INVALID_ARGUMENT: 400,
  TRELLIS_NOT_FOUND: 404,
  TRELLIS_CONFLICT: 409,
  TRELLIS_UNSUPPORTED: 422,
};

const MAX_BODY = 8 * 1024 * 1024;

export class HttpRouter {
  private readonly routes: RouteEntry[] = [];

  constructor(private readonly logger: Logger) {}

  on(method: string, pattern: string, handler: Handler): this {
    this.routes.push({ method, parts: pattern.split('/').filter(Boolean), handler });
    return this;
  }

  listener(): http.RequestListener {
    return (req, res) => void this.handle(req, res);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    let matchedPath = false;
    for (const r of this.routes) {
      const params = match(r.parts, parts);
      if (!params) continue;
      matchedPath = true;
      if (r.method !== req.method) continue;
      try {
        const result = await r.handler({
          method: req.method,
          path: url.pathname,
          params,
          query: url.searchParams,
          body: () => readJson(req),
          raw: req,
        });
        send(res, result?.status ?? 200, result);
      } catch (err) {
        const status = isTrellisError(err) ? (STATUS_BY_CODE[err.code] ?? 500) : 500;
        if (status === 500)
          this.logger.error('API handler failed', { path: url.pathname, error: errorMessage(err) });
        send(res, status, {
          json: {
            error: {
              code: isTrellisError(err) ? err.code : 'TRELLIS_INTERNAL',
              message: errorMessage(err),
              ...(isTrellisError(err) && err.path ? { path: err.path } : {}),
            },
          },
        });
      }
      return;
    }
    send(res, matchedPath ? 405 : 404, {
      json: {
        error: {
          code: 'TRELLIS_NOT_FOUND',
          message: matchedPath ? `method ${req.method} not allowed` : `no such endpoint ${url.pathname}`,
        },
      },
    });
  }
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
    res.writeHead(status, { 'content-type': result.contentType ?? 'text/plain; charset=utf-8' });
    res.end(result.text);
    return;
  }
  const body = JSON.stringify(result?.json ?? {}, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(body);
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY)
      throw new TrellisError('TRELLIS_INVALID_ARGUMENT', `request body larger than ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
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
