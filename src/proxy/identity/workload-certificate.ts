/**
 * The workload's own certificate as the proxy holds it: what Istio's agent serves Envoy over SDS
 * as `default` (chain and key) and `ROOTCA` (the trust bundle). The private key is generated in
 * this process and never leaves it; a source obtains the chain (from the control plane's CA, or
 * fixed in tests) and renews it before it expires.
 *
 * Consumers (TLS transport sockets on clusters and listeners, the admin secret dump) read
 * `current()` when they build a TLS context and subscribe with `onChange` to rebuild it, so a
 * rotation takes effect for new handshakes without touching open connections.
 *
 * Exports:
 *   interface WorkloadCertificate, interface WorkloadCertificateSource
 *   staticCertificateSource(cert): WorkloadCertificateSource & { rotate(cert) }   (tests, files)
 */
export interface WorkloadCertificate {
  /** PEM: the leaf first, then the intermediates up to (not including) the root. */
  certChainPem: string;
  /** PEM, PKCS#8. */
  privateKeyPem: string;
  /** PEM: every root this workload trusts (old and new during a root rotation). */
  rootCertsPem: string;
  /** The leaf's SPIFFE URI SAN, `spiffe://<trust-domain>/ns/<ns>/sa/<sa>`. */
  identity: string;
  notBefore: Date;
  notAfter: Date;
}

export interface WorkloadCertificateSource {
  /** The certificate in force, or undefined before the first one arrived. */
  current(): WorkloadCertificate | undefined;
  /** Called after each new certificate or trust bundle is installed. Returns an unsubscribe. */
  onChange(fn: (cert: WorkloadCertificate) => void): () => void;
  /** Resolves with the first certificate (at once when one is already there). */
  ready(): Promise<WorkloadCertificate>;
  close(): void;
}

/** A source whose certificate changes only when told to: tests, and certificates from files. */
export function staticCertificateSource(
  initial?: WorkloadCertificate,
): WorkloadCertificateSource & { rotate(cert: WorkloadCertificate): void } {
  let cert = initial;
  const listeners = new Set<(c: WorkloadCertificate) => void>();
  const waiters: ((c: WorkloadCertificate) => void)[] = [];
  return {
    current: () => cert,
    onChange(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    ready: () =>
      cert !== undefined ? Promise.resolve(cert) : new Promise((resolve) => waiters.push(resolve)),
    close() {
      listeners.clear();
    },
    rotate(next) {
      cert = next;
      for (const w of waiters.splice(0)) w(next);
      for (const fn of [...listeners]) fn(next);
    },
  };
}
