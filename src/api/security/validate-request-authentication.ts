/**
 * RequestAuthentication validation, after Istio's ValidateRequestAuthentication and
 * validateJwtRule (pkg/config/validation/validation.go), ParseJwksURI
 * (pkg/config/security/security.go) and the CRD's rules (jwks and jwksUri exclusive, jwksUri
 * http(s) and at most 2048 characters, strict header names for outputClaimToHeaders, timeout
 * at least 1ms). An inline `jwks` is never quoted in messages: it may hold key material.
 */
import type { Problems } from '../../core/errors.js';
import { fieldPath, isAbsent, isObject, SpecCheck } from '../fields.js';
import { headerNameError } from '../names.js';
import { checkWorkloadSelection, nonEmptyStrings } from './validate-common.js';

const FIELDS = ['selector', 'targetRef', 'targetRefs', 'jwtRules'] as const;
const JWT_RULE_FIELDS = [
  'issuer',
  'audiences',
  'jwksUri',
  'jwks_uri',
  'jwks',
  'fromHeaders',
  'fromParams',
  'fromCookies',
  'outputPayloadToHeader',
  'forwardOriginalToken',
  'outputClaimToHeaders',
  'timeout',
  'spaceDelimitedClaims',
] as const;

/** Istio's validStrictHeaderNameRegex / the CRD pattern for outputClaimToHeaders[].header. */
const STRICT_HEADER_NAME = /^[-_A-Za-z0-9]+$/;

export function validateRequestAuthentication(spec: unknown, problems: Problems, path = 'spec'): void {
  const c = new SpecCheck(problems);
  const ra = c.object(spec, path, FIELDS);
  if (ra === undefined) return;
  checkWorkloadSelection(c, ra, path);
  const rules = c.list(ra, 'jwtRules', path) ?? [];
  if (rules.length > 4096) c.error(fieldPath(path, 'jwtRules'), `at most 4096 rules; found ${rules.length}`);
  for (const r of rules) checkJwtRule(c, r.value, r.path);
}

function checkJwtRule(c: SpecCheck, value: unknown, path: string): void {
  if (isAbsent(value)) {
    c.error(path, 'must not be null');
    return;
  }
  const rule = c.object(value, path, JWT_RULE_FIELDS);
  if (rule === undefined) return;

  const issuer = c.string(rule, 'issuer', path);
  nonEmptyStrings(c, rule, 'audiences', path);

  const uriKeys = ['jwksUri', 'jwks_uri'].filter((k) => !isAbsent(rule[k]));
  let jwksUri: string | undefined;
  for (const k of uriKeys) {
    const uri = c.string(rule, k, path);
    if (uri !== undefined) jwksUri = uri;
    if (uri !== undefined) checkJwksUri(c, uri, fieldPath(path, k));
  }
  if ((issuer === undefined || issuer === '') && (jwksUri === undefined || jwksUri === '')) {
    c.error(fieldPath(path, 'issuer'), 'required unless jwksUri is set; must not be empty');
  }

  const jwks = new SpecCheck(c.problems, true).string(rule, 'jwks', path);
  if (jwks !== undefined && jwks !== '') checkJwks(c, jwks, fieldPath(path, 'jwks'));
  const sources = [...uriKeys, ...(isAbsent(rule.jwks) ? [] : ['jwks'])];
  if (sources.length > 1) c.error(path, `only one of jwks, jwksUri may be set; found ${sources.join(', ')}`);

  for (const item of c.list(rule, 'fromHeaders', path) ?? []) {
    if (isAbsent(item.value)) {
      c.error(item.path, 'must not be null');
      continue;
    }
    const h = c.object(item.value, item.path, ['name', 'prefix']);
    if (h === undefined) continue;
    c.string(h, 'name', item.path, { required: true });
    c.string(h, 'prefix', item.path);
  }
  nonEmptyStrings(c, rule, 'fromParams', path);
  nonEmptyStrings(c, rule, 'fromCookies', path);

  const payloadHeader = c.string(rule, 'outputPayloadToHeader', path);
  if (payloadHeader !== undefined && payloadHeader !== '') {
    const err = headerNameError(payloadHeader);
    if (err !== undefined) c.error(fieldPath(path, 'outputPayloadToHeader'), err);
  }
  c.bool(rule, 'forwardOriginalToken', path);

  for (const item of c.list(rule, 'outputClaimToHeaders', path) ?? []) {
    if (isAbsent(item.value)) {
      c.error(item.path, 'must not be null');
      continue;
    }
    const ch = c.object(item.value, item.path, ['header', 'claim']);
    if (ch === undefined) continue;
    const header = c.string(ch, 'header', item.path, { required: true });
    c.string(ch, 'claim', item.path, { required: true });
    if (header === undefined) continue;
    const hp = fieldPath(item.path, 'header');
    if (header.startsWith(':'))
      c.error(hp, `${JSON.stringify(header)}: pseudo-headers cannot be set from a claim`);
    else if (!STRICT_HEADER_NAME.test(header)) {
      c.error(hp, `${JSON.stringify(header)} is not a valid header name (letters, digits, '-' and '_')`);
    }
  }

  c.duration(rule, 'timeout', path);
  const claims = nonEmptyStrings(c, rule, 'spaceDelimitedClaims', path);
  if (claims.length > 64)
    c.error(fieldPath(path, 'spaceDelimitedClaims'), `at most 64 entries; found ${claims.length}`);
}

function checkJwksUri(c: SpecCheck, uri: string, path: string): void {
  if (uri === '') {
    c.error(path, 'must not be empty');
    return;
  }
  if (uri.length > 2048) {
    c.error(path, 'must be at most 2048 characters');
    return;
  }
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    c.error(path, `${JSON.stringify(uri)} is not a valid URL`);
    return;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    c.error(path, `${JSON.stringify(uri)}: the scheme must be http or https`);
  } else if (url.hostname === '') {
    c.error(path, `${JSON.stringify(uri)}: a host is required`);
  }
}

/**
 * An inline JSON Web Key Set (or a single key, which Istio's parser also accepts): JSON, each
 * key with a `kty`. Private key material is warned about, as Istio does: only public keys
 * verify tokens, and a private key in a resource is a leak.
 */
function checkJwks(c: SpecCheck, text: string, path: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    c.error(path, 'is not valid JSON; expected a JSON Web Key Set');
    return;
  }
  if (!isObject(parsed)) {
    c.error(path, 'expected a JSON Web Key Set object');
    return;
  }
  let keys: unknown[];
  if ('keys' in parsed) {
    if (!Array.isArray(parsed.keys)) {
      c.error(path, 'expected "keys" to be a list of keys');
      return;
    }
    keys = parsed.keys as unknown[];
  } else {
    keys = [parsed];
  }
  keys.forEach((key, i) => {
    if (!isObject(key) || typeof key.kty !== 'string') {
      c.error(path, `key ${i} has no "kty"`);
      return;
    }
    const k = key;
    if (k.kty === 'oct' || !isAbsent(k.d)) {
      c.warning(path, `key ${i} holds private key material; only public keys are needed to verify tokens`);
    }
  });
}
