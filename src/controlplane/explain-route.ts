/**
 * `GET /v1/explain?from=PROXY&method=M&url=URL&header=k:v...` (or `&requestId=ID`): what a
 * connected proxy would do with a request (`trellis explain`). The control plane names the proxy
 * as the CLI does (proxy-names.ts: workload name, NAME.NAMESPACE, an id prefix; candidates listed
 * when unknown or ambiguous) and asks it: the proxy computes the answer itself at its admin
 * `POST /explain`, from its live config and cluster state, reached at the address it reported in
 * node metadata. Envoy and proxyless gRPC have no such endpoint: 501 says so.
 */
import { TrellisError, errorMessage } from '../core/errors.js';
import type { DebugView } from './api-views.js';
import { errorBody, type ApiResult, type HttpRouter } from './http-server.js';
import { resolveProxyName, shortName } from './proxy-names.js';

/** How the control plane reaches a proxy's admin (fetch; a fake in tests). */
export type AdminPost = (url: string, body: string) => Promise<{ status: number; text: string }>;

const TIMEOUT_MS = 10_000;

const defaultPost: AdminPost = async (url, body) => {
  const res = await fetch(url, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  return { status: res.status, text: await res.text() };
};

/** `k: v` or `k:v` from a repeated `header` parameter. */
export function parseHeaderParams(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const colon = v.indexOf(':', v.startsWith(':') ? 1 : 0);
    const name = colon > 0 ? v.slice(0, colon).trim().toLowerCase() : '';
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name))
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `header=${JSON.stringify(v)}: expected NAME:VALUE, e.g. header=x-user:jason`,
      );
    out[name] = v.slice(colon + 1).trim();
  }
  return out;
}

function dialable(address: string): string {
  return `http://${address.replace(/^0\.0\.0\.0:/, '127.0.0.1:').replace(/^\[::\]:/, '[::1]:')}`;
}

function fail(status: number, err: TrellisError): ApiResult {
  return { status, json: errorBody(err) };
}

export function registerExplainRoute(
  router: HttpRouter,
  debug: DebugView,
  post: AdminPost = defaultPost,
): void {
  router.on('GET', '/v1/explain', async (req) => {
    const q = req.query;
    const from = q.get('from');
    if (!from)
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        'query parameter from=PROXY is required (a workload name, NAME.NAMESPACE or an id prefix; see /debug/syncz)',
      );
    const requestId = q.get('requestId');
    const url = q.get('url');
    if (requestId === null && !url)
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        'query parameter url=URL (the request to explain) or requestId=ID (a failed request the proxy served) is required',
      );
    const body =
      requestId !== null
        ? { requestId }
        : { method: q.get('method') ?? 'GET', url, headers: parseHeaderParams(q.getAll('header')) };
    const proxies = debug.proxyStatus();
    const r = resolveProxyName(from, proxies);
    if (!r.ok) throw new TrellisError('TRELLIS_NOT_FOUND', r.message);
    const p = proxies.find((x) => x.proxy === r.id)!;
    const name = `${shortName(p)} (${p.proxy})`;
    if (p.type === 'grpc' || !p.adminAddress)
      return fail(
        501,
        new TrellisError(
          'TRELLIS_UNSUPPORTED',
          `proxy ${name} cannot explain requests: ${p.type === 'grpc' ? 'a proxyless gRPC client' : 'an Envoy (or an older Trellis proxy)'} has no Trellis admin /explain; read its routes with 'trellis proxy-config routes ${shortName(p)}' instead`,
        ),
      );
    const target = `${dialable(p.adminAddress)}/explain`;
    let answer: { status: number; text: string };
    try {
      answer = await post(target, JSON.stringify(body));
    } catch (err) {
      return fail(
        502,
        new TrellisError(
          'TRELLIS_IO',
          `cannot reach proxy ${name} at its admin address ${target} (${errorMessage((err as { cause?: unknown }).cause ?? err)}); is it running and is its admin port reachable from the control plane?`,
        ),
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(answer.text);
    } catch {
      json = undefined;
    }
    if (answer.status === 200 && json !== undefined) return { json };
    const message =
      (json as { error?: { message?: string } } | undefined)?.error?.message ?? answer.text.trim();
    if (answer.status === 400) return fail(400, new TrellisError('TRELLIS_INVALID_ARGUMENT', message));
    if (answer.status === 404 && requestId !== null)
      return fail(404, new TrellisError('TRELLIS_NOT_FOUND', message));
    if (answer.status === 404)
      return fail(
        501,
        new TrellisError(
          'TRELLIS_UNSUPPORTED',
          `proxy ${name} has no /explain (${message}); upgrade it, or ask a worker`,
        ),
      );
    return fail(502, new TrellisError('TRELLIS_IO', `proxy ${name} answered ${answer.status}: ${message}`));
  });
}
