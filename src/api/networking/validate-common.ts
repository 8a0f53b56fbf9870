/**
 * Checks shared by several networking kinds: string matches, percentages, destinations,
 * labels, exportTo, gateway references, header operations.
 */
import { fieldPath, isAbsent, type Obj, type SpecCheck } from '../fields.js';
import {
  cidrError,
  dns1123LabelError,
  dns1123SubdomainError,
  headerNameError,
  headerValueError,
  labelKeyError,
  labelValueError,
  wildcardDomainError,
} from '../names.js';

const STRING_MATCH_FIELDS = ['exact', 'prefix', 'regex'] as const;

/**
 * A StringMatch: exactly one of exact/prefix/regex. Where Istio treats `{}` as "present"
 * (header and query parameter matches), pass allowEmpty.
 */
export function checkStringMatch(
  c: SpecCheck,
  value: unknown,
  path: string,
  opts: { allowEmpty?: boolean } = {},
): void {
  const o = c.object(value, path, STRING_MATCH_FIELDS);
  if (o === undefined) {
    if (isAbsent(value) && !opts.allowEmpty) c.error(path, 'expected one of exact, prefix, regex');
    return;
  }
  const set = STRING_MATCH_FIELDS.filter((k) => !isAbsent(o[k]));
  if (set.length > 1) {
    c.error(path, `exactly one of exact, prefix, regex may be set; found ${set.join(', ')}`);
  } else if (set.length === 0 && !opts.allowEmpty) {
    c.error(path, 'expected one of exact, prefix, regex');
  }
  c.string(o, 'exact', path);
  const prefix = c.string(o, 'prefix', path);
  if (prefix === '') c.error(fieldPath(path, 'prefix'), 'must not be empty');
  const regex = c.string(o, 'regex', path);
  // Envoy's RegexMatcher requires a non-empty regex (and "" would only match "" anyway).
  if (regex === '') c.error(fieldPath(path, 'regex'), 'must not be empty');
  else if (regex !== undefined) c.regex(regex, fieldPath(path, 'regex'));
}

/** A map whose values are StringMatches (headers, queryParams). */
export function checkStringMatchMap(c: SpecCheck, o: Obj, key: string, path: string): void {
  for (const entry of c.map(o, key, path) ?? []) {
    const name = entry.path.slice(fieldPath(path, key).length + 1);
    if (name === '') c.error(entry.path, 'name must not be empty');
    checkStringMatch(c, entry.value, entry.path, { allowEmpty: true });
  }
}

/** `{ value: N }`, 0..100. */
export function checkPercent(c: SpecCheck, o: Obj, key: string, path: string): number | undefined {
  const p = c.child(o, key, path, ['value']);
  if (p === undefined) return undefined;
  return c.number(p, 'value', fieldPath(path, key), { min: 0, max: 100 });
}

/** Deprecated integer percentages (`percent`, `mirrorPercent`). */
export function checkDeprecatedPercent(
  c: SpecCheck,
  o: Obj,
  key: string,
  path: string,
  instead: string,
): void {
  c.deprecated(o, key, path, instead);
  c.int(o, key, path, { min: 0, max: 100 });
}

/** `{ number }` port selector. */
export function checkPortSelector(c: SpecCheck, o: Obj, key: string, path: string, required = false) {
  const sel = c.child(o, key, path, ['number'], { required });
  if (sel !== undefined) c.port(sel, 'number', fieldPath(path, key), { required: true });
}

/** A host as written in a resource: `*`, `*.domain`, a short name, a domain or an IP. */
export function checkHost(c: SpecCheck, host: string, path: string): void {
  const err = wildcardDomainError(host);
  if (err !== undefined) c.error(path, err);
}

export function checkDestination(c: SpecCheck, value: unknown, path: string, required = true): void {
  if (isAbsent(value)) {
    if (required) c.error(path, 'required');
    return;
  }
  const d = c.object(value, path, ['host', 'subset', 'port']);
  if (d === undefined) return;
  const host = c.string(d, 'host', path, { required: true });
  if (host === '*') c.error(fieldPath(path, 'host'), 'a destination cannot be the wildcard host *');
  else if (host !== undefined) checkHost(c, host, fieldPath(path, 'host'));
  const subset = c.string(d, 'subset', path);
  if (subset !== undefined) checkName(c, subset, fieldPath(path, 'subset'), dns1123LabelError);
  checkPortSelector(c, d, 'port', path);
}

export function checkName(
  c: SpecCheck,
  name: string,
  path: string,
  rule: (n: string) => string | undefined,
): void {
  const err = rule(name);
  if (err !== undefined) c.error(path, err);
}

/** Kubernetes labels: valid keys and values. */
export function checkLabels(c: SpecCheck, o: Obj, key: string, path: string): Map<string, string> {
  const labels = c.stringMap(o, key, path) ?? new Map<string, string>();
  for (const [k, v] of labels) {
    const p = fieldPath(fieldPath(path, key), k);
    const err = labelKeyError(k) ?? labelValueError(v);
    if (err !== undefined) c.error(p, err);
  }
  return labels;
}

/**
 * `workloadSelector: { labels }` (`matchLabels` in a DestinationRule: `field`). A selector
 * without labels selects every workload of the namespace; Istio warns about it, so do we.
 */
