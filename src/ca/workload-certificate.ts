/**
 * A workload's certificate as its agent holds it (the Trellis proxy, or `trellis agent` for
 * Envoy and proxyless gRPC), and the feed of renewals both read. Here in `ca` so the proxy and
 * the agent share one shape without depending on each other.
 */
export interface WorkloadCertificate {
  /** PEM: the leaf first, then the intermediates up to (not including) the root. */
  certChainPem: string;
  /** PEM, PKCS#8; made where the workload runs and never sent anywhere but its data plane. */
  privateKeyPem: string;
  /** PEM: every root this workload trusts (old and new during a root rotation). */
  rootCertsPem: string;
  /** The leaf's SPIFFE URI SAN, `spiffe://<trust-domain>/ns/<ns>/sa/<sa>`. */
  identity: string;
  notBefore: Date;
  notAfter: Date;
}

export interface WorkloadCertificateFeed {
  /** The certificate in force, or undefined before the first one arrived. */
  current(): WorkloadCertificate | undefined;
  /** Called after each new certificate or trust bundle is installed. Returns an unsubscribe. */
  onChange(fn: (cert: WorkloadCertificate) => void): () => void;
}
