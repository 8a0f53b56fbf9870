/**
 * MeshConfig `extensionProviders` that CUSTOM AuthorizationPolicies name: Istio's
 * `envoyExtAuthzHttp` and `envoyExtAuthzGrpc` (mesh/v1alpha1/config.proto,
 * MeshConfig.ExtensionProvider), validated as istiod does before use
 * (pilot/pkg/security/authz/builder/extauthz.go: names DNS-1123-label-like and unique, ports
 * 1..65535, statusOnError an HTTP status, pathPrefix starting with `/`, no lone `*` header).
 * Providers of other kinds (tracing, logging, metrics) are kept out: they are not security.
 */
import type { Problems } from '../../core/errors.js';
import { fieldPath, isAbsent, SpecCheck, type Obj } from '../fields.js';

export interface BodyInCheck {
  maxRequestBytes?: number;
  allowPartialMessage?: boolean;
  packAsBytes?: boolean;
}

interface ExtAuthzCommon {
  /** Hostname of the authorization service, `ns/host` allowed (Istio). */
  service: string;
  port: number;
  /** Milliseconds; Istio's default 600 ms. */
  timeoutMs?: number;
  failOpen?: boolean;
  /** HTTP status sent when the service errs (default 403). */
  statusOnError?: number;
  includeRequestBodyInCheck?: BodyInCheck;
}

export interface ExtAuthzHttpProvider extends ExtAuthzCommon {
  pathPrefix?: string;
  includeRequestHeadersInCheck?: string[];
  includeAdditionalHeadersInCheck?: Record<string, string>;
  headersToUpstreamOnAllow?: string[];
  headersToDownstreamOnDeny?: string[];
  headersToDownstreamOnAllow?: string[];
}

export type ExtAuthzGrpcProvider = ExtAuthzCommon;

export type AuthzExtensionProvider =
  | { name: string; kind: 'http'; http: ExtAuthzHttpProvider }
  | { name: string; kind: 'grpc'; grpc: ExtAuthzGrpcProvider };

const PROVIDER_KINDS_ELSEWHERE = [
  'zipkin',
  'lightstep',
  'datadog',
  'stackdriver',
  'opencensus',
  'skywalking',
  'opentelemetry',
  'prometheus',
  'envoyFileAccessLog',
  'envoyHttpAls',
  'envoyTcpAls',
  'envoyOtelAls',
  'sds',
];

const COMMON = ['service', 'port', 'timeout', 'failOpen', 'statusOnError', 'includeRequestBodyInCheck'];
const HTTP_FIELDS = [
  ...COMMON,
  'pathPrefix',
  'includeRequestHeadersInCheck',
  'includeHeadersInCheck',
  'includeAdditionalHeadersInCheck',
  'headersToUpstreamOnAllow',
  'headersToDownstreamOnDeny',
  'headersToDownstreamOnAllow',
];
const GRPC_FIELDS = COMMON;

/** Envoy's StatusCode enum: the HTTP statuses it can send. */
function knownStatus(code: number): boolean {
  return Number.isInteger(code) && code >= 100 && code <= 599;
}

function providerNameError(name: string): string | undefined {
  if (name.length > 63) return 'must be at most 63 characters';
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(name))
    return `${JSON.stringify(name)}: only lowercase letters, digits and '-', not at the start or the end`;
  return undefined;
}

function common(c: SpecCheck, o: Obj, path: string): ExtAuthzCommon | undefined {
  const service = c.string(o, 'service', path, { required: true });
  const port = c.int(o, 'port', path, { required: true, min: 1, max: 65535 });
  const timeoutMs = c.duration(o, 'timeout', path);
  const failOpen = c.bool(o, 'failOpen', path);
  const status = c.string(o, 'statusOnError', path);
  let statusOnError: number | undefined;
  if (status !== undefined && status !== '') {
    statusOnError = Number(status);
    if (!/^\d+$/.test(status) || !knownStatus(statusOnError)) {
      c.error(fieldPath(path, 'statusOnError'), `${JSON.stringify(status)} is not an HTTP status code`);
    }
  }
  const body = c.child(o, 'includeRequestBodyInCheck', path, [
    'maxRequestBytes',
    'allowPartialMessage',
    'packAsBytes',
  ]);
  const bp = fieldPath(path, 'includeRequestBodyInCheck');
  if (service === undefined || port === undefined) return undefined;
  const out: ExtAuthzCommon = { service, port };
  if (timeoutMs !== undefined) out.timeoutMs = timeoutMs;
  if (failOpen !== undefined) out.failOpen = failOpen;
  if (statusOnError !== undefined) out.statusOnError = statusOnError;
  if (body !== undefined) {
    const b: BodyInCheck = {};
    const max = c.int(body, 'maxRequestBytes', bp, { min: 0 });
    const partial = c.bool(body, 'allowPartialMessage', bp);
    const bytes = c.bool(body, 'packAsBytes', bp);
    if (max !== undefined) b.maxRequestBytes = max;
    if (partial !== undefined) b.allowPartialMessage = partial;
    if (bytes !== undefined) b.packAsBytes = bytes;
    out.includeRequestBodyInCheck = b;
  }
  return out;
}