export function checkWorkloadSelector(
  c: SpecCheck,
  o: Obj,
  key: string,
  path: string,
  field: 'labels' | 'matchLabels' = 'labels',
  also: readonly string[] = [],
): boolean {
  const sel = c.child(o, key, path, [field, ...also]);
  if (sel === undefined) return false;
  const sp = fieldPath(path, key);
  let count = 0;
  for (const f of [field, ...also]) {
    // Label rules already refuse '*' in keys and values (Istio: wildcards are not supported).
    count += checkLabels(c, sel, f, sp).size;
  }
  if (count === 0) {
    c.warning(sp, 'workload selector without labels: it selects every workload in the namespace');
  }
  return true;
}

/** exportTo: `.`, `*`, `~` or namespace names; `*` and `~` only on their own. */
export function checkExportTo(c: SpecCheck, o: Obj, path: string): void {
  const items = c.stringList(o, 'exportTo', path) ?? [];
  const seen = new Set<string>();
  for (const { value, path: p } of items) {
    if (seen.has(value)) c.error(p, `duplicate entry ${JSON.stringify(value)}`);
    seen.add(value);
    if (value !== '.' && value !== '*' && value !== '~') checkName(c, value, p, dns1123LabelError);
  }
  if (items.length > 1 && (seen.has('*') || seen.has('~'))) {
    c.error(fieldPath(path, 'exportTo'), `'*' and '~' cannot be combined with other entries`);
  }
}

/** Gateway references in a VirtualService: `mesh`, `name` or `namespace/name`. */
export function checkGatewayNames(c: SpecCheck, o: Obj, key: string, path: string) {
  const items = c.stringList(o, key, path) ?? [];
  for (const { value, path: p } of items) {
    if (value === 'mesh') continue;
    const parts = value.split('/');
    if (parts.length > 2) {
      c.error(p, `${JSON.stringify(value)}: expected mesh, NAME or NAMESPACE/NAME`);
      continue;
    }
    const [ns, name] = parts.length === 2 ? parts : [undefined, parts[0]];
    if (ns !== undefined) checkName(c, ns, p, dns1123LabelError);
    checkName(c, name ?? '', p, dns1123SubdomainError);
  }
  return items;
}

const HEADER_OPERATION_FIELDS = ['set', 'add', 'remove'] as const;

/** `headers: { request: {set, add, remove}, response: {...} }`. */
export function checkHeaders(c: SpecCheck, o: Obj, key: string, path: string): void {
  const h = c.child(o, key, path, ['request', 'response']);
  if (h === undefined) return;
  const hp = fieldPath(path, key);
  for (const side of ['request', 'response']) {
    const ops = c.child(h, side, hp, HEADER_OPERATION_FIELDS);
    if (ops === undefined) continue;
    const sp = fieldPath(hp, side);
    for (const op of ['set', 'add']) {
      for (const [name, value] of c.stringMap(ops, op, sp) ?? []) {
        // Istio: a request's `:authority` (or Host) is set by rewriting the host.
        const authority = side === 'request' && isAuthorityHeader(name);
        const err =
          (authority ? undefined : (hostHeaderError(name) ?? headerNameError(name))) ??
          headerValueError(value);
        if (err !== undefined) c.error(fieldPath(fieldPath(sp, op), name), err);
      }
    }
    for (const { value, path: p } of c.stringList(ops, 'remove', sp) ?? []) {
      const err = hostHeaderError(value) ?? headerNameError(value);
      if (err !== undefined) c.error(p, err);
    }
  }
}

/** IPs or CIDRs, e.g. `destinationSubnets`, `addresses`. */
export function checkCidrList(c: SpecCheck, o: Obj, key: string, path: string): void {
  for (const { value, path: p } of c.stringList(o, key, path) ?? []) {
    const err = cidrError(value);
    if (err !== undefined) c.error(p, err);
  }
}

/** A single IP or CIDR string field. */
export function checkCidr(c: SpecCheck, o: Obj, key: string, path: string): void {
  const value = c.string(o, key, path);
  if (value === undefined) return;
  const err = cidrError(value);
  if (err !== undefined) c.error(fieldPath(path, key), err);
}

/** Exactly-one-of check over oneof fields; returns the set fields. */
export function oneOf(
  c: SpecCheck,
  o: Obj,
  keys: readonly string[],
  path: string,
  opts: { required?: boolean } = {},
): string[] {
  const set = keys.filter((k) => !isAbsent(o[k]));
  if (set.length > 1) c.error(path, `only one of ${keys.join(', ')} may be set; found ${set.join(', ')}`);
  if (set.length === 0 && opts.required) c.error(path, `exactly one of ${keys.join(', ')} is required`);
  return set;
}

/** `:authority` or `Host`, in any case: what Istio turns into a host rewrite. */
export function isAuthorityHeader(name: string): boolean {
  const n = name.toLowerCase();
  return n === ':authority' || n === 'host';
}

function hostHeaderError(name: string): string | undefined {
  return name.toLowerCase() === 'host'
    ? 'the Host header cannot be removed or set on responses; to change it, set :authority in headers.request.set'
    : undefined;
}
