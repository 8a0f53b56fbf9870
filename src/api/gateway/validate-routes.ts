/**
 * HTTPRoute, GRPCRoute, TCPRoute and TLSRoute, checked as the Gateway API's CRDs check them
 * (schema limits and CEL rules: paths start with "/", a redirect has no backends, a prefix
 * rewrite needs exactly one PathPrefix match, backendRequest fits within request).
 */
import type { Problems } from '../../core/errors.js';
import { fieldPath, SpecCheck, type Obj } from '../fields.js';
import {
  checkBackendRefs,
  checkFilters,
  checkHostnames,
  checkNameValueMatches,
  checkParentRefs,
} from './validate-common.js';

/** The API's Duration: up to four `<number><unit>` parts, units h, m, s, ms. */
const DURATION = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;
const PATH_CHARS = /^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|%[0-9a-fA-F]{2})+$/;
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'] as const;
const HTTP_FILTERS = [
  'RequestHeaderModifier',
  'ResponseHeaderModifier',
  'RequestRedirect',
  'URLRewrite',
  'RequestMirror',
  'ExtensionRef',
] as const;
const BACKEND_FILTERS = [
  'RequestHeaderModifier',
  'ResponseHeaderModifier',
  'RequestMirror',
  'ExtensionRef',
] as const;
const GRPC_FILTERS = BACKEND_FILTERS;

/** Milliseconds of a Gateway API duration, or undefined (reported) when malformed. */
export function gatewayDurationMs(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(/([0-9]+)(h|ms|m|s)/g)) {
    const n = Number(m[1]);
    ms += m[2] === 'h' ? n * 3_600_000 : m[2] === 'm' ? n * 60_000 : m[2] === 's' ? n * 1000 : n;
  }
  return ms;
}

/** The reason an HTTPRoute path value is invalid for Exact and PathPrefix, or undefined. */
export function pathValueError(value: string): string | undefined {
  if (!value.startsWith('/')) return 'must be an absolute path and start with "/"';
  for (const bad of ['//', '/./', '/../', '%2f', '%2F', '#']) {
    if (value.includes(bad)) return `must not contain ${JSON.stringify(bad)}`;
  }
  if (value.endsWith('/..') || value.endsWith('/.')) return 'must not end with "/.." or "/."';
  if (!PATH_CHARS.test(value)) return 'holds characters a path may not hold unencoded (percent-encode them)';
  return undefined;
}

function checkPathMatch(c: SpecCheck, m: Obj, path: string): string {
  const pm = c.child(m, 'path', path, ['type', 'value']);
  if (pm === undefined) return 'PathPrefix';
  const p = fieldPath(path, 'path');
  const type = c.enumValue(pm, 'type', p, ['Exact', 'PathPrefix', 'RegularExpression']) ?? 'PathPrefix';
  const value = c.string(pm, 'value', p);
  if (value === undefined) return type;
  if (value.length > 1024) c.error(fieldPath(p, 'value'), 'at most 1024 characters');
  if (type === 'RegularExpression') {
    c.regex(value, fieldPath(p, 'value'));
  } else {
    const err = pathValueError(value);
    if (err !== undefined) c.error(fieldPath(p, 'value'), `${JSON.stringify(value)} ${err}`);
  }
  return type;
}

function checkTimeouts(c: SpecCheck, r: Obj, path: string): void {
  const t = c.child(r, 'timeouts', path, ['request', 'backendRequest']);
  if (t === undefined) return;
  const p = fieldPath(path, 'timeouts');
  const ms: Record<string, number | undefined> = {};
  for (const key of ['request', 'backendRequest']) {
    const text = c.string(t, key, p);
    if (text === undefined) continue;
    ms[key] = gatewayDurationMs(text);
    if (ms[key] === undefined) {
      c.error(
        fieldPath(p, key),
        `invalid duration ${JSON.stringify(text)}: expected e.g. "10s", "1m30s" or "500ms" (units h, m, s, ms)`,
      );
    }
  }
  const { request, backendRequest } = ms;
  if (
    request !== undefined &&
    backendRequest !== undefined &&
    request !== 0 &&
    (backendRequest === 0 || backendRequest > request)
  ) {
    c.error(fieldPath(p, 'backendRequest'), 'must not be longer than the request timeout');
  }
}

function checkRetry(c: SpecCheck, r: Obj, path: string): void {
  const t = c.child(r, 'retry', path, ['codes', 'attempts', 'backoff']);
  if (t === undefined) return;
  const p = fieldPath(path, 'retry');
  for (const item of c.list(t, 'codes', p) ?? []) {
    if (
      typeof item.value !== 'number' ||
      !Number.isInteger(item.value) ||
      item.value < 400 ||
      item.value > 599
    ) {
      c.error(item.path, 'expected an HTTP status code 400..599');
    }
  }
  c.int(t, 'attempts', p, { min: 0 });
  const backoff = c.string(t, 'backoff', p);
  if (backoff !== undefined && gatewayDurationMs(backoff) === undefined) {
    c.error(fieldPath(p, 'backoff'), `invalid duration ${JSON.stringify(backoff)}: expected e.g. "100ms"`);
  }
}

const HTTP_RULE_FIELDS = [
  'name',
  'matches',
  'filters',
  'backendRefs',
  'timeouts',
  'retry',
  'sessionPersistence',
] as const;