function headers(c: SpecCheck, o: Obj, key: string, path: string): string[] | undefined {
  const items = c.stringList(o, key, path);
  if (items === undefined) return undefined;
  for (const i of items) {
    if (i.value === '*')
      c.error(i.path, 'a lone "*" is not supported; use a prefix (x-*) or suffix (*-id) match');
  }
  return items.map((i) => i.value);
}

/**
 * Reads `extensionProviders` (the list under the mesh config root); returns the ext_authz ones.
 * Every problem goes to `problems` with its path (`extensionProviders[0].envoyExtAuthzHttp.port`).
 */
export function parseExtensionProviders(
  value: unknown,
  problems: Problems,
  path = 'extensionProviders',
): AuthzExtensionProvider[] {
  const c = new SpecCheck(problems);
  if (isAbsent(value)) return [];
  if (!Array.isArray(value)) {
    c.error(path, 'expected a list of extension providers');
    return [];
  }
  const out: AuthzExtensionProvider[] = [];
  const seen = new Set<string>();
  value.forEach((item: unknown, i) => {
    const ip = `${path}[${i}]`;
    const p = c.object(item, ip, [
      'name',
      'envoyExtAuthzHttp',
      'envoyExtAuthzGrpc',
      ...PROVIDER_KINDS_ELSEWHERE,
    ]);
    if (p === undefined) {
      if (isAbsent(item)) c.error(ip, 'must not be null');
      return;
    }
    const name = c.string(p, 'name', ip, { required: true });
    if (name !== undefined) {
      const err = providerNameError(name);
      if (err !== undefined) c.error(fieldPath(ip, 'name'), err);
      if (seen.has(name)) c.error(fieldPath(ip, 'name'), `${JSON.stringify(name)} is defined twice`);
      seen.add(name);
    }
    const kinds = Object.keys(p).filter((k) => k !== 'name' && !isAbsent(p[k]));
    if (kinds.length !== 1) {
      c.error(
        ip,
        `expected exactly one provider kind; found ${kinds.length === 0 ? 'none' : kinds.join(', ')}`,
      );
      return;
    }
    const httpCfg = c.child(p, 'envoyExtAuthzHttp', ip, HTTP_FIELDS);
    const grpcCfg = c.child(p, 'envoyExtAuthzGrpc', ip, GRPC_FIELDS);
    if (httpCfg !== undefined) {
      const hp = fieldPath(ip, 'envoyExtAuthzHttp');
      const base = common(c, httpCfg, hp);
      const pathPrefix = c.string(httpCfg, 'pathPrefix', hp);
      if (pathPrefix !== undefined && pathPrefix !== '' && !pathPrefix.startsWith('/'))
        c.error(fieldPath(hp, 'pathPrefix'), `must begin with "/"; found ${JSON.stringify(pathPrefix)}`);
      const include = headers(c, httpCfg, 'includeRequestHeadersInCheck', hp);
      const legacy = headers(c, httpCfg, 'includeHeadersInCheck', hp);
      const additional = c.stringMap(httpCfg, 'includeAdditionalHeadersInCheck', hp);
      const up = headers(c, httpCfg, 'headersToUpstreamOnAllow', hp);
      const downDeny = headers(c, httpCfg, 'headersToDownstreamOnDeny', hp);
      const downAllow = headers(c, httpCfg, 'headersToDownstreamOnAllow', hp);
      if (base === undefined || name === undefined) return;
      const h: ExtAuthzHttpProvider = { ...base };
      if (pathPrefix !== undefined && pathPrefix !== '') h.pathPrefix = pathPrefix;
      // includeHeadersInCheck is the deprecated spelling, read only without the new one (Istio).
      const reqHeaders = include ?? legacy;
      if (reqHeaders !== undefined && reqHeaders.length > 0) h.includeRequestHeadersInCheck = reqHeaders;
      if (additional !== undefined && additional.size > 0)
        h.includeAdditionalHeadersInCheck = Object.fromEntries(additional);
      if (up !== undefined && up.length > 0) h.headersToUpstreamOnAllow = up;
      if (downDeny !== undefined && downDeny.length > 0) h.headersToDownstreamOnDeny = downDeny;
      if (downAllow !== undefined && downAllow.length > 0) h.headersToDownstreamOnAllow = downAllow;
      out.push({ name, kind: 'http', http: h });
    } else if (grpcCfg !== undefined) {
      const base = common(c, grpcCfg, fieldPath(ip, 'envoyExtAuthzGrpc'));
      if (base === undefined || name === undefined) return;
      out.push({ name, kind: 'grpc', grpc: base });
    }
  });
  return out;
}
