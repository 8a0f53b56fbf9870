/**
 * Reading a workload's PKCS#10 CSR: parsed with @peculiar/asn1-csr, its signature checked with
 * node:crypto over the request's original bytes. Only the public key is used afterwards.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificationRequest } from '@peculiar/asn1-csr';
import type { SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { TrellisError } from '../core/errors.js';
import { x509 } from './x509.js';

/** Signature algorithm OIDs a CSR may use, and the hash node:crypto verifies them with. */
const CSR_SIGNATURES: Record<string, string> = {
  '1.2.840.10045.4.3.2': 'sha256', // ecdsa-with-SHA256
  '1.2.840.10045.4.3.3': 'sha384', // ecdsa-with-SHA384
  '1.2.840.113549.1.1.11': 'sha256', // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
};

function bad(message: string, cause?: unknown): TrellisError {
  return new TrellisError('TRELLIS_INVALID_ARGUMENT', message, { path: 'csr', cause });
}

/**
 * The public key of a CSR whose signature verifies with that key (the caller holds the private
 * key). Refuses anything else with TRELLIS_INVALID_ARGUMENT, or TRELLIS_UNSUPPORTED for a
 * signature algorithm outside ECDSA and RSA PKCS#1 v1.5 with SHA-2.
 */
export function verifiedCsrKey(csrPem: string): SubjectPublicKeyInfo {
  let req: CertificationRequest;
  try {
    req = AsnConvert.parse(x509.PemConverter.decodeFirst(csrPem), CertificationRequest);
  } catch (err) {
    throw bad('the CSR is not a PEM PKCS#10 certificate request', err);
  }
  const hash = CSR_SIGNATURES[req.signatureAlgorithm.algorithm];
  if (hash === undefined)
    throw new TrellisError(
      'TRELLIS_UNSUPPORTED',
      `the CSR's signature algorithm ${req.signatureAlgorithm.algorithm} is not supported (ECDSA or RSA with SHA-2)`,
      { path: 'csr' },
    );
  const info = req.certificationRequestInfo;
  const spki = info.subjectPKInfo;
  let ok = false;
  let weak: string | undefined;
  try {
    const key = createPublicKey({
      key: Buffer.from(AsnConvert.serialize(spki)),
      format: 'der',
      type: 'spki',
    });
    weak = weakness(key);
    const tbs = req.certificationRequestInfoRaw ?? AsnConvert.serialize(info);
    ok = verify(hash, Buffer.from(tbs), key, Buffer.from(req.signature));
  } catch (err) {
    throw bad(
      `the CSR's public key or signature cannot be read (${err instanceof Error ? err.message : String(err)})`,
      err,
    );
  }
  if (!ok) throw bad("the CSR's signature does not verify with its public key");
  if (weak !== undefined) throw bad(weak);
  return spki;
}

/** Keys the CA will not certify: RSA under 2048 bits, elliptic curves other than P-256/P-384. */
function weakness(key: KeyObject): string | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) < 2048)
    return `the CSR's RSA key has ${details.modulusLength ?? 0} bits; at least 2048 are required`;
  if (key.asymmetricKeyType === 'ec' && !['prime256v1', 'secp384r1'].includes(details.namedCurve ?? ''))
    return `the CSR's curve ${details.namedCurve ?? '?'} is not supported (P-256 or P-384)`;
  if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'ec')
    return `the CSR's ${key.asymmetricKeyType ?? '?'} key is not supported (ECDSA or RSA)`;
  return undefined;
}
