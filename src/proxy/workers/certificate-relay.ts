/**
 * The workload certificate across the primary/worker IPC channel (ipc.ts): Dates become ISO
 * strings and back. A malformed message cannot install a certificate: fields are checked, and
 * the worker keeps what it had.
 */
import type { WorkloadCertificate } from '../identity/workload-certificate.js';
import type { WireCertificate } from './ipc.js';

export function toWire(cert: WorkloadCertificate): WireCertificate {
  return {
    certChainPem: cert.certChainPem,
    privateKeyPem: cert.privateKeyPem,
    rootCertsPem: cert.rootCertsPem,
    identity: cert.identity,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
  };
}

/** The certificate a primary sent; throws on a message that is not one. */
export function fromWire(w: WireCertificate): WorkloadCertificate {
  for (const field of ['certChainPem', 'privateKeyPem', 'rootCertsPem', 'identity'] as const)
    if (typeof w[field] !== 'string' || w[field] === '')
      throw new Error(`certificate.${field}: expected a string`);
  const notBefore = new Date(w.notBefore);
  const notAfter = new Date(w.notAfter);
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime()))
    throw new Error('certificate.notBefore/notAfter: expected ISO dates');
  return { ...w, notBefore, notAfter };
}
