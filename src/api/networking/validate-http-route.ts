/**
 * Validation of one VirtualService HTTPRoute and its parts, following the rules of Istio's
 * pkg/config/validation (validateHTTPRoute and friends).
 */
import { fieldPath, isAbsent, type Obj, type SpecCheck } from '../fields.js';
import { dns1123LabelError, dns1123SubdomainError, headerNameError, headerValueError } from '../names.js';
import { jwtClaimPath, jwtClaimPathError } from './jwt-claim-route.js';
import {
  checkDeprecatedPercent,
  checkDestination,
  checkGatewayNames,
  checkHeaders,
  isAuthorityHeader,
  checkLabels,
  checkName,
  checkPercent,
  checkStringMatch,
  checkStringMatchMap,
  oneOf,
} from './validate-common.js';

export const HTTP_ROUTE_FIELDS = [
  'name',
  'match',
  'route',
  'redirect',
  'directResponse',
  'delegate',
  'rewrite',
  'timeout',
  'retries',
  'fault',
  'mirror',
  'mirrorPercentage',
  'mirrorPercent',
  'mirrors',
  'corsPolicy',
  'headers',
] as const;

const MATCH_FIELDS = [
  'name',
  'uri',
  'scheme',
  'method',
  'authority',
  'headers',
  'withoutHeaders',
  'queryParams',
  'port',
  'sourceLabels',
  'sourceNamespace',
  'gateways',
  'ignoreUriCase',
  'statPrefix',
] as const;

/** Envoy's x-envoy-retry-on and x-envoy-retry-grpc-on conditions that Istio accepts. */
export const RETRY_ON_CONDITIONS = [
  '5xx',
  'gateway-error',
  'reset',
  'reset-before-request',
  'connect-failure',
  'envoy-ratelimited',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'retriable-headers',
  'http3-post-connect-failure',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
] as const;

export const GRPC_STATUS_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

const CORS_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];

export interface HTTPRouteContext {
  /** The VirtualService has no hosts: it is the target of another one's `delegate`. */
  delegateVirtualService: boolean;
  /** Bound only to gateways (not `mesh`): `@request.auth.claims` header matches are allowed. */
  gatewaysOnly?: boolean;
}

export function checkHTTPRoute(c: SpecCheck, value: unknown, path: string, ctx: HTTPRouteContext): void {
  // mirror_percent (mirrorPercent's proto name) is accepted but not offered in the hint.
  const plain = typeof value === 'object' && value !== null && !Array.isArray(value);
  const { mirror_percent: _legacy, ...others } = plain ? (value as Obj) : {};
  const r = c.object(plain ? others : value, path, HTTP_ROUTE_FIELDS) && (value as Obj);
  if (r === undefined) {
    if (isAbsent(value)) c.error(path, 'expected an HTTP route, got null');
    return;
  }
  c.string(r, 'name', path);
  checkActions(c, r, path, ctx);

  for (const m of c.list(r, 'match', path) ?? []) checkMatch(c, m.value, m.path, ctx);
  checkRouteDestinations(c, r, 'route', path, true);
  checkRedirect(c, r, path);
  checkDirectResponse(c, r, path);
  checkDelegate(c, r, path);
  checkRewrite(c, r, path);
  c.duration(r, 'timeout', path);
  checkRetries(c, r, path);
  checkFault(c, r, path);
  checkMirrors(c, r, path);
  checkCors(c, r, path);
  checkHeaders(c, r, 'headers', path);
}

