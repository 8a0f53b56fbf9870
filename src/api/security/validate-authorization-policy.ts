/**
 * AuthorizationPolicy validation, after Istio's ValidateAuthorizationPolicy
 * (pkg/config/validation/validation.go), the helpers in pkg/config/security/security.go
 * (attributes, IPs, ports, service accounts, trust domains, path templates) and the CRD's
 * x-kubernetes-validations. Where a value Istio accepts would be matched in a way its author
 * almost certainly did not mean, and the mismatch can open a DENY policy, Trellis refuses it:
 * a `*` in the middle of a path (Istio compares it literally, so `DENY /admin*x` denies
 * nothing). Each such place says so.
 */
import type { Problems } from '../../core/errors.js';
import { fieldPath, isAbsent, SpecCheck, type Obj } from '../fields.js';
import { cidrError } from '../names.js';
import { checkWorkloadSelection, nonEmptyStrings } from './validate-common.js';

const FIELDS = ['selector', 'targetRef', 'targetRefs', 'action', 'provider', 'rules'] as const;
const ACTIONS = ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'] as const;

const SOURCE_FIELDS = [
  'principals',
  'notPrincipals',
  'requestPrincipals',
  'notRequestPrincipals',
  'namespaces',
  'notNamespaces',
  'serviceAccounts',
  'notServiceAccounts',
  'trustDomains',
  'notTrustDomains',
  'ipBlocks',
  'notIpBlocks',
  'remoteIpBlocks',
  'notRemoteIpBlocks',
] as const;

/** Source fields the CUSTOM action cannot match on (Istio: "not supported with CUSTOM action"): every identity field, none of the address ones. */
const CUSTOM_UNSUPPORTED_SOURCE = SOURCE_FIELDS.filter((f) => !/IpBlocks$/i.test(f));

/** Source fields that also apply to plain TCP traffic: all but the JWT and trust domain ones, which need HTTP or are Istio-only. */
const TCP_SOURCE_FIELDS = SOURCE_FIELDS.filter((f) => !/RequestPrincipals$|TrustDomains$/i.test(f));

const OPERATION_FIELDS = [
  'hosts',
  'notHosts',
  'ports',
  'notPorts',
  'methods',
  'notMethods',
  'paths',
  'notPaths',
] as const;

type Action = (typeof ACTIONS)[number];

export function validateAuthorizationPolicy(spec: unknown, problems: Problems, path = 'spec'): void {
  const c = new SpecCheck(problems);
  const ap = c.object(spec, path, FIELDS);
  if (ap === undefined) return;
  checkWorkloadSelection(c, ap, path);
  const action: Action = c.enumValue(ap, 'action', path, ACTIONS) ?? 'ALLOW';

  const provider = c.child(ap, 'provider', path, ['name']);
  const pp = fieldPath(path, 'provider');
  const providerName = provider === undefined ? undefined : c.string(provider, 'name', pp);
  if (!isAbsent(ap.provider) && action !== 'CUSTOM') {
    c.error(pp, `only allowed with action CUSTOM; the action is ${action}`);
  }

  const rules = c.list(ap, 'rules', path) ?? [];
  const rp = fieldPath(path, 'rules');
  if (rules.length > 512) c.error(rp, `at most 512 rules; found ${rules.length}`);
  if (rules.length === 0) {
    // Istio treats `rules: []` like no rules (protobuf JSON has no empty-but-set list).
    if (action === 'DENY' || action === 'CUSTOM') {
      c.error(
        rp,
        `required with action ${action}: without rules the policy never matches; add an empty rule {} to match every request`,
      );
    } else if (action === 'AUDIT') {
      c.warning(
        rp,
        'an AUDIT policy without rules never matches; add an empty rule {} to audit every request',
      );
    }
  } else if (action === 'CUSTOM' && (providerName === undefined || providerName === '')) {
    c.error(fieldPath(pp, 'name'), 'required with action CUSTOM; must not be empty');
  }

  for (const rule of rules) checkRule(c, rule.value, rule.path, action);
}