export function validateHTTPRoute(spec: unknown, problems: Problems, path: string): void {
  const c = new SpecCheck(problems);
  const s = c.object(spec, path, ['parentRefs', 'hostnames', 'rules']);
  if (s === undefined) return;
  checkParentRefs(c, s, path);
  checkHostnames(c, s, path);
  const rules = c.list(s, 'rules', path) ?? [];
  if (rules.length > 16) c.error(fieldPath(path, 'rules'), 'at most 16 rules');
  for (const item of rules) {
    const r = c.object(item.value, item.path, HTTP_RULE_FIELDS);
    if (r === undefined) continue;
    c.string(r, 'name', item.path);
    const matches = c.list(r, 'matches', item.path) ?? [];
    if (matches.length > 64) c.error(fieldPath(item.path, 'matches'), 'at most 64 matches');
    const types: string[] = [];
    for (const m of matches) {
      const mo = c.object(m.value, m.path, ['path', 'headers', 'queryParams', 'method']);
      if (mo === undefined) continue;
      types.push(checkPathMatch(c, mo, m.path));
      checkNameValueMatches(c, mo, 'headers', m.path, true);
      checkNameValueMatches(c, mo, 'queryParams', m.path, false);
      c.enumValue(mo, 'method', m.path, METHODS);
    }
    const f = checkFilters(c, r, item.path, HTTP_FILTERS);
    if (f.prefixRewrite && (types.length !== 1 || types[0] !== 'PathPrefix')) {
      c.error(
        fieldPath(item.path, 'filters'),
        'ReplacePrefixMatch needs exactly one match, of path type PathPrefix (the prefix it replaces)',
      );
    }
    const backends = c.list(r, 'backendRefs', item.path) ?? [];
    if (f.redirect && backends.length > 0) {
      c.error(fieldPath(item.path, 'backendRefs'), 'must be empty on a rule with a RequestRedirect filter');
    }
    checkBackendRefs(c, r, item.path, ['filters']);
    for (const b of backends) {
      if (typeof b.value === 'object' && b.value !== null && !Array.isArray(b.value)) {
        checkFilters(c, b.value as Obj, b.path, BACKEND_FILTERS);
      }
    }
    checkTimeouts(c, r, item.path);
    checkRetry(c, r, item.path);
  }
}

const GRPC_SERVICE = /^(?:\.?[a-zA-Z_][a-zA-Z_0-9]*(\.[a-zA-Z_][a-zA-Z_0-9]*)*)$/;
const GRPC_METHOD = /^[A-Za-z_][A-Za-z_0-9]*$/;

export function validateGRPCRoute(spec: unknown, problems: Problems, path: string): void {
  const c = new SpecCheck(problems);
  const s = c.object(spec, path, ['parentRefs', 'hostnames', 'rules']);
  if (s === undefined) return;
  checkParentRefs(c, s, path);
  checkHostnames(c, s, path);
  const rules = c.list(s, 'rules', path) ?? [];
  if (rules.length > 16) c.error(fieldPath(path, 'rules'), 'at most 16 rules');
  for (const item of rules) {
    const r = c.object(item.value, item.path, [
      'name',
      'matches',
      'filters',
      'backendRefs',
      'sessionPersistence',
    ]);
    if (r === undefined) continue;
    for (const m of c.list(r, 'matches', item.path) ?? []) {
      const mo = c.object(m.value, m.path, ['method', 'headers']);
      if (mo === undefined) continue;
      const mm = c.child(mo, 'method', m.path, ['type', 'service', 'method']);
      if (mm !== undefined) {
        const p = fieldPath(m.path, 'method');
        const type = c.enumValue(mm, 'type', p, ['Exact', 'RegularExpression']) ?? 'Exact';
        const service = c.string(mm, 'service', p);
        const method = c.string(mm, 'method', p);
        if (service === undefined && method === undefined) c.error(p, 'set service, method or both');
        if (type === 'Exact') {
          if (service !== undefined && !GRPC_SERVICE.test(service))
            c.error(
              fieldPath(p, 'service'),
              `${JSON.stringify(service)} is not a gRPC service name (e.g. "helloworld.Greeter")`,
            );
          if (method !== undefined && !GRPC_METHOD.test(method))
            c.error(
              fieldPath(p, 'method'),
              `${JSON.stringify(method)} is not a gRPC method name (e.g. "SayHello")`,
            );
        } else {
          if (service !== undefined) c.regex(service, fieldPath(p, 'service'));
          if (method !== undefined) c.regex(method, fieldPath(p, 'method'));
        }
      }
      checkNameValueMatches(c, mo, 'headers', m.path, true);
    }
    checkFilters(c, r, item.path, GRPC_FILTERS);
    checkBackendRefs(c, r, item.path, ['filters']);
  }
}

function validateL4Route(spec: unknown, problems: Problems, path: string, withHostnames: boolean): void {
  const c = new SpecCheck(problems);
  const s = c.object(
    spec,
    path,
    withHostnames ? ['parentRefs', 'hostnames', 'rules'] : ['parentRefs', 'rules'],
  );
  if (s === undefined) return;
  checkParentRefs(c, s, path);
  if (withHostnames) checkHostnames(c, s, path);
  const rules = c.list(s, 'rules', path, { required: true, nonEmpty: true }) ?? [];
  if (rules.length > 16) c.error(fieldPath(path, 'rules'), 'at most 16 rules');
  for (const item of rules) {
    const r = c.object(item.value, item.path, ['name', 'backendRefs']);
    if (r === undefined) continue;
    const backends = c.list(r, 'backendRefs', item.path, { required: true, nonEmpty: true }) ?? [];
    if (backends.length > 16) c.error(fieldPath(item.path, 'backendRefs'), 'at most 16 backendRefs');
    checkBackendRefs(c, r, item.path);
  }
}

export function validateTCPRoute(spec: unknown, problems: Problems, path: string): void {
  validateL4Route(spec, problems, path, false);
}

export function validateTLSRoute(spec: unknown, problems: Problems, path: string): void {
  validateL4Route(spec, problems, path, true);
}
