/**
 * Pieces the Gateway API kinds share, checked as the API's CRD schemas and CEL rules check them
 * (gateway-api's `config/crd/standard`): object references, parent and backend references,
 * hostnames, header matches, filters.
 */
import { fieldPath, type Obj, type SpecCheck } from '../fields.js';
import { dns1123LabelError, dns1123SubdomainError, headerNameError } from '../names.js';

/** The API's `Hostname`: a lower case DNS name, optionally with a single leading `*.` label. */
const HOSTNAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const GROUP = /^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const KIND = /^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

export function checkHostname(c: SpecCheck, value: string, path: string): void {
  if (value.length > 253 || !HOSTNAME.test(value)) {
    c.error(
      path,
      `${JSON.stringify(value)} is not a valid hostname: lower case DNS labels, optionally starting with "*." (e.g. "*.example.com")`,
    );
  } else if (IPV4.test(value)) {
    c.error(path, `${JSON.stringify(value)}: an IP address is not allowed as a hostname`);
  }
}

export function checkHostnames(c: SpecCheck, o: Obj, path: string, max = 16): void {
  const list = c.stringList(o, 'hostnames', path);
  if (list === undefined) return;
  if (list.length > max) c.error(fieldPath(path, 'hostnames'), `at most ${max} hostnames`);
  for (const h of list) checkHostname(c, h.value, h.path);
}

function checkGroupKind(c: SpecCheck, r: Obj, path: string): void {
  const group = c.string(r, 'group', path);
  if (group !== undefined && !GROUP.test(group)) {
    c.error(
      fieldPath(path, 'group'),
      `${JSON.stringify(group)} is not a valid API group ("" is the core group)`,
    );
  }
  const kind = c.string(r, 'kind', path);
  if (kind !== undefined && !KIND.test(kind)) {
    c.error(fieldPath(path, 'kind'), `${JSON.stringify(kind)} is not a valid kind`);
  }
}

function checkObjectName(c: SpecCheck, r: Obj, key: string, path: string, required: boolean): void {
  const name = c.string(r, key, path, { required });
  if (name === undefined) return;
  const err =
    name.length > 253 ? 'must be at most 253 characters' : name === '' ? 'must not be empty' : undefined;
  if (err !== undefined) c.error(fieldPath(path, key), err);
}

function checkNamespace(c: SpecCheck, r: Obj, path: string): void {
  const ns = c.string(r, 'namespace', path);
  if (ns === undefined) return;
  const err = dns1123LabelError(ns);
  if (err !== undefined) c.error(fieldPath(path, 'namespace'), err);
}

const PARENT_FIELDS = ['group', 'kind', 'namespace', 'name', 'sectionName', 'port'] as const;

export function checkParentRefs(c: SpecCheck, o: Obj, path: string): void {
  const refs = c.list(o, 'parentRefs', path);
  if (refs === undefined) return;
  if (refs.length > 32) c.error(fieldPath(path, 'parentRefs'), 'at most 32 parentRefs');
  const seen = new Set<string>();
  for (const item of refs) {
    const r = c.object(item.value, item.path, PARENT_FIELDS);
    if (r === undefined) continue;
    checkGroupKind(c, r, item.path);
    checkNamespace(c, r, item.path);
    checkObjectName(c, r, 'name', item.path, true);
    const section = c.string(r, 'sectionName', item.path);
    if (section !== undefined) {
      const err = dns1123SubdomainError(section);
      if (err !== undefined) c.error(fieldPath(item.path, 'sectionName'), err);
    }
    c.port(r, 'port', item.path);
    // The CRD's rule: sectionName must be specified when parentRefs includes 2 or more
    // references to the same parent (and then be unique).
    const key = JSON.stringify([
      r.group ?? 'gateway.networking.k8s.io',
      r.kind ?? 'Gateway',
      r.namespace ?? '',
      r.name,
      r.sectionName ?? '',
      r.port ?? '',
    ]);
    if (seen.has(key)) {
      c.error(
        item.path,
        'the same parent is referenced twice; give each reference a distinct sectionName or port',
      );
    }
    seen.add(key);
  }
}

const BACKEND_FIELDS = ['group', 'kind', 'namespace', 'name', 'port', 'weight'] as const;

/** A backendRef; `extra` fields are allowed beside the reference (an HTTPRoute's `filters`). */
export function checkBackendRef(
  c: SpecCheck,
  value: unknown,
  path: string,
  extra: readonly string[] = [],
): Obj | undefined {
  const r = c.object(value, path, [...BACKEND_FIELDS, ...extra]);
  if (r === undefined) return undefined;
  checkGroupKind(c, r, path);
  checkNamespace(c, r, path);
  checkObjectName(c, r, 'name', path, true);
  const port = c.port(r, 'port', path);
  c.int(r, 'weight', path, { min: 0, max: 1_000_000 });
  const group = typeof r.group === 'string' ? r.group : '';
  const kind = typeof r.kind === 'string' ? r.kind : 'Service';
  // The CRD's rule: "Must have port for Service reference".
  if (group === '' && kind === 'Service' && port === undefined && r.port === undefined) {
    c.error(fieldPath(path, 'port'), 'required for a Service reference (the service port to send to)');
  }
  return r;
}

