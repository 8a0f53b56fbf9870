/**
 * Kubernetes `Secret` (apiVersion v1) as Istio's gateways read it: a TLS credential named by a
 * Gateway server's `credentialName`, in either of Istio's two layouts:
 *
 *   type: kubernetes.io/tls      data: tls.crt, tls.key, optional ca.crt
 *   generic (type Opaque)        data: cert, key, optional cacert
 *
 * and a CA alone (`ca.crt` or `cacert`) for the `<credentialName>-cacert` secret of MUTUAL
 * servers. `data` holds base64, `stringData` plain text (it wins on a shared key, as in
 * Kubernetes). A Secret keeps these fields beside metadata, not under `spec`: the kind is
 * registered with `topLevel` so they are read into the resource's spec and written back out.
 *
 * Validation parses every PEM and checks that the key belongs to the certificate; problems
 * point at `data.tls.key` and the like and never quote the value. redactSecretSpec() is what may
 * leave the store (API answers, `trellis get`): everything but certificates replaced.
 */
import type { Problems } from '../../core/errors.js';
import { checkKeyPair, parseCertificates } from '../../core/pem.js';
import { fieldPath, isObject, SpecCheck } from '../fields.js';

export const SECRET_KIND = 'Secret';
/** Kubernetes' core group: `apiVersion: v1`. */
export const CORE_GROUP = '';
export const SECRET_FIELDS = ['type', 'data', 'stringData', 'immutable'] as const;
export const TLS_SECRET_TYPE = 'kubernetes.io/tls';
/** What `trellis get` shows in place of a value that is not a certificate. */
export const REDACTED = '[redacted]';

export interface SecretSpec {
  type?: string;
  /** base64 values. */
  data?: Readonly<Record<string, string>>;
  /** Plain text values; win over `data`. */
  stringData?: Readonly<Record<string, string>>;
  immutable?: boolean;
}

/** The keys of Istio's two layouts; the generic one is looked at first, as Istio does. */
const LAYOUTS = [
  { cert: 'cert', key: 'key', ca: 'cacert' },
  { cert: 'tls.crt', key: 'tls.key', ca: 'ca.crt' },
] as const;

/** Keys whose values are public (certificates): shown by `trellis get`, the rest redacted. */
const PUBLIC_KEYS: ReadonlySet<string> = new Set(['tls.crt', 'ca.crt', 'cert', 'cacert']);

const KEY_PATTERN = /^[-._a-zA-Z0-9]+$/;

/** A TLS credential read out of a Secret: PEM bytes. */
export interface TlsCredential {
  certificateChain?: Buffer;
  privateKey?: Buffer;
  caCertificates?: Buffer;
}

function isBase64(s: string): boolean {
  const compact = s.replace(/\s+/g, '');
  return compact.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(compact);
}

/** Where a value comes from: `stringData.K` when set there, else `data.K`. */
function sourceOf(spec: SecretSpec, key: string): string | undefined {
  if (spec.stringData?.[key] !== undefined) return fieldPath('stringData', key);
  if (spec.data?.[key] !== undefined) return fieldPath('data', key);
  return undefined;
}

/** The Secret's values, decoded (`stringData` over `data`). */
export function secretValues(spec: SecretSpec): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(spec.data ?? {})) out.set(k, Buffer.from(v, 'base64'));
  for (const [k, v] of Object.entries(spec.stringData ?? {})) out.set(k, Buffer.from(v, 'utf8'));
  return out;
}

const nonEmpty = (values: ReadonlyMap<string, Buffer>, key: string) => (values.get(key)?.length ?? 0) > 0;

/**
 * The credential as Istio extracts it: certificate and key from the first layout holding both
 * (non-empty), the CA from `cacert` or else `ca.crt`. Undefined when neither is there.
 */