function checkRule(c: SpecCheck, value: unknown, path: string, action: Action): void {
  if (isAbsent(value)) {
    c.error(path, 'must not be null; use {} for a rule that matches every request');
    return;
  }
  const rule = c.object(value, path, ['from', 'to', 'when']);
  if (rule === undefined) return;

  const from = checkClauses(c, rule, path, 'from', 'source', SOURCE_FIELDS, (src, p) =>
    checkSource(c, src, p, action),
  );
  const to = checkClauses(c, rule, path, 'to', 'operation', OPERATION_FIELDS, (op, p) =>
    checkOperation(c, op, p),
  );
  const [fromExists, tcpInFrom] = from;
  const [toExists, tcpInTo] = to;

  const whens = c.list(rule, 'when', path, { nonEmpty: true }) ?? [];
  for (const item of whens) checkCondition(c, item.value, item.path, action);

  if (action === 'DENY' && ((fromExists && !toExists && !tcpInFrom) || (toExists && !tcpInTo))) {
    c.warning(
      path,
      'this DENY rule uses only HTTP attributes, so it denies all traffic to TCP ports the policy covers; name the ports explicitly',
    );
  }
}

/**
 * A rule's `from` (each a `source`) or `to` (each an `operation`) list: entries must not be null
 * or empty. Returns whether any entry was valid and whether one sets a field that applies to TCP.
 */
function checkClauses(
  c: SpecCheck,
  rule: Obj,
  path: string,
  list: 'from' | 'to',
  key: 'source' | 'operation',
  fields: readonly string[],
  check: (value: Obj, path: string) => boolean,
): [exists: boolean, tcp: boolean] {
  let exists = false;
  let tcp = false;
  for (const item of c.list(rule, list, path, { nonEmpty: true }) ?? []) {
    if (isAbsent(item.value)) {
      c.error(item.path, 'must not be null');
      continue;
    }
    const entry = c.object(item.value, item.path, [key]);
    if (entry === undefined) continue;
    const value = c.child(entry, key, item.path, fields, { required: true });
    if (value === undefined) continue;
    exists = true;
    if (check(value, fieldPath(item.path, key))) tcp = true;
  }
  return [exists, tcp];
}

/** Returns whether the source sets a field that also applies to TCP traffic. */
function checkSource(c: SpecCheck, src: Obj, path: string, action: Action): boolean {
  const set = SOURCE_FIELDS.filter((k) => !isAbsent(src[k]));
  const nonEmpty = SOURCE_FIELDS.filter((k) => Array.isArray(src[k]) && (src[k] as unknown[]).length > 0);
  if (nonEmpty.length === 0) c.error(path, 'must not be empty; set at least one field');

  const byName = ['principals', 'notPrincipals', 'namespaces', 'notNamespaces'].filter((k) =>
    nonEmpty.includes(k as (typeof SOURCE_FIELDS)[number]),
  );
  const bySa = ['serviceAccounts', 'notServiceAccounts'].filter((k) =>
    nonEmpty.includes(k as (typeof SOURCE_FIELDS)[number]),
  );
  if (byName.length > 0 && bySa.length > 0) {
    c.error(path, `cannot set ${bySa.join(', ')} together with ${byName.join(', ')}`);
  }
  if (action === 'CUSTOM') {
    for (const k of CUSTOM_UNSUPPORTED_SOURCE) {
      if (nonEmpty.includes(k)) c.error(fieldPath(path, k), 'not supported with action CUSTOM');
    }
  }

  for (const k of [
    'principals',
    'notPrincipals',
    'requestPrincipals',
    'notRequestPrincipals',
    'namespaces',
    'notNamespaces',
  ]) {
    for (const v of nonEmptyStrings(c, src, k, path)) warnLiteralStar(c, v.value, v.path);
  }
  for (const k of ['serviceAccounts', 'notServiceAccounts']) checkServiceAccounts(c, src, k, path);
  for (const k of ['trustDomains', 'notTrustDomains']) {
    for (const v of nonEmptyStrings(c, src, k, path)) {
      const err = wildcardError(v.value);
      if (err !== undefined) c.error(v.path, err);
      else if (v.value.includes('/'))
        c.error(v.path, `${JSON.stringify(v.value)}: a trust domain has no '/'`);
    }
  }
  for (const k of ['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks']) {
    for (const v of nonEmptyStrings(c, src, k, path)) {
      const err = cidrError(v.value);
      if (err !== undefined) c.error(v.path, err);
    }
  }
  return set.some((k) => TCP_SOURCE_FIELDS.includes(k));
}

