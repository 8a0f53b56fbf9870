/**
 * Test certificates made with node:crypto alone (imported by tests only): node can parse and
 * verify X.509 but not issue it, so this builds the DER of a TBSCertificate by hand (a few
 * ASN.1 types are all a certificate needs) and signs it. ECDSA P-256 keys by default (fast to
 * generate); RSA on request, so both key types are exercised.
 *
 *   const ca = issueCertificate({ commonName: 'test CA', ca: true });
 *   const leaf = issueCertificate({ commonName: 'shop', dnsNames: ['shop.example.com'], issuer: ca });
 *   leaf.certPem, leaf.keyPem, ca.certPem
 */
import { createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

export interface TestCertificate {
  certPem: string;
  keyPem: string;
  key: KeyObject;
  commonName: string;
}

export interface CertificateOptions {
  commonName: string;
  /** subjectAltName DNS names. */
  dnsNames?: readonly string[];
  /** subjectAltName IP addresses (IPv4). */
  ipAddresses?: readonly string[];
  /** A CA certificate (basicConstraints CA:TRUE, keyCertSign). */
  ca?: boolean;
  /** Signs with this CA; self-signed when absent. */
  issuer?: TestCertificate;
  keyType?: 'ec' | 'rsa';
  notBefore?: Date;
  notAfter?: Date;
}

// ---- DER ----

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
}

const seq = (...c: Buffer[]) => tlv(0x30, ...c);
const set = (...c: Buffer[]) => tlv(0x31, ...c);
const explicit = (n: number, ...c: Buffer[]) => tlv(0xa0 + n, ...c);

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const bytes = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [];
    for (let v = p; ; v = Math.floor(v / 128)) {
      chunk.unshift((v & 0x7f) | (chunk.length > 0 ? 0x80 : 0));
      if (v < 128) break;
    }
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

function integer(bytes: Buffer): Buffer {
  // Positive: a leading 1 bit needs a zero byte in front.
  return tlv(0x02, (bytes[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

function time(d: Date): Buffer {
  const iso = d.toISOString();
  const year = d.getUTCFullYear();
  const digits = iso.slice(0, 19).replace(/[-:T]/g, '');
  // UTCTime until 2049, GeneralizedTime after (RFC 5280 4.1.2.5).
  return year < 2050 ? tlv(0x17, Buffer.from(`${digits.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${digits}Z`));
}

function name(commonName: string): Buffer {
  return seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(commonName, 'utf8')))));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [tlv(0x01, Buffer.from([0xff]))] : []), tlv(0x04, value));
}

function subjectAltName(dns: readonly string[], ips: readonly string[]): Buffer {
  const names = [
    ...dns.map((d) => tlv(0x82, Buffer.from(d, 'ascii'))),
    ...ips.map((ip) => tlv(0x87, Buffer.from(ip.split('.').map(Number)))),
  ];
  return seq(...names);
}

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
const RSA_SHA256 = seq(oid('1.2.840.113549.1.1.11'), tlv(0x05, Buffer.alloc(0)));

function algorithmFor(key: KeyObject): Buffer {
  return key.asymmetricKeyType === 'rsa' ? RSA_SHA256 : ECDSA_SHA256;
}

function pem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

/** A new key pair and a certificate for it, self-signed or signed by `issuer`. */
export function issueCertificate(o: CertificateOptions): TestCertificate {
  const { privateKey } =
    o.keyType === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const signer = o.issuer?.key ?? privateKey;
  const issuerName = o.issuer?.commonName ?? o.commonName;
  const notBefore = o.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = o.notAfter ?? new Date(Date.now() + 24 * 3600_000);
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const serial = randomBytes(12);
  // Positive and minimal in DER: no leading zero byte, top bit clear.
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  const extensions: Buffer[] = [
    extension('2.5.29.19', true, o.ca === true ? seq(tlv(0x01, Buffer.from([0xff]))) : seq()),
    // keyUsage: keyCertSign + cRLSign for a CA; digitalSignature + keyEncipherment otherwise.
    extension(
      '2.5.29.15',
      true,
      tlv(0x03, o.ca === true ? Buffer.from([0x01, 0x06]) : Buffer.from([0x05, 0xa0])),
    ),
  ];
  const dns = o.dnsNames ?? [];
  const ips = o.ipAddresses ?? [];
  if (dns.length + ips.length > 0) extensions.push(extension('2.5.29.17', false, subjectAltName(dns, ips)));
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    algorithmFor(signer),
    name(issuerName),
    seq(time(notBefore), time(notAfter)),
    name(o.commonName),
    spki,
    explicit(3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, signer);
  const der = seq(tbs, algorithmFor(signer), tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  return {
    certPem: pem('CERTIFICATE', der),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    key: privateKey,
    commonName: o.commonName,
  };
}
