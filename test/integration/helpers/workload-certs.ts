/**
 * The files Istio's proxyless agent writes for a gRPC workload (cert-chain.pem, key.pem,
 * root-cert.pem), issued by a Trellis CA the way a workload gets them: a key and CSR made
 * locally, the CSR signed by the CA.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import type { CertificateAuthority } from '../../../src/ca/authority.js';
import { spiffeId } from '../../../src/ca/identity.js';
import { generateKeyAndCsr } from '../../../src/ca/workload.js';

export interface WorkloadCerts {
  dir: string;
  /** The SPIFFE identity in the certificate's URI SAN. */
  spiffe: string;
}

export async function writeWorkloadCerts(
  ca: CertificateAuthority,
  dir: string,
  identity: { namespace: string; serviceAccount: string },
  /** Whose roots go into root-cert.pem; default `ca`'s (a workload of another mesh trusting ours: another CA). */
  trust: CertificateAuthority = ca,
  ttlSeconds?: number,
): Promise<WorkloadCerts> {
  await mkdir(dir, { recursive: true });
  const { privateKeyPem, csrPem } = await generateKeyAndCsr({ identity });
  const signed = await ca.signCsr(csrPem, { identity, ...(ttlSeconds === undefined ? {} : { ttlSeconds }) });
  await writeFile(`${dir}/cert-chain.pem`, signed.certChainPem.join(''));
  await writeFile(`${dir}/key.pem`, privateKeyPem, { mode: 0o600 });
  await writeFile(`${dir}/root-cert.pem`, trust.trustBundle().join(''));
  return { dir, spiffe: spiffeId(identity) };
}
