/**
 * PEM certificates and private keys: parsing and the checks that both ends share, so a bad
 * credential is refused with the same words wherever it shows up: config validation of
 * Kubernetes Secrets on the control plane, and SDS Secrets in the proxy.
 *
 * Messages say what is wrong and never echo the input: it may be a private key.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';

export type PemResult<T> = { ok: true; value: T } | { ok: false; error: string };

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

function text(pem: string | Uint8Array): string {
  return typeof pem === 'string' ? pem : Buffer.from(pem).toString('utf8');
}

/** OpenSSL's reason without the `error:1E08010C:DECODER routines::` prefix. */
function reason(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.replace(/^error:[0-9A-F]+:[^:]*:[^:]*:/, '').trim() || 'unreadable';
}

/** Every certificate of a PEM bundle (a chain, leaf first, or a CA bundle), in order. */
export function parseCertificates(pem: string | Uint8Array): PemResult<X509Certificate[]> {
  const s = text(pem);
  const blocks = s.match(CERT_BLOCK) ?? [];
  if (blocks.length === 0) {
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(s))
      return { ok: false, error: 'holds a private key where a PEM certificate is expected' };
    return { ok: false, error: 'no PEM certificate (expected "-----BEGIN CERTIFICATE-----")' };
  }
  const certs: X509Certificate[] = [];
  for (const [i, block] of blocks.entries()) {
    try {
      certs.push(new X509Certificate(block));
    } catch (err) {
      const which = blocks.length > 1 ? `certificate ${i + 1} of ${blocks.length}` : 'the certificate';
      return { ok: false, error: `${which} is not valid X.509 (${reason(err)})` };
    }
  }
  return { ok: true, value: certs };
}

/** An unencrypted PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC). */
export function parsePrivateKey(pem: string | Uint8Array): PemResult<KeyObject> {
  const s = text(pem);
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(s)) {
    if (s.includes('-----BEGIN CERTIFICATE-----'))
      return { ok: false, error: 'holds a certificate where a PEM private key is expected' };
    return { ok: false, error: 'no PEM private key (expected "-----BEGIN PRIVATE KEY-----")' };
  }
  if (s.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----') || /Proc-Type:\s*4,ENCRYPTED/.test(s))
    return { ok: false, error: 'the private key is encrypted; a passphrase cannot be given here' };
  try {
    return { ok: true, value: createPrivateKey({ key: s, format: 'pem' }) };
  } catch (err) {
    return { ok: false, error: `not a valid PEM private key (${reason(err)})` };
  }
}

/** Undefined when `key` is the private key of `cert`; otherwise why not. */
export function keyPairError(cert: X509Certificate, key: KeyObject): string | undefined {
  let matches = false;
  try {
    matches = cert.checkPrivateKey(key);
  } catch {
    matches = false;
  }
  return matches
    ? undefined
    : `the private key does not match the certificate (${cert.subject.replace(/\n/g, ', ')})`;
}

/** A warning for a certificate outside its validity period at `nowMs`, else undefined. */
export function validityWarning(cert: X509Certificate, nowMs: number): string | undefined {
  const subject = cert.subject.replace(/\n/g, ', ');
  if (Date.parse(cert.validTo) < nowMs) return `the certificate (${subject}) expired on ${cert.validTo}`;
  if (Date.parse(cert.validFrom) > nowMs)
    return `the certificate (${subject}) is not valid before ${cert.validFrom}`;
  return undefined;
}

/**
 * A certificate chain and its private key, checked together: both parse and the key belongs
 * to the first (leaf) certificate. `warnings` gets expiry notes (Envoy serves expired
 * certificates too; clients decide).
 */
export function checkKeyPair(
  chain: string | Uint8Array,
  key: string | Uint8Array,
  nowMs: number,
): { chain?: string; key?: string; warnings: string[] } {
  const out: { chain?: string; key?: string; warnings: string[] } = { warnings: [] };
  const certs = parseCertificates(chain);
  const k = parsePrivateKey(key);
  if (!certs.ok) out.chain = certs.error;
  if (!k.ok) out.key = k.error;
  if (certs.ok && k.ok) {
    const leaf = certs.value[0] as X509Certificate;
    const mismatch = keyPairError(leaf, k.value);
    if (mismatch !== undefined) out.key = mismatch;
    const expiry = validityWarning(leaf, nowMs);
    if (expiry !== undefined) out.warnings.push(expiry);
  }
  return out;
}
