/**
 * Workload certificates from a real Trellis CA for agent tests (imported by tests only), and a
 * certificate source that changes when told to.
 */
import { X509Certificate } from 'node:crypto';
import type { CertificateAuthority } from '../../ca/authority.js';
import { generateKeyAndCsr } from '../../ca/workload.js';
import type { AgentCertificate, AgentCertificateSource } from '../certificate-source.js';

export async function issueWorkloadCertificate(
  ca: CertificateAuthority,
  serviceAccount = 'web',
  rootsPem = ca.trustBundle().join(''),
): Promise<AgentCertificate> {
  const { privateKeyPem, csrPem } = await generateKeyAndCsr();
  const signed = await ca.signCsr(csrPem, { identity: { namespace: 'default', serviceAccount } });
  const leaf = new X509Certificate(signed.certChainPem[0] as string);
  return {
    certChainPem: signed.certChainPem.join(''),
    privateKeyPem,
    rootCertsPem: rootsPem,
    identity: `spiffe://cluster.local/ns/default/sa/${serviceAccount}`,
    notBefore: new Date(leaf.validFrom),
    notAfter: new Date(leaf.validTo),
  };
}

export function manualSource(initial?: AgentCertificate): AgentCertificateSource & {
  rotate(cert: AgentCertificate): void;
} {
  let cert = initial;
  const listeners = new Set<(c: AgentCertificate) => void>();
  return {
    current: () => cert,
    onChange(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    rotate(next) {
      cert = next;
      for (const fn of [...listeners]) fn(next);
    },
  };
}