/** route, redirect, directResponse and delegate are alternatives; fault/rewrite need a route. */
function checkActions(c: SpecCheck, r: Obj, path: string, ctx: HTTPRouteContext): void {
  const has = (k: string) => !isAbsent(r[k]) && !(Array.isArray(r[k]) && r[k].length === 0);
  const route = has('route');
  if (!route && !has('redirect') && !has('directResponse') && !has('delegate')) {
    c.error(path, 'one of route, redirect, directResponse or delegate is required');
  }
  if (has('redirect')) {
    for (const other of ['route', 'fault', 'rewrite']) {
      if (has(other)) c.error(fieldPath(path, 'redirect'), `cannot be combined with ${other}`);
    }
  }
  if (has('directResponse')) {
    for (const other of ['route', 'redirect', 'fault', 'rewrite']) {
      if (has(other)) c.error(fieldPath(path, 'directResponse'), `cannot be combined with ${other}`);
    }
  }
  if (has('delegate')) {
    if (ctx.delegateVirtualService) {
      c.error(fieldPath(path, 'delegate'), 'a delegate VirtualService cannot delegate again');
    }
    for (const other of ['route', 'redirect', 'directResponse']) {
      if (has(other)) c.error(fieldPath(path, 'delegate'), `cannot be combined with ${other}`);
    }
  }
}

function checkMatch(c: SpecCheck, value: unknown, path: string, ctx: HTTPRouteContext): void {
  const m = c.object(value, path, MATCH_FIELDS);
  if (m === undefined) return;
  c.string(m, 'name', path);
  for (const key of ['uri', 'scheme', 'method', 'authority']) {
    if (!isAbsent(m[key])) checkStringMatch(c, m[key], fieldPath(path, key));
  }
  for (const key of ['headers', 'withoutHeaders', 'queryParams']) {
    checkStringMatchMap(c, m, key, path);
  }
  for (const key of ['headers', 'withoutHeaders']) {
    const headers = m[key];
    if (headers === null || typeof headers !== 'object') continue;
    for (const name of Object.keys(headers)) {
      const at = fieldPath(fieldPath(path, key), name);
      if (jwtClaimPath(name) !== undefined) {
        // Istio's rule: JWT claims exist only where a gateway verified the token.
        if (ctx.gatewaysOnly !== true)
          c.error(
            at,
            `JWT claim based routing (${name}) is only supported for gateways: list the gateways in spec.gateways, without mesh`,
          );
        const err = jwtClaimPathError(name);
        if (err !== undefined) c.error(at, err);
        continue;
      }
      const err = name === '' ? undefined : headerNameError(name);
      if (err !== undefined) c.error(at, err);
    }
  }
  c.port(m, 'port', path);
  checkLabels(c, m, 'sourceLabels', path);
  const ns = c.string(m, 'sourceNamespace', path);
  if (ns !== undefined) checkName(c, ns, fieldPath(path, 'sourceNamespace'), dns1123LabelError);
  checkGatewayNames(c, m, 'gateways', path);
  c.bool(m, 'ignoreUriCase', path);
  c.string(m, 'statPrefix', path);
}

/**
 * Destinations with weights. Weights are 0..100. With several destinations Istio, like Envoy,
 * splits traffic in proportion to the weights, so a sum other than 100 still works: we warn
 * (it is usually a typo) and the translator normalizes. A sum of 0 sends nothing anywhere and
 * is an error. A lone destination takes all traffic whatever its weight.
 */
export function checkRouteDestinations(
  c: SpecCheck,
  o: Obj,
  key: string,
  path: string,
  http: boolean,
  opts: { required?: boolean } = {},
): void {
  const items = c.list(o, key, path, { required: opts.required, nonEmpty: opts.required }) ?? [];
  const fields = http ? ['destination', 'weight', 'headers'] : ['destination', 'weight'];
  let total = 0;
  let allValid = true;
  const weights: (number | undefined)[] = [];
  for (const item of items) {
    const d = c.object(item.value, item.path, fields);
    if (d === undefined) {
      if (isAbsent(item.value)) c.error(item.path, 'expected a destination, got null');
      allValid = false;
      continue;
    }
    checkDestination(c, d.destination, fieldPath(item.path, 'destination'));
    const before = c.problems.items.length;
    const weight = c.int(d, 'weight', item.path, { min: 0, max: 100 });
    if (c.problems.items.length !== before) allValid = false;
    weights.push(weight);
    total += weight ?? 0;
    if (http) {
      checkHeaders(c, d, 'headers', item.path);
      if (items.length > 1 && hasRequestAuthority(d.headers)) {
        c.warning(
          fieldPath(fieldPath(item.path, 'headers'), 'request'),
          "accepted but not applied yet: :authority per destination of a weighted split (Trellis rewrites the host per route); set it in the route's headers.request.set",
        );
      }
    }
  }
  const p = fieldPath(path, key);
  if (!allValid) return;
  if (items.length > 1 && total === 0) {
    c.error(p, 'weights sum to 0');
  } else if (items.length > 1 && total !== 100) {
    c.warning(
      p,
      `weights sum to ${total}, not 100; traffic is split in proportion to the weights (each weight / ${total})`,
    );
  } else if (items.length === 1 && weights[0] !== undefined && weights[0] !== 0 && weights[0] !== 100) {
    c.warning(
      fieldPath(items[0]?.path ?? p, 'weight'),
      'a lone destination receives all traffic; its weight is ignored',
    );
  }
}

