/**
 * Which Envoy Secret a resource name asks the agent for, and the Secret itself: Istio's names
 * (pilot-agent's SDS server) so Envoy configuration written for Istio works unchanged.
 *
 *   `default`                 tls_certificate: the workload's chain and key
 *   `ROOTCA`                  validation_context.trusted_ca: the trust bundle
 *   `file-cert:CERT~KEY`      tls_certificate read from two PEM files on this host
 *   `file-root:ROOT`          validation_context.trusted_ca read from a PEM file
 *
 * Pure: the server (sds-server.ts) reads files and certificates and calls these.
 */
import { createHash } from 'node:crypto';
import type { Secret } from '../protocol/generated/envoy/extensions/transport_sockets/tls/v3/Secret.js';
import type { AgentCertificate } from './certificate-source.js';

export const WORKLOAD_SECRET = 'default';
export const ROOT_SECRET = 'ROOTCA';
const FILE_CERT = 'file-cert:';
const FILE_ROOT = 'file-root:';

export type SecretRequest =
  | { kind: 'workload' }
  | { kind: 'root' }
  | { kind: 'file-cert'; certFile: string; keyFile: string }
  | { kind: 'file-root'; rootFile: string }
  | { kind: 'unknown'; reason: string };

export const SERVED_NAMES = `${WORKLOAD_SECRET}, ${ROOT_SECRET}, ${FILE_CERT}CERT~KEY, ${FILE_ROOT}ROOT`;

/** What a requested resource name means. File paths must be absolute (the agent's cwd is not Envoy's). */
export function parseSecretName(name: string): SecretRequest {
  if (name === WORKLOAD_SECRET) return { kind: 'workload' };
  if (name === ROOT_SECRET) return { kind: 'root' };
  if (name.startsWith(FILE_CERT)) {
    const parts = name.slice(FILE_CERT.length).split('~');
    if (parts.length !== 2 || parts.some((p) => !p.startsWith('/')))
      return {
        kind: 'unknown',
        reason: `expected ${FILE_CERT}/abs/cert.pem~/abs/key.pem (two absolute paths joined by ~)`,
      };
    return { kind: 'file-cert', certFile: parts[0] as string, keyFile: parts[1] as string };
  }
  if (name.startsWith(FILE_ROOT)) {
    const rootFile = name.slice(FILE_ROOT.length);
    if (!rootFile.startsWith('/'))
      return { kind: 'unknown', reason: `expected ${FILE_ROOT}/abs/root-cert.pem (an absolute path)` };
    return { kind: 'file-root', rootFile };
  }
  return { kind: 'unknown', reason: `this agent serves ${SERVED_NAMES}` };
}

const inline = (pem: string) => ({ inline_bytes: Buffer.from(pem) });

export function tlsCertificateSecret(name: string, chainPem: string, keyPem: string): Secret {
  return { name, tls_certificate: { certificate_chain: inline(chainPem), private_key: inline(keyPem) } };
}

export function trustedCaSecret(name: string, rootsPem: string): Secret {
  return { name, validation_context: { trusted_ca: inline(rootsPem) } };
}

/** `default` and `ROOTCA` from the workload certificate. */
export function workloadSecret(name: string, cert: AgentCertificate): Secret | undefined {
  if (name === WORKLOAD_SECRET) return tlsCertificateSecret(name, cert.certChainPem, cert.privateKeyPem);
  if (name === ROOT_SECRET) return trustedCaSecret(name, cert.rootCertsPem);
  return undefined;
}

/**
 * A version for a set of secret contents: the same contents give the same version (a reconnecting
 * Envoy that already has them sees no change), new contents a new one.
 */
export function contentVersion(parts: readonly string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 16);
}