/** Istio's CheckServiceAccount: at most 16, `NAME` or `NAMESPACE/NAME`, no wildcards, <= 320 chars. */
function checkServiceAccounts(c: SpecCheck, src: Obj, key: string, path: string): void {
  const items = nonEmptyStrings(c, src, key, path);
  if (items.length > 16) c.error(fieldPath(path, key), `at most 16 entries; found ${items.length}`);
  for (const { value, path: p } of items) {
    const parts = value.split('/');
    if (value.includes('*'))
      c.error(p, `${JSON.stringify(value)}: wildcards are not allowed in service accounts`);
    else if (value.length > 320) c.error(p, 'must be at most 320 characters');
    else if (parts.length > 2 || parts.some((s) => s === '')) {
      c.error(p, `${JSON.stringify(value)}: expected SERVICE_ACCOUNT or NAMESPACE/SERVICE_ACCOUNT`);
    }
  }
}

/** Returns whether the operation sets ports or notPorts (which apply to TCP traffic). */
function checkOperation(c: SpecCheck, op: Obj, path: string): boolean {
  const nonEmpty = OPERATION_FIELDS.filter((k) => Array.isArray(op[k]) && (op[k] as unknown[]).length > 0);
  if (nonEmpty.length === 0) c.error(path, 'must not be empty; set at least one field');
  for (const k of ['ports', 'notPorts']) {
    for (const v of nonEmptyStrings(c, op, k, path)) {
      const err = portError(v.value);
      if (err !== undefined) c.error(v.path, err);
    }
  }
  for (const k of ['hosts', 'notHosts', 'methods', 'notMethods']) {
    for (const v of nonEmptyStrings(c, op, k, path)) warnLiteralStar(c, v.value, v.path);
  }
  for (const k of ['paths', 'notPaths']) {
    for (const v of nonEmptyStrings(c, op, k, path)) {
      const err = pathError(v.value);
      if (err !== undefined) c.error(v.path, err);
    }
  }
  return !isAbsent(op.ports) || !isAbsent(op.notPorts);
}

/** A port as Istio's ValidatePorts reads it: a decimal number 0..65535. */
function portError(port: string): string | undefined {
  return /^\d+$/.test(port) && Number(port) <= 65535
    ? undefined
    : `${JSON.stringify(port)} is not a port number (0..65535)`;
}

/** At most one `*`, at the start or at the end (Istio's CheckWildcardValues). */
function wildcardError(value: string): string | undefined {
  const stars = value.split('*').length - 1;
  if (stars > 1) return `${JSON.stringify(value)}: at most one wildcard '*' is allowed`;
  if (stars === 1 && !value.startsWith('*') && !value.endsWith('*')) {
    return `${JSON.stringify(value)}: a wildcard '*' is only allowed at the start or the end`;
  }
  return undefined;
}

/**
 * Istio matches `*` only as a whole value, a prefix or a suffix; anywhere else it is compared
 * literally. Istio accepts such values silently; Trellis warns.
 */
function warnLiteralStar(c: SpecCheck, value: string, path: string): void {
  if (wildcardError(value) !== undefined) {
    c.warning(
      path,
      `${JSON.stringify(value)}: '*' only matches at the start or the end; here it is compared literally`,
    );
  }
}

