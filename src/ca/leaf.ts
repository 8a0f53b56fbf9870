/**
 * Workload (leaf) certificates, built with @peculiar/asn1-x509's schema types and signed with
 * node:crypto. The CA certificates are few and made with @peculiar/x509's generator; leaves are
 * many, and this path skips the generator's re-parsing of every part (about 5x faster), which
 * is what lets one CA issue thousands per second.
 */
import { sign, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  Certificate,
  Extension,
  Extensions,
  GeneralName,
  Name,
  SubjectAlternativeName,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
  id_ce_subjectAltName,
} from '@peculiar/asn1-x509';
import { OctetString } from '@peculiar/asn1-schema';
import { TrellisError } from '../core/errors.js';
import { x509 } from './x509.js';

/** What a CA key signs with: the certificate's AlgorithmIdentifier and node:crypto's hash. */
function signatureAlgorithm(key: KeyObject, file?: string): { id: AlgorithmIdentifier; hash: string } {
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1')
      return { id: new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' }), hash: 'sha256' };
    if (curve === 'secp384r1')
      return { id: new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.3' }), hash: 'sha384' };
    throw new TrellisError(
      'TRELLIS_UNSUPPORTED',
      `EC curve ${curve ?? '?'} is not supported (P-256 or P-384)`,
      {
        file,
      },
    );
  }
  if (key.asymmetricKeyType === 'rsa')
    // sha256WithRSAEncryption, parameters NULL (RFC 4055).
    return {
      id: new AlgorithmIdentifier({ algorithm: '1.2.840.113549.1.1.11', parameters: null }),
      hash: 'sha256',
    };
  throw new TrellisError(
    'TRELLIS_UNSUPPORTED',
    `${key.asymmetricKeyType ?? 'unknown'} CA keys are not supported (ECDSA P-256/P-384 or RSA)`,
    { file },
  );
}

function asnExtension(ext: x509.Extension): Extension {
  return AsnConvert.parse(ext.rawData, Extension);
}

export class LeafSigner {
  private readonly issuer: Name;
  private readonly alg: { id: AlgorithmIdentifier; hash: string };
  private readonly fixed: Extension[];

  /** `aki` is the AuthorityKeyIdentifier of the issuing certificate. */
  constructor(
    issuerCert: x509.X509Certificate,
    private readonly key: KeyObject,
    aki: x509.Extension,
    file?: string,
  ) {
    this.issuer = AsnConvert.parse(issuerCert.subjectName.toArrayBuffer(), Name);
    this.alg = signatureAlgorithm(key, file);
    this.fixed = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      aki,
    ].map(asnExtension);
  }

  /** A PEM certificate with an empty subject and `uri` as its only (critical) SAN. */
  sign(spki: SubjectPublicKeyInfo, uri: string, serial: Uint8Array, notBefore: Date, notAfter: Date): string {
    return this.signNames(spki, { uris: [uri] }, serial, notBefore, notAfter);
  }

  /** The same with any URI, DNS and IP SANs (the control plane's own serving certificate). */
  signNames(
    spki: SubjectPublicKeyInfo,
    names: { uris?: readonly string[]; dnsNames?: readonly string[]; ipAddresses?: readonly string[] },
    serial: Uint8Array,
    notBefore: Date,
    notAfter: Date,
  ): string {
    const general = [
      ...(names.uris ?? []).map((uri) => new GeneralName({ uniformResourceIdentifier: uri })),
      ...(names.dnsNames ?? []).map((dNSName) => new GeneralName({ dNSName })),
      ...(names.ipAddresses ?? []).map((iPAddress) => new GeneralName({ iPAddress })),
    ];
    const san = new Extension({
      extnID: id_ce_subjectAltName,
      // Critical: the subject is empty, so the SAN is the certificate's only name (RFC 5280 4.2.1.6).
      critical: true,
      extnValue: new OctetString(AsnConvert.serialize(new SubjectAlternativeName(general))),
    });
    const tbs = new TBSCertificate({
      version: Version.v3,
      serialNumber: serial.buffer.slice(
        serial.byteOffset,
        serial.byteOffset + serial.byteLength,
      ) as ArrayBuffer,
      signature: this.alg.id,
      issuer: this.issuer,
      validity: new Validity({ notBefore, notAfter }),
      subject: new Name(),
      subjectPublicKeyInfo: spki,
      extensions: new Extensions([...this.fixed, san]),
    });
    const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
    const signature = sign(this.alg.hash, tbsDer, this.key);
    const cert = new Certificate({
      tbsCertificate: tbs,
      signatureAlgorithm: this.alg.id,
      signatureValue: signature.buffer.slice(signature.byteOffset, signature.byteOffset + signature.length),
    });
    return x509.PemConverter.encode(AsnConvert.serialize(cert), 'CERTIFICATE') + '\n';
  }
}
