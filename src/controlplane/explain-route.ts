/**
 * `GET /v1/explain?from=PROXY&method=M&url=URL&header=k:v...` (or `&requestId=ID`): what a
 * connected proxy would do with a request (`trellis explain`). The control plane names the proxy
 * as the CLI does (proxy-names.ts: workload name, NAME.NAMESPACE, an id prefix; candidates listed
 * when unknown or ambiguous) and asks it: the proxy computes the answer itself at its admin
 * `POST /explain`, from its live config and cluster state, reached at the address it reported in
 * node metadata, when that is IP:PORT on the machine the proxy's xDS stream comes from
 * (admin-address.ts; else 502 says why and nothing is contacted). Envoy and proxyless gRPC have no
 * such endpoint: 501 says so. A proxy's error text is passed on only as a short, sanitized snippet.
 */
import { TrellisError, errorMessage } from '../core/errors.js';
import { adminTarget } from './admin-address.js';
import type { DebugView } from './api-views.js';
import { readBoundedText, snippet } from './bounded-body.js';
import { errorBody, type ApiResult, type HttpRouter } from './http-server.js';
import { resolveProxyName, shortName } from './proxy-names.js';

/** How the control plane reaches a proxy's admin (fetch; a fake in tests). */
export type AdminPost = (url: string, body: string) => Promise<{ status: number; text: string }>;

const TIMEOUT_MS = 10_000;
/** An explanation is a few KiB; anything past this is not one. */
const MAX_ANSWER_BYTES = 4 << 20;

const defaultPost: AdminPost = async (url, body) => {
  const controller = new AbortController();
  const res = await fetch(url, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
    signal: AbortSignal.any([controller.signal, AbortSignal.timeout(TIMEOUT_MS)]),
    redirect: 'error',
  });
  return { status: res.status, text: await readBoundedText(res, MAX_ANSWER_BYTES, () => controller.abort()) };
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
    const admin = adminTarget(p.adminAddress, p.peer);
    if (!admin.ok)
      return fail(
        502,
        new TrellisError(
          'TRELLIS_IO',
          `proxy ${name} is not asked: ${admin.reason}. A proxy's admin is reached only on loopback or at the IP it connects to the control plane from`,
        ),
      );
    const target = `${admin.base}/explain`;
    let answer: { status: number; text: string };
    try {
      answer = await post(target, JSON.stringify(body));
    } catch (err) {
      return fail(
        502,
        new TrellisError(
          'TRELLIS_IO',
          `cannot reach proxy ${name} at its admin address ${target} (${snippet(errorMessage((err as { cause?: unknown }).cause ?? err))}); is it running and is its admin port reachable from the control plane?`,
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
    const reported = (json as { error?: { message?: unknown } } | undefined)?.error?.message;
    const message = snippet(typeof reported === 'string' ? reported : answer.text);
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
