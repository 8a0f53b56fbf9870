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
import type { WorkloadCertificate, WorkloadCertificateFeed } from '../../ca/workload-certificate.js';
export type { WorkloadCertificate } from '../../ca/workload-certificate.js';

export interface WorkloadCertificateSource extends WorkloadCertificateFeed {
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