function checkRedirect(c: SpecCheck, r: Obj, path: string): void {
  const rd = c.child(r, 'redirect', path, [
    'uri',
    'prefixRewrite',
    'authority',
    'port',
    'derivePort',
    'scheme',
    'redirectCode',
  ]);
  if (rd === undefined) return;
  const p = fieldPath(path, 'redirect');
  if (['uri', 'prefixRewrite', 'authority', 'port', 'derivePort', 'scheme'].every((k) => isAbsent(rd[k]))) {
    c.error(p, 'requires one of uri, prefixRewrite, authority, scheme, port or derivePort');
  }
  oneOf(c, rd, ['port', 'derivePort'], p);
  oneOf(c, rd, ['uri', 'prefixRewrite'], p);
  if (!isAbsent(rd.prefixRewrite) && !urisArePrefixes(r.match)) {
    c.error(fieldPath(p, 'prefixRewrite'), 'needs every uri match of the route to be a prefix match');
  }
  for (const key of ['uri', 'prefixRewrite', 'authority']) {
    const text = c.string(rd, key, p);
    const err = text === undefined ? undefined : headerValueError(text);
    if (err !== undefined) c.error(fieldPath(p, key), err);
  }
  c.port(rd, 'port', p);
  c.enumValue(rd, 'derivePort', p, ['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT']);
  const scheme = c.string(rd, 'scheme', p);
  if (scheme !== undefined && scheme !== 'http' && scheme !== 'https') {
    c.error(fieldPath(p, 'scheme'), `${JSON.stringify(scheme)}: expected http or https`);
  }
  c.int(rd, 'redirectCode', p, { min: 300, max: 399 });
}

function checkDirectResponse(c: SpecCheck, r: Obj, path: string): void {
  const dr = c.child(r, 'directResponse', path, ['status', 'body']);
  if (dr === undefined) return;
  const p = fieldPath(path, 'directResponse');
  c.int(dr, 'status', p, { required: true, min: 200, max: 599 });
  const body = c.child(dr, 'body', p, ['string', 'bytes']);
  if (body === undefined) return;
  const bp = fieldPath(p, 'body');
  oneOf(c, body, ['string', 'bytes'], bp, { required: true });
  c.string(body, 'string', bp);
  const bytes = c.string(body, 'bytes', bp);
  if (bytes !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(bytes)) {
    c.error(fieldPath(bp, 'bytes'), 'expected base64-encoded bytes');
  }
}

function checkDelegate(c: SpecCheck, r: Obj, path: string): void {
  const d = c.child(r, 'delegate', path, ['name', 'namespace']);
  if (d === undefined) return;
  const p = fieldPath(path, 'delegate');
  const name = c.string(d, 'name', p, { required: true });
  if (name !== undefined) checkName(c, name, fieldPath(p, 'name'), dns1123SubdomainError);
  const ns = c.string(d, 'namespace', p);
  if (ns !== undefined) checkName(c, ns, fieldPath(p, 'namespace'), dns1123LabelError);
}