const MATCH_ONE = '{*}';
const MATCH_ANY = '{**}';
/** An RFC 3986 pchar literal, what Envoy's URI templates accept between `/`. */
const PCHARS = /^[a-zA-Z0-9\-._~%!$&'()+,;:@=]+$/;

/**
 * A path as Istio reads it. With a `{*}` / `{**}` template (Istio's CheckValidPathTemplate):
 * templates are whole segments, `{**}` at most once and no template after it, other segments
 * plain pchar literals. Without a template, Istio takes `*` as a prefix/suffix wildcard only at
 * the start or the end and literally anywhere else; Trellis refuses the latter (a DENY on
 * `/admin*x` would deny nothing Istio's author meant it to).
 */
export function pathError(path: string): string | undefined {
  const templated = path.includes(MATCH_ONE) || path.includes(MATCH_ANY);
  if (!templated) {
    if (/[{}]/.test(path))
      return `${JSON.stringify(path)}: '{' and '}' are only allowed in {*} and {**} templates`;
    const err = wildcardError(path);
    return err === undefined ? undefined : `${err}; for segments use {*} or {**}`;
  }
  // Envoy's uri_template refuses a template that does not start with `/` (the whole listener).
  if (!path.startsWith('/')) return `${JSON.stringify(path)}: a path template must start with '/'`;
  let seenAny = false;
  for (const segment of path.replace(/^\/+|\/+$/g, '').split('/')) {
    if (segment === MATCH_ONE || segment === MATCH_ANY) {
      if (seenAny) return `${JSON.stringify(path)}: {**} must be the last template operator`;
      if (segment === MATCH_ANY) seenAny = true;
      continue;
    }
    if (/[{}]/.test(segment)) {
      return `${JSON.stringify(path)}: '{' and '}' are only allowed as whole {*} or {**} segments`;
    }
    if (!PCHARS.test(segment)) {
      return `${JSON.stringify(path)}: segment ${JSON.stringify(segment)} is not a valid path literal in a template`;
    }
  }
  return undefined;
}

/** Attribute keys with a `[name]` part. */
const MAP_KEYS = ['request.headers', 'request.auth.claims'];
const PLAIN_KEYS = [
  'source.ip',
  'remote.ip',
  'source.namespace',
  'source.principal',
  'source.serviceAccount',
  'source.trustDomain',
  'request.auth.principal',
  'request.auth.audiences',
  'request.auth.presenter',
  'destination.ip',
  'destination.port',
  'connection.sni',
] as const;
const EXPERIMENTAL = 'experimental.envoy.filters.';

/** Condition keys the CUSTOM action cannot evaluate. */
function customUnsupported(key: string): boolean {
  return (
    ['source.namespace', 'source.serviceAccount', 'source.trustDomain', 'source.principal'].includes(key) ||
    key.startsWith('request.auth.')
  );
}

function checkCondition(c: SpecCheck, value: unknown, path: string, action: Action): void {
  if (isAbsent(value)) {
    c.error(path, 'must not be null');
    return;
  }
  const cond = c.object(value, path, ['key', 'values', 'notValues']);
  if (cond === undefined) return;
  const key = c.string(cond, 'key', path, { required: true });
  const values = nonEmptyStrings(c, cond, 'values', path);
  const notValues = nonEmptyStrings(c, cond, 'notValues', path);
  if (key === undefined) return;
  const kp = fieldPath(path, 'key');
  const keyErr = attributeKeyError(key);
  if (keyErr !== undefined) {
    c.error(kp, keyErr);
    return;
  }
  if (action === 'CUSTOM' && customUnsupported(key))
    c.error(kp, `${key} is not supported with action CUSTOM`);
  const given = (a: unknown) => Array.isArray(a) && a.length > 0;
  if (!given(cond.values) && !given(cond.notValues)) {
    c.error(path, `at least one of values, notValues must be set for key ${key}`);
    return;
  }
  for (const v of [...values, ...notValues]) {
    const err = attributeValueError(key, v.value);
    if (err !== undefined) c.error(v.path, err);
  }
}

function attributeKeyError(key: string): string | undefined {
  const base = MAP_KEYS.find((k) => key.startsWith(k));
  if (base !== undefined || key.startsWith(EXPERIMENTAL)) {
    // `a[b]` with a non-empty b, as Istio's validateMapKey.
    const open = key.indexOf('[');
    return key.endsWith(']') && open > 0 && open < key.length - 2
      ? undefined
      : `${JSON.stringify(key)}: expected the form ${base ?? 'experimental.envoy.filters.NAME'}[NAME]`;
  }
  if ((PLAIN_KEYS as readonly string[]).includes(key)) return undefined;
  if (key === 'destination.namespace') return `${key} is replaced by the policy's metadata.namespace`;
  if (key.startsWith('destination.labels')) return `${key} is replaced by the policy's selector`;
  if (key === 'destination.name' || key === 'destination.user') {
    return `${key} is no longer supported (only in the v1alpha1 API)`;
  }
  return `unknown attribute ${JSON.stringify(key)}; expected one of ${[...MAP_KEYS.map((k) => `${k}[NAME]`), ...PLAIN_KEYS, `${EXPERIMENTAL}*`].join(', ')}`;
}

function attributeValueError(key: string, value: string): string | undefined {
  switch (key) {
    case 'source.ip':
    case 'remote.ip':
    case 'destination.ip':
      return cidrError(value);
    case 'destination.port':
      return portError(value);
    case 'source.trustDomain':
      return wildcardError(value);
    case 'source.serviceAccount': {
      if (value.includes('*'))
        return `${JSON.stringify(value)}: wildcards are not allowed in service accounts`;
      const parts = value.split('/');
      return parts.length > 2 || parts.some((s) => s === '')
        ? `${JSON.stringify(value)}: expected SERVICE_ACCOUNT or NAMESPACE/SERVICE_ACCOUNT`
        : undefined;
    }
    default:
      return undefined;
  }
}
