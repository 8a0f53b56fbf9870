/**
 * What every bookinfo service shares: an HTTP client that goes through the sidecar named in
 * HTTP_PROXY (as curl, Python requests or Go do by themselves; Node's fetch does not, so this
 * sends the absolute-form request `GET http://reviews:9080/reviews/0` to the proxy with
 * node:http), the headers bookinfo propagates from an incoming request to the requests it
 * makes, and a tiny server with a router.
 */
import http from 'node:http';

/** Tracing and user headers, as Istio's bookinfo propagates them, plus the demo's failure switch. */
export const PROPAGATED_HEADERS = [
  'x-request-id',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
  'b3',
  'traceparent',
  'tracestate',
  'x-ot-span-context',
  'end-user',
  'user-agent',
  'x-bookinfo-fail',
] as const;

export function propagatedHeaders(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of PROPAGATED_HEADERS) {
    const v = req.headers[name];
    if (typeof v === 'string') out[name] = v;
  }
  return out;
}

export interface JsonResponse {
  status: number;
  body: unknown;
}

/** The proxy to use for `url`, from HTTP_PROXY / http_proxy unless NO_PROXY names the host. */
function proxyFor(url: URL): URL | undefined {
  const proxy = process.env.HTTP_PROXY ?? process.env.http_proxy;
  if (!proxy) return undefined;
  const noProxy = (process.env.NO_PROXY ?? process.env.no_proxy ?? '').split(',').map((s) => s.trim());
  if (noProxy.some((h) => h !== '' && (url.hostname === h || url.hostname.endsWith(`.${h}`))))
    return undefined;
  return new URL(proxy);
}

/** GET `url` (through the sidecar when there is one); resolves with status and parsed JSON. */
export function getJson(
  url: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<JsonResponse> {
  const target = new URL(url);
  const proxy = proxyFor(target);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: proxy ? proxy.hostname : target.hostname,
        port: Number(proxy ? proxy.port || 80 : target.port || 80),
        method: 'GET',
        // Absolute form to a proxy, origin form otherwise (RFC 9112 section 3.2).
        path: proxy ? target.href : `${target.pathname}${target.search}`,
        headers: { ...headers, host: target.host, accept: 'application/json' },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // Not JSON (an error page from a proxy): keep the text.
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export type Handler = (
  req: http.IncomingMessage,
  url: URL,
  params: string[],
) => Promise<{ status: number; body: unknown; headers?: Record<string, string> }>;

/** Serves `routes` (regexes over the path) on PORT; JSON bodies unless a string is returned. */
export function serve(name: string, routes: [RegExp, Handler][]): void {
  const port = Number(process.env.PORT ?? 9080);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = routes.find(([re]) => re.test(url.pathname));
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      const type = typeof body === 'string' ? 'text/html; charset=utf-8' : 'application/json';
      res.writeHead(status, { 'content-type': type, ...headers });
      res.end(text);
    };
    if (!route) return reply(404, { error: `no route for ${url.pathname}` });
    const params = route[0].exec(url.pathname)?.slice(1) ?? [];
    route[1](req, url, params).then(
      (r) => reply(r.status, r.body, r.headers),
      (err: unknown) => reply(500, { error: err instanceof Error ? err.message : String(err) }),
    );
  });
  // `trellis up` says where to listen: loopback by default, every address in a network namespace.
  const host = process.env.BIND_ADDRESS ?? '127.0.0.1';
  server.listen(port, host, () => console.log(`${name} listening on ${host}:${port}`));
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