export function checkBackendRefs(c: SpecCheck, o: Obj, path: string, extra: readonly string[] = []): void {
  for (const item of c.list(o, 'backendRefs', path) ?? []) checkBackendRef(c, item.value, item.path, extra);
}

const MATCH_FIELDS = ['type', 'name', 'value'] as const;

/** Header or query parameter matches: names unique (case-insensitive for headers). */
export function checkNameValueMatches(
  c: SpecCheck,
  o: Obj,
  key: string,
  path: string,
  header: boolean,
): void {
  const items = c.list(o, key, path);
  if (items === undefined) return;
  if (items.length > 16) c.error(fieldPath(path, key), `at most 16 ${key}`);
  const seen = new Set<string>();
  for (const item of items) {
    const m = c.object(item.value, item.path, MATCH_FIELDS);
    if (m === undefined) continue;
    const type = c.enumValue(m, 'type', item.path, ['Exact', 'RegularExpression']);
    const name = c.string(m, 'name', item.path, { required: true });
    const value = c.string(m, 'value', item.path, { required: true });
    if (name !== undefined) {
      const err = header
        ? headerNameError(name)
        : /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/.test(name)
          ? undefined
          : 'not a valid name';
      if (err !== undefined) c.error(fieldPath(item.path, 'name'), err);
      const k = header ? name.toLowerCase() : name;
      if (seen.has(k))
        c.error(
          fieldPath(item.path, 'name'),
          `${JSON.stringify(name)} is matched twice; names must be unique`,
        );
      seen.add(k);
    }
    if (type === 'RegularExpression' && value !== undefined) c.regex(value, fieldPath(item.path, 'value'));
  }
}

const HEADER_MODIFIER_FIELDS = ['set', 'add', 'remove'] as const;

function checkHeaderModifier(c: SpecCheck, value: unknown, path: string): void {
  const m = c.object(value, path, HEADER_MODIFIER_FIELDS);
  if (m === undefined) return;
  for (const op of ['set', 'add'] as const) {
    const seen = new Set<string>();
    for (const item of c.list(m, op, path) ?? []) {
      const h = c.object(item.value, item.path, ['name', 'value']);
      if (h === undefined) continue;
      const name = c.string(h, 'name', item.path, { required: true });
      c.string(h, 'value', item.path, { required: true });
      if (name === undefined) continue;
      const err = headerNameError(name);
      if (err !== undefined) c.error(fieldPath(item.path, 'name'), err);
      if (seen.has(name.toLowerCase()))
        c.error(fieldPath(item.path, 'name'), `${JSON.stringify(name)} appears twice in ${op}`);
      seen.add(name.toLowerCase());
    }
  }
  for (const item of c.stringList(m, 'remove', path) ?? []) {
    const err = headerNameError(item.value);
    if (err !== undefined) c.error(item.path, err);
  }
}

function checkPathModifier(c: SpecCheck, o: Obj, path: string): string | undefined {
  const m = c.child(o, 'path', path, ['type', 'replaceFullPath', 'replacePrefixMatch']);
  if (m === undefined) return undefined;
  const p = fieldPath(path, 'path');
  const type = c.enumValue(m, 'type', p, ['ReplaceFullPath', 'ReplacePrefixMatch'], { required: true });
  const full = c.string(m, 'replaceFullPath', p);
  const prefix = c.string(m, 'replacePrefixMatch', p);
  if (type === 'ReplaceFullPath' && full === undefined)
    c.error(fieldPath(p, 'replaceFullPath'), 'required when type is ReplaceFullPath');
  if (type === 'ReplacePrefixMatch' && prefix === undefined)
    c.error(fieldPath(p, 'replacePrefixMatch'), 'required when type is ReplacePrefixMatch');
  if (type !== 'ReplaceFullPath' && full !== undefined)
    c.error(fieldPath(p, 'replaceFullPath'), 'must be unset unless type is ReplaceFullPath');
  if (type !== 'ReplacePrefixMatch' && prefix !== undefined)
    c.error(fieldPath(p, 'replacePrefixMatch'), 'must be unset unless type is ReplacePrefixMatch');
  for (const [v, key] of [
    [full, 'replaceFullPath'],
    [prefix, 'replacePrefixMatch'],
  ] as const) {
    if (v !== undefined && !v.startsWith('/'))
      c.error(fieldPath(p, key), `${JSON.stringify(v)} must start with "/"`);
  }
  return type;
}

const FILTER_FIELDS = [
  'type',
  'requestHeaderModifier',
  'responseHeaderModifier',
  'requestRedirect',
  'urlRewrite',
  'requestMirror',
  'extensionRef',
  'cors',
] as const;