function checkRewrite(c: SpecCheck, r: Obj, path: string): void {
  const rw = c.child(r, 'rewrite', path, ['uri', 'authority', 'uriRegexRewrite']);
  if (rw === undefined) return;
  const p = fieldPath(path, 'rewrite');
  if (['uri', 'authority', 'uriRegexRewrite'].every((k) => isAbsent(rw[k]))) {
    c.error(p, 'requires one of uri, authority or uriRegexRewrite');
  }
  if (!isAbsent(rw.uri) && !isAbsent(rw.uriRegexRewrite)) {
    c.error(p, 'only one of uri, uriRegexRewrite may be set');
  }
  c.string(rw, 'uri', p);
  c.string(rw, 'authority', p);
  const rr = c.child(rw, 'uriRegexRewrite', p, ['match', 'rewrite']);
  if (rr !== undefined) {
    const rp = fieldPath(p, 'uriRegexRewrite');
    const match = c.string(rr, 'match', rp, { required: true });
    if (match !== undefined) c.regex(match, fieldPath(rp, 'match'));
    c.string(rr, 'rewrite', rp, { required: true });
  }
}

function checkRetries(c: SpecCheck, r: Obj, path: string): void {
  const fields = [
    'attempts',
    'perTryTimeout',
    'retryOn',
    'retryRemoteLocalities',
    'retryIgnorePreviousHosts',
    'backoff',
  ];
  const rt = c.child(r, 'retries', path, fields);
  if (rt === undefined) return;
  const p = fieldPath(path, 'retries');
  const attempts = c.int(rt, 'attempts', p, { min: 0 });
  if (attempts === 0 && fields.some((k) => k !== 'attempts' && !isAbsent(rt[k]))) {
    c.warning(
      fieldPath(p, 'attempts'),
      'attempts is 0, so retries are off and the rest of this policy is ignored',
    );
  }
  c.duration(rt, 'perTryTimeout', p);
  const retryOn = c.string(rt, 'retryOn', p);
  if (retryOn !== undefined && retryOn !== '') {
    for (const condition of retryOn.split(',')) {
      const status = /^\d{3}$/.test(condition) ? Number(condition) : NaN;
      const known = (RETRY_ON_CONDITIONS as readonly string[]).includes(condition);
      if (!known && !(status >= 100 && status <= 599)) {
        c.error(
          fieldPath(p, 'retryOn'),
          `${JSON.stringify(condition)} is not a retry condition; expected a comma-separated list of ${RETRY_ON_CONDITIONS.join(', ')} or HTTP status codes`,
        );
      }
    }
  }
  c.bool(rt, 'retryRemoteLocalities', p);
  c.bool(rt, 'retryIgnorePreviousHosts', p);
  c.duration(rt, 'backoff', p);
}

function checkFault(c: SpecCheck, r: Obj, path: string): void {
  const f = c.child(r, 'fault', path, ['delay', 'abort']);
  if (f === undefined) return;
  const p = fieldPath(path, 'fault');
  if (isAbsent(f.delay) && isAbsent(f.abort)) c.error(p, 'requires a delay, an abort or both');

  const delay = c.child(f, 'delay', p, ['fixedDelay', 'exponentialDelay', 'percentage', 'percent']);
  if (delay !== undefined) {
    const dp = fieldPath(p, 'delay');
    if (!isAbsent(delay.exponentialDelay)) {
      c.error(fieldPath(dp, 'exponentialDelay'), 'not supported; use fixedDelay');
    } else {
      c.duration(delay, 'fixedDelay', dp, { required: true });
    }
    checkPercent(c, delay, 'percentage', dp);
    checkDeprecatedPercent(c, delay, 'percent', dp, 'percentage');
  }

  const abort = c.child(f, 'abort', p, ['httpStatus', 'grpcStatus', 'http2Error', 'percentage']);
  if (abort !== undefined) {
    const ap = fieldPath(p, 'abort');
    const set = oneOf(c, abort, ['httpStatus', 'grpcStatus', 'http2Error'], ap);
    if (set.length === 0) c.error(ap, 'requires httpStatus or grpcStatus');
    c.int(abort, 'httpStatus', ap, { min: 200, max: 599 });
    c.enumValue(abort, 'grpcStatus', ap, GRPC_STATUS_NAMES);
    if (!isAbsent(abort.http2Error)) {
      c.error(fieldPath(ap, 'http2Error'), 'not supported; use httpStatus or grpcStatus');
    }
    checkPercent(c, abort, 'percentage', ap);
  }
}

