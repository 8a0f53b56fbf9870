/**
 * Client side of the ext_authz filter: envoy.service.auth.v3.Authorization/Check over gRPC, to an
 * endpoint of the configured cluster (one channel per endpoint), and the answer read as Envoy
 * reads it: status OK is an allow with the ok_response's header changes; any other status a
 * denial with the denied_response's status (default 403), headers and body; no answer in time,
 * or a broken one, an error the filter turns into status_on_error or failure_mode_allow.
 */
import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { decodeMessage, encodeMessage } from '../../protocol/protos.js';
import type { ExtAuthzConfig, ExtAuthzHttpService } from '../model/config.js';
import type { ClusterManager } from '../upstream/cluster-manager.js';
import { httpStatusCode } from '../model/convert-security-filters.js';

const METHOD = '/envoy.service.auth.v3.Authorization/Check';
const REQUEST = 'envoy.service.auth.v3.CheckRequest';
const RESPONSE = 'envoy.service.auth.v3.CheckResponse';

interface HeaderValueOption {
  header?: { key?: string; value?: string };
  append?: { value?: boolean };
  append_action?: string;
}

interface CheckResponse {
  status?: { code?: number; message?: string };
  ok_response?: {
    headers?: HeaderValueOption[];
    headers_to_remove?: string[];
    response_headers_to_add?: HeaderValueOption[];
  };
  denied_response?: { status?: { code?: string | number }; headers?: HeaderValueOption[]; body?: string };
  dynamic_metadata?: unknown;
}

export interface HeaderChange {
  name: string;
  value: string;
  /** Append to an existing value rather than replace it. */
  append: boolean;
}

export type ExtAuthzAnswer =
  | { kind: 'ok'; requestHeaders: HeaderChange[]; removeHeaders: string[]; responseHeaders: HeaderChange[] }
  | { kind: 'denied'; status: number; headers: [string, string][]; body: string }
  | { kind: 'error'; message: string };

/** What the filter tells the service about a request (AttributeContext). */
export interface CheckInput {
  method: string;
  /** With its query. */
  path: string;
  authority: string;
  scheme: string;
  protocol: string;
  /** Lower-case names with the pseudo-headers. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  sourceIp: string;
  sourcePrincipal?: string | undefined;
  destinationPort: number;
  requestId?: string | undefined;
}

const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
  // Channels to endpoints that went away stop trying once unused.
  'grpc.client_idle_timeout_ms': 30_000,
};

/** Ext_authz's ok_response headers replace unless told to append (the message's own default). */
function changes(list: HeaderValueOption[] | undefined): HeaderChange[] {
  return (list ?? [])
    .filter((h) => h.header?.key)
    .map((h) => ({
      name: (h.header?.key ?? '').toLowerCase(),
      value: h.header?.value ?? '',
      append: h.append?.value === true || h.append_action === 'APPEND_IF_EXISTS_OR_ADD',
    }));
}

/** Headers the service may not change: the pseudo-headers and Host (Envoy ignores them too). */
function changeable(name: string): boolean {
  return !name.startsWith(':') && name !== 'host';
}

export function readCheckResponse(res: CheckResponse): ExtAuthzAnswer {
  const code = res.status?.code ?? 0;
  if (code === 0) {
    return {
      kind: 'ok',
      requestHeaders: changes(res.ok_response?.headers).filter((h) => changeable(h.name)),
      removeHeaders: (res.ok_response?.headers_to_remove ?? [])
        .map((h) => h.toLowerCase())
        .filter(changeable),
      responseHeaders: changes(res.ok_response?.response_headers_to_add),
    };
  }
  const status = httpStatusCode(res.denied_response?.status?.code) ?? 403;
  return {
    kind: 'denied',
    // An unset or nonsensical status is Envoy's default, 403.
    status: status >= 200 && status <= 599 ? status : 403,
    headers: changes(res.denied_response?.headers).map((h) => [h.name, h.value]),
    body: res.denied_response?.body ?? '',
  };
}

function checkRequest(input: CheckInput, now: number): object {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.headers))
    if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v;
  const q = input.path.indexOf('?');
  return {
    attributes: {
      source: {
        address: { socket_address: { address: input.sourceIp } },
        ...(input.sourcePrincipal ? { principal: input.sourcePrincipal } : {}),
      },
      destination: { address: { socket_address: { port_value: input.destinationPort } } },
      request: {
        time: { seconds: Math.floor(now / 1000), nanos: (now % 1000) * 1e6 },
        http: {
          id: input.requestId ?? '',
          method: input.method,
          headers,
          path: input.path,
          host: input.authority,
          scheme: input.scheme,
          query: q === -1 ? '' : input.path.slice(q + 1),
          protocol: input.protocol,
          size: -1,
        },
      },
    },
  };
}

