/**
 * The CertificateValidationContext checks beyond the CA, as Envoy applies them to a presented
 * certificate (client certificates on listeners, server certificates on clusters): a SAN
 * matching one matcher (when any), and its SPKI or DER SHA-256 among the pinned ones (when any).
 */
import { createHash, type X509Certificate } from 'node:crypto';
import type { PeerCertificateChecks } from '../model/config.js';
import { compileStringMatcher, type StringPredicate } from '../policy/string-matcher.js';
import { subjectAltNames } from './secret-resolver.js';

/** Returns why the certificate is refused, or undefined; undefined as a whole when nothing is checked. */
export type PeerCheck = (cert: X509Certificate) => string | undefined;

export function compilePeerChecks(config: PeerCertificateChecks): PeerCheck | undefined {
  const sans = (config.subjectAltNames ?? []).map((m): { type?: string; match: StringPredicate } => ({
    ...(m.type !== undefined ? { type: m.type } : {}),
    match: compileStringMatcher(m.matcher, 'match_subject_alt_names'),
  }));
  const spki = new Set(config.spkiSha256 ?? []);
  const hashes = new Set(config.certificateSha256 ?? []);
  if (sans.length === 0 && spki.size + hashes.size === 0) return undefined;
  return (cert) => {
    if (sans.length > 0) {
      const names = subjectAltNames(cert.subjectAltName);
      if (
        !names.some((n) => sans.some((m) => (m.type === undefined || m.type === n.type) && m.match(n.value)))
      )
        return `no subject alternative name matches (${cert.subjectAltName ?? 'none'})`;
    }
    if (spki.size + hashes.size > 0) {
      const der = cert.publicKey.export({ type: 'spki', format: 'der' });
      const pinned =
        spki.has(createHash('sha256').update(der).digest('base64')) ||
        hashes.has(createHash('sha256').update(cert.raw).digest('hex'));
      if (!pinned) return 'the certificate matches no verify_certificate_spki or verify_certificate_hash';
    }
    return undefined;
  };
}