function checkMirrors(c: SpecCheck, r: Obj, path: string): void {
  if (!isAbsent(r.mirror)) checkDestination(c, r.mirror, fieldPath(path, 'mirror'));
  checkPercent(c, r, 'mirrorPercentage', path);
  checkDeprecatedPercent(c, r, 'mirrorPercent', path, 'mirrorPercentage');
  // The proto name of the same field (Istio's file and istioctl readers take both spellings).
  checkDeprecatedPercent(c, r, 'mirror_percent', path, 'mirrorPercentage');
  if (!isAbsent(r.mirrorPercent) && !isAbsent(r.mirror_percent)) {
    c.error(
      fieldPath(path, 'mirror_percent'),
      'mirror_percent is mirrorPercent under its proto name: set one of them (or mirrorPercentage)',
    );
  }
  if (isAbsent(r.mirror)) {
    for (const key of ['mirrorPercentage', 'mirrorPercent', 'mirror_percent']) {
      if (!isAbsent(r[key])) c.warning(fieldPath(path, key), 'has no effect without mirror');
    }
  }
  const mirrors = c.list(r, 'mirrors', path) ?? [];
  if (mirrors.length > 0 && !isAbsent(r.mirror)) {
    c.error(fieldPath(path, 'mirrors'), 'cannot be combined with mirror');
  }
  for (const m of mirrors) {
    const mo = c.object(m.value, m.path, ['destination', 'percentage']);
    if (mo === undefined) continue;
    checkDestination(c, mo.destination, fieldPath(m.path, 'destination'));
    checkPercent(c, mo, 'percentage', m.path);
  }
}

function checkCors(c: SpecCheck, r: Obj, path: string): void {
  const fields = [
    'allowOrigins',
    'allowOrigin',
    'allowMethods',
    'allowHeaders',
    'exposeHeaders',
    'maxAge',
    'allowCredentials',
    'unmatchedPreflights',
  ];
  const cors = c.child(r, 'corsPolicy', path, fields);
  if (cors === undefined) return;
  const p = fieldPath(path, 'corsPolicy');
  for (const o of c.list(cors, 'allowOrigins', p) ?? []) checkStringMatch(c, o.value, o.path);
  c.deprecated(cors, 'allowOrigin', p, 'allowOrigins');
  c.stringList(cors, 'allowOrigin', p);
  for (const m of c.stringList(cors, 'allowMethods', p) ?? []) {
    if (m.value !== '*' && !CORS_METHODS.includes(m.value)) {
      c.error(
        m.path,
        `${JSON.stringify(m.value)} is not an HTTP method; expected one of ${CORS_METHODS.join(', ')} or *`,
      );
    }
  }
  for (const key of ['allowHeaders', 'exposeHeaders']) {
    for (const h of c.stringList(cors, key, p) ?? []) {
      const err = h.value === '*' ? undefined : headerNameError(h.value);
      if (err !== undefined) c.error(h.path, err);
    }
  }
  const maxAge = c.duration(cors, 'maxAge', p);
  if (maxAge !== undefined && maxAge % 1000 !== 0) {
    c.error(fieldPath(p, 'maxAge'), 'only whole seconds are supported');
  }
  c.bool(cors, 'allowCredentials', p);
  c.enumValue(cors, 'unmatchedPreflights', p, ['UNSPECIFIED', 'FORWARD', 'IGNORE']);
}

function hasRequestAuthority(headers: unknown): boolean {
  const req = (headers as { request?: { set?: unknown; add?: unknown } } | undefined)?.request;
  return [req?.set, req?.add].some(
    (ops) => typeof ops === 'object' && ops !== null && Object.keys(ops).some(isAuthorityHeader),
  );
}

/** Istio: a redirect's prefixRewrite needs every match that has a uri to match it by prefix. */
function urisArePrefixes(match: unknown): boolean {
  if (!Array.isArray(match)) return true;
  return match.every((m) => {
    const uri = (m as { uri?: unknown } | null)?.uri;
    return uri === undefined || uri === null || (typeof uri === 'object' && 'prefix' in uri);
  });
}