/** Never taken from the service's answer: they describe its own message, not the request's. */
const SERVICE_ONLY = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'host',
  'date',
  'upgrade',
  'proxy-connection',
]);
/** Envoy always lets these through to a denied client when allowed_client_headers is set. */
const ALWAYS_TO_CLIENT = new Set(['www-authenticate', 'location']);

function responseHeaders(res: http.IncomingMessage, pick: (name: string) => boolean): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(res.headers)) {
    if (v === undefined || SERVICE_ONLY.has(k) || !pick(k)) continue;
    out.push([k, Array.isArray(v) ? v.join(',') : v]);
  }
  return out;
}

/**
 * http_service: the check is the client's request without its body (method, path behind
 * path_prefix, :authority, Authorization and the allowed headers); a 200 allows, any other
 * status denies with the service's status, body and (allowed) headers.
 */
async function checkHttp(
  agent: http.Agent,
  endpoint: { host: string; port: number },
  config: ExtAuthzConfig,
  svc: ExtAuthzHttpService,
  input: CheckInput,
): Promise<ExtAuthzAnswer> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.headers)) {
    if (v === undefined || k.startsWith(':') || SERVICE_ONLY.has(k)) continue;
    if (k === 'authorization' || svc.requestHeader(k)) headers[k] = Array.isArray(v) ? v.join(',') : v;
  }
  for (const [k, v] of svc.headersToAdd) headers[k] = v;
  headers.host = input.authority;
  headers['content-length'] = '0';
  return await new Promise<ExtAuthzAnswer>((resolve) => {
    const req = http.request(
      {
        agent,
        host: endpoint.host,
        port: endpoint.port,
        method: input.method,
        path: svc.pathPrefix + input.path,
        headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => resolve({ kind: 'error', message: err.message }));
        res.on('end', () => {
          clearTimeout(timer);
          if (res.statusCode === 200) {
            const upstream = svc.upstreamHeader;
            const append = svc.upstreamAppendHeader;
            const onSuccess = svc.clientHeaderOnSuccess;
            resolve({
              kind: 'ok',
              requestHeaders: [
                ...(upstream
                  ? responseHeaders(res, upstream).map(([name, value]) => ({ name, value, append: false }))
                  : []),
                ...(append
                  ? responseHeaders(res, append).map(([name, value]) => ({ name, value, append: true }))
                  : []),
              ],
              removeHeaders: [],
              responseHeaders: onSuccess
                ? responseHeaders(res, onSuccess).map(([name, value]) => ({ name, value, append: false }))
                : [],
            });
            return;
          }
          const client = svc.clientHeader;
          resolve({
            kind: 'denied',
            status: res.statusCode ?? 403,
            headers: responseHeaders(res, client ? (n) => client(n) || ALWAYS_TO_CLIENT.has(n) : () => true),
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
      },
    );
    const timer = setTimeout(() => req.destroy(new Error('ext_authz request timed out')), config.timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      resolve({ kind: 'error', message: err.message });
    });
    req.end();
  });
}

export class ExtAuthzClient {
  private readonly channels = new Map<string, grpc.Client>();
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  constructor(private readonly clusters: ClusterManager) {}

  async check(config: ExtAuthzConfig, input: CheckInput, now: number): Promise<ExtAuthzAnswer> {
    const host = this.clusters.get(config.cluster)?.pick();
    if (!host) return { kind: 'error', message: `no endpoint in ext_authz cluster ${config.cluster}` };
    if (config.http) return await checkHttp(this.agent, host.endpoint, config, config.http, input);
    const key = `${host.endpoint.key}|${config.authority}`;
    let client = this.channels.get(key);
    if (!client) {
      client = new grpc.Client(host.endpoint.key, grpc.credentials.createInsecure(), {
        ...CHANNEL_OPTIONS,
        'grpc.default_authority': config.authority,
      });
      this.channels.set(key, client);
    }
    const response = await new Promise<CheckResponse | Error>((resolve) => {
      client.makeUnaryRequest(
        METHOD,
        (v: object) => Buffer.from(encodeMessage(REQUEST, v)),
        (b: Buffer) => decodeMessage<CheckResponse>(RESPONSE, b),
        checkRequest(input, now),
        new grpc.Metadata(),
        { deadline: Date.now() + config.timeoutMs },
        (err, value) => resolve(err ?? value ?? new Error('empty response')),
      );
    });
    if (response instanceof Error) return { kind: 'error', message: response.message };
    return readCheckResponse(response);
  }

  close(): void {
    for (const c of this.channels.values()) c.close();
    this.channels.clear();
    this.agent.destroy();
  }
}

/** One client per proxy (its cluster manager), made on first use. */
const clients = new WeakMap<ClusterManager, ExtAuthzClient>();

export function extAuthzClientFor(clusters: ClusterManager): ExtAuthzClient {
  let c = clients.get(clusters);
  if (!c) {
    c = new ExtAuthzClient(clusters);
    clients.set(clusters, c);
  }
  return c;
}