export function tlsCredential(spec: SecretSpec): TlsCredential | undefined {
  const values = secretValues(spec);
  const out: TlsCredential = {};
  const pair = LAYOUTS.find((l) => nonEmpty(values, l.cert) && nonEmpty(values, l.key));
  if (pair !== undefined) {
    out.certificateChain = values.get(pair.cert);
    out.privateKey = values.get(pair.key);
  }
  const ca = LAYOUTS.find((l) => nonEmpty(values, l.ca));
  if (ca !== undefined) out.caCertificates = values.get(ca.ca);
  return out.certificateChain === undefined && out.caCertificates === undefined ? undefined : out;
}

export function validateSecret(spec: unknown, problems: Problems, path = ''): void {
  // Sensitive: a key pasted in the wrong place must not be quoted back in the error.
  const c = new SpecCheck(problems, true);
  const s = c.object(spec, path, SECRET_FIELDS);
  if (s === undefined) return;
  const type = c.string(s, 'type', path);
  c.bool(s, 'immutable', path);
  let readable = true;
  for (const field of ['data', 'stringData'] as const) {
    const values = c.stringMap(s, field, path);
    if (values === undefined) {
      if (s[field] !== undefined && s[field] !== null) readable = false;
      continue;
    }
    for (const [k, v] of values) {
      const p = fieldPath(fieldPath(path, field), k);
      if (!KEY_PATTERN.test(k)) {
        c.error(p, 'key must consist of alphanumeric characters, "-", "_" or "."');
        readable = false;
      } else if (field === 'data' && !isBase64(v)) {
        c.error(
          p,
          v === REDACTED
            ? 'holds the placeholder `trellis get` prints instead of secret values; apply the original file'
            : 'not valid base64 (data values are base64; use stringData for plain text)',
        );
        readable = false;
      }
    }
    if (isObject(s[field]) && Object.keys(s[field]).length !== values.size) readable = false;
  }
  if (!readable) return;
  const secret = s as SecretSpec;
  const at = (key: string) => fieldPath(path, sourceOf(secret, key) ?? fieldPath('data', key));
  if (type === TLS_SECRET_TYPE) {
    for (const key of ['tls.crt', 'tls.key']) {
      if (sourceOf(secret, key) === undefined) c.error(at(key), `required for type ${TLS_SECRET_TYPE}`);
    }
  }
  checkCredential(c, secret, at);
}

function checkCredential(c: SpecCheck, secret: SecretSpec, at: (key: string) => string): void {
  const values = secretValues(secret);
  let found = false;
  for (const layout of LAYOUTS) {
    const hasCert = values.has(layout.cert);
    const hasKey = values.has(layout.key);
    if (!hasCert && !hasKey) continue;
    found = true;
    if (!hasCert || !hasKey) {
      const [missing, present] = hasCert ? [layout.key, layout.cert] : [layout.cert, layout.key];
      c.error(at(missing), `required with ${at(present)} (a certificate and its private key go together)`);
      continue;
    }
    const checked = checkKeyPair(values.get(layout.cert)!, values.get(layout.key)!, Date.now());
    if (checked.chain !== undefined) c.error(at(layout.cert), checked.chain);
    if (checked.key !== undefined) c.error(at(layout.key), checked.key);
    for (const w of checked.warnings) c.warning(at(layout.cert), w);
  }
  for (const layout of LAYOUTS) {
    const ca = values.get(layout.ca);
    if (ca === undefined) continue;
    found = true;
    const certs = parseCertificates(ca);
    if (!certs.ok) c.error(at(layout.ca), certs.error);
  }
  if (!found) {
    c.warning(
      '',
      'holds no TLS credential (tls.crt and tls.key, or cert and key, or a CA in ca.crt or cacert); gateways cannot use it',
    );
  }
}

/** The spec with every value but certificates replaced by `[redacted]`. */
export function redactSecretSpec(spec: unknown): unknown {
  if (!isObject(spec)) return spec;
  const out: Record<string, unknown> = { ...spec };
  for (const field of ['data', 'stringData']) {
    const values = spec[field];
    if (!isObject(values)) continue;
    out[field] = Object.fromEntries(
      Object.entries(values).map(([k, v]) => [k, PUBLIC_KEYS.has(k) ? v : REDACTED]),
    );
  }
  return out;
}
