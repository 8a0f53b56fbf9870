/**
 * The workload side: a key pair generated where the workload runs and a CSR for it. Only the
 * CSR goes to the CA; the private key stays with the caller.
 */
import { spiffeId, type WorkloadIdentity } from './identity.js';
import { EC_P256, generateP256, x509 } from './x509.js';

export interface KeyAndCsr {
  /** PKCS#8 PEM; keep it local. */
  privateKeyPem: string;
  csrPem: string;
}

/**
 * An ECDSA P-256 key and a CSR signed with it. The identity, when given, goes into the CSR's
 * URI SAN as Istio's agent does; the CA ignores it and writes the identity it decides.
 */
export async function generateKeyAndCsr(options: { identity?: WorkloadIdentity } = {}): Promise<KeyAndCsr> {
  const { keys, privateKeyPem } = await generateP256();
  const extensions =
    options.identity === undefined
      ? []
      : [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId(options.identity) }])];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: EC_P256,
    extensions,
  });
  return { privateKeyPem, csrPem: csr.toString('pem') };
}
