/** RateLimit validation: every problem with its field path (see types.ts for the schema). */
import type { Problems } from '../../core/errors.js';
import { fieldPath, isAbsent, SpecCheck, type Obj } from '../fields.js';
import { dns1123LabelError, headerNameError } from '../names.js';
import {
  checkHost,
  checkLabels,
  checkName,
  checkStringMatch,
  checkStringMatchMap,
  oneOf,
} from '../networking/validate-common.js';
import { QUOTA_UNITS, RATE_LIMIT_FAILURE_MODES, RATE_LIMIT_MODES, RATE_LIMIT_SIDES } from './types.js';

const FIELDS = ['hosts', 'port', 'mode', 'side', 'shadow', 'failureMode', 'limits'] as const;
const LIMIT_FIELDS = ['name', 'match', 'quota', 'perKey'] as const;
const MATCH_FIELDS = ['path', 'method', 'headers', 'sourceLabels', 'sourceNamespace'] as const;
const QUOTA_FIELDS = ['requests', 'per', 'burst'] as const;
const PER_KEY_FIELDS = ['header', 'sourceIp'] as const;

/** Envoy counts tokens in a uint32. */
const MAX_REQUESTS = 0xffffffff;
/** RFC 9110 method token; methods are case-sensitive and conventionally upper case. */
const METHOD = /^[A-Z][A-Z0-9_-]*$/;

export function validateRateLimit(spec: unknown, problems: Problems, path = 'spec'): void {
  const c = new SpecCheck(problems);
  const rl = c.object(spec, path, FIELDS);
  if (rl === undefined) return;

  const seenHosts = new Set<string>();
  for (const h of c.stringList(rl, 'hosts', path, { required: true, nonEmpty: true }) ?? []) {
    if (seenHosts.has(h.value)) c.error(h.path, `duplicate host ${JSON.stringify(h.value)}`);
    seenHosts.add(h.value);
    checkHost(c, h.value, h.path);
  }
  c.port(rl, 'port', path);
  const mode = c.enumValue(rl, 'mode', path, RATE_LIMIT_MODES) ?? 'local';
  const side = c.enumValue(rl, 'side', path, RATE_LIMIT_SIDES) ?? 'server';
  c.bool(rl, 'shadow', path);
  const failureMode = c.enumValue(rl, 'failureMode', path, RATE_LIMIT_FAILURE_MODES);
  if (failureMode !== undefined && mode === 'local') {
    c.error(
      fieldPath(path, 'failureMode'),
      'only for mode: global (a local limit never calls the rate limit service)',
    );
  }

  const names = new Set<string>();
  let hostWide: string | undefined;
  for (const item of c.list(rl, 'limits', path, { required: true, nonEmpty: true }) ?? []) {
    const limit = c.object(item.value, item.path, LIMIT_FIELDS);
    if (limit === undefined) {
      if (isAbsent(item.value)) c.error(item.path, 'expected a limit with name and quota');
      continue;
    }
    const name = c.string(limit, 'name', item.path, { required: true });
    if (name !== undefined) {
      const p = fieldPath(item.path, 'name');
      if (names.has(name)) c.error(p, `duplicate limit name ${JSON.stringify(name)}`);
      names.add(name);
      checkName(c, name, p, dns1123LabelError);
    }
    checkMatch(c, limit, item.path, side);
    // Local host-wide buckets live in the virtual host's one per-filter config.
    if (mode === 'local' && !hasRequestConditions(limit.match)) {
      if (hostWide !== undefined) {
        c.error(
          item.path,
          `only one local limit without path, method or headers may apply to a host (${hostWide} already does): Envoy keeps one local bucket per virtual host`,
        );
      }
      hostWide ??= item.path;
    }
    checkQuota(c, limit, item.path);
    checkPerKey(c, limit, item.path, mode);
  }
}

function checkMatch(c: SpecCheck, limit: Obj, path: string, side: string): void {
  const m = c.child(limit, 'match', path, MATCH_FIELDS);
  if (m === undefined) return;
  const mp = fieldPath(path, 'match');
  if (!isAbsent(m.path)) checkStringMatch(c, m.path, fieldPath(mp, 'path'));
  const method = c.string(m, 'method', mp);
  if (method !== undefined && !METHOD.test(method)) {
    c.error(
      fieldPath(mp, 'method'),
      `${JSON.stringify(method)} is not an HTTP method; expected e.g. GET or POST`,
    );
  }
  checkStringMatchMap(c, m, 'headers', mp);
  for (const name of Object.keys(isObjectValue(m.headers) ? m.headers : {})) {
    const err = headerNameError(name);
    if (err !== undefined) c.error(fieldPath(fieldPath(mp, 'headers'), name), err);
    else if (name !== name.toLowerCase()) {
      c.error(fieldPath(fieldPath(mp, 'headers'), name), 'header names must be lower case');
    }
  }
  // A server's proxy sees only the request, not which workload sent it (there is no peer
  // identity to match on without mTLS), so caller conditions need the caller's proxy.
  const clientOnly = (key: string, what: string) => {
    if (!isAbsent(m[key]) && side !== 'client') {
      c.error(
        fieldPath(mp, key),
        `${what} needs side: client: a server's proxy cannot tell which workload called`,
      );
    }
  };
  checkLabels(c, m, 'sourceLabels', mp);
  clientOnly('sourceLabels', 'sourceLabels');
  const ns = c.string(m, 'sourceNamespace', mp);
  if (ns !== undefined) checkName(c, ns, fieldPath(mp, 'sourceNamespace'), dns1123LabelError);
  clientOnly('sourceNamespace', 'sourceNamespace');
}

function hasRequestConditions(match: unknown): boolean {
  return isObjectValue(match) && ['path', 'method', 'headers'].some((k) => !isAbsent(match[k]));
}

function isObjectValue(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkQuota(c: SpecCheck, limit: Obj, path: string): void {
  const q = c.child(limit, 'quota', path, QUOTA_FIELDS, { required: true });
  if (q === undefined) return;
  const qp = fieldPath(path, 'quota');
  const requests = c.int(q, 'requests', qp, { required: true, min: 1, max: MAX_REQUESTS });
  c.enumValue(q, 'per', qp, QUOTA_UNITS, { required: true });
  const burst = c.int(q, 'burst', qp, { min: 1, max: MAX_REQUESTS });
  if (burst !== undefined && requests !== undefined && burst < requests) {
    c.error(
      fieldPath(qp, 'burst'),
      `${burst} is less than requests (${requests}); burst must be at least requests`,
    );
  }
}

function checkPerKey(c: SpecCheck, limit: Obj, path: string, mode: string): void {
  const k = c.child(limit, 'perKey', path, PER_KEY_FIELDS);
  if (k === undefined) return;
  const kp = fieldPath(path, 'perKey');
  oneOf(c, k, PER_KEY_FIELDS, kp, { required: true });
  const header = c.string(k, 'header', kp);
  if (header !== undefined) {
    const err = headerNameError(header);
    if (err !== undefined) c.error(fieldPath(kp, 'header'), err);
  }
  const sourceIp = c.bool(k, 'sourceIp', kp);
  if (sourceIp === false) c.error(fieldPath(kp, 'sourceIp'), 'must be true when set');
  if (mode !== 'global') {
    c.error(
      kp,
      "needs mode: global: Envoy's local rate limit matches only descriptor values configured in advance, so it cannot keep one bucket per distinct value",
    );
  }
}
