/**
 * What the agent needs from a workload certificate source. It is the shape of the proxy's
 * WorkloadCertificateSource (proxy/identity/workload-certificate.ts), declared here so the agent
 * layer does not depend on the data plane: `trellis agent` hands it the same CaClient the proxy
 * uses (cli composes the two), and tests hand it a fixed source.
 */
export interface AgentCertificate {
  /** PEM: the leaf first, then the intermediates. */
  certChainPem: string;
  /** PEM, PKCS#8; generated in this process, never sent anywhere but to the local data plane. */
  privateKeyPem: string;
  /** PEM: every root the workload trusts. */
  rootCertsPem: string;
  /** The leaf's SPIFFE URI SAN. */
  identity: string;
  notBefore: Date;
  notAfter: Date;
}

export interface AgentCertificateSource {
  current(): AgentCertificate | undefined;
  /** Called after each new certificate; returns an unsubscribe. */
  onChange(fn: (cert: AgentCertificate) => void): () => void;
}