const FIELD_OF: Record<string, string> = {
  RequestHeaderModifier: 'requestHeaderModifier',
  ResponseHeaderModifier: 'responseHeaderModifier',
  RequestRedirect: 'requestRedirect',
  URLRewrite: 'urlRewrite',
  RequestMirror: 'requestMirror',
  ExtensionRef: 'extensionRef',
};

/** HTTPRoute and GRPCRoute filters; `kinds` are the types the route kind allows. */
export function checkFilters(
  c: SpecCheck,
  o: Obj,
  path: string,
  kinds: readonly string[],
): { redirect: boolean; rewrite: boolean; prefixRewrite: boolean } {
  const out = { redirect: false, rewrite: false, prefixRewrite: false };
  const items = c.list(o, 'filters', path);
  if (items === undefined) return out;
  if (items.length > 16) c.error(fieldPath(path, 'filters'), 'at most 16 filters');
  const once = new Set<string>();
  for (const item of items) {
    const f = c.object(item.value, item.path, FILTER_FIELDS);
    if (f === undefined) continue;
    const type = c.enumValue(f, 'type', item.path, kinds, { required: true });
    if (type === undefined) continue;
    const field = FIELD_OF[type]!;
    for (const other of Object.values(FIELD_OF)) {
      if (other !== field && f[other] !== undefined && f[other] !== null) {
        c.error(fieldPath(item.path, other), `must be unset for a filter of type ${type} (set ${field})`);
      }
    }
    if (f[field] === undefined || f[field] === null) {
      c.error(fieldPath(item.path, field), `required for a filter of type ${type}`);
      continue;
    }
    const p = fieldPath(item.path, field);
    if (type !== 'RequestMirror' && type !== 'ExtensionRef') {
      if (once.has(type)) c.error(item.path, `${type} may appear at most once per rule`);
      once.add(type);
    }
    switch (type) {
      case 'RequestHeaderModifier':
      case 'ResponseHeaderModifier':
        checkHeaderModifier(c, f[field], p);
        break;
      case 'RequestRedirect': {
        out.redirect = true;
        const r = c.object(f[field], p, ['scheme', 'hostname', 'path', 'port', 'statusCode']);
        if (r === undefined) break;
        c.enumValue(r, 'scheme', p, ['http', 'https']);
        const host = c.string(r, 'hostname', p);
        if (host !== undefined) checkHostname(c, host, fieldPath(p, 'hostname'));
        c.port(r, 'port', p);
        const code = c.int(r, 'statusCode', p);
        if (code !== undefined && ![301, 302, 303, 307, 308].includes(code)) {
          c.error(
            fieldPath(p, 'statusCode'),
            `${code} is not valid; expected one of 301, 302, 303, 307, 308`,
          );
        }
        if (checkPathModifier(c, r, p) === 'ReplacePrefixMatch') out.prefixRewrite = true;
        break;
      }
      case 'URLRewrite': {
        out.rewrite = true;
        const r = c.object(f[field], p, ['hostname', 'path']);
        if (r === undefined) break;
        const host = c.string(r, 'hostname', p);
        if (host !== undefined) checkHostname(c, host, fieldPath(p, 'hostname'));
        if (checkPathModifier(c, r, p) === 'ReplacePrefixMatch') out.prefixRewrite = true;
        break;
      }
      case 'RequestMirror': {
        const m = c.object(f[field], p, ['backendRef', 'percent', 'fraction']);
        if (m === undefined) break;
        if (c.present(m, 'backendRef', p)) checkBackendRef(c, m.backendRef, fieldPath(p, 'backendRef'));
        c.int(m, 'percent', p, { min: 0, max: 100 });
        const fr = c.child(m, 'fraction', p, ['numerator', 'denominator']);
        if (fr !== undefined) {
          const fp = fieldPath(p, 'fraction');
          const num = c.int(fr, 'numerator', fp, { required: true, min: 0 });
          const den = c.int(fr, 'denominator', fp, { min: 1 }) ?? 100;
          if (num !== undefined && num > den)
            c.error(fieldPath(fp, 'numerator'), 'must be at most the denominator');
        }
        if (m.percent !== undefined && m.fraction !== undefined)
          c.error(p, 'set percent or fraction, not both');
        break;
      }
      case 'ExtensionRef': {
        const r = c.object(f[field], p, ['group', 'kind', 'name']);
        if (r !== undefined) {
          checkGroupKind(c, r, p);
          checkObjectName(c, r, 'name', p, true);
        }
        break;
      }
    }
  }
  if (out.redirect && out.rewrite) {
    c.error(fieldPath(path, 'filters'), 'RequestRedirect and URLRewrite cannot both be set on one rule');
  }
  return out;
}

/** A route's `rules[].backendRefs[].filters` and the like share these paths. */
export { checkObjectName, checkNamespace, checkGroupKind };
