/**
 * The one place that loads @peculiar/x509 (which needs the reflect-metadata polyfill) and
 * points it at Node's WebCrypto, plus the key algorithm the CA and the workload side share.
 * CA certificates and CSRs are built with it; leaves with its schema types (leaf.ts);
 * node:crypto's X509Certificate reads and checks.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

export { x509 };
export const subtle = webcrypto.subtle;
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** ECDSA P-256 with SHA-256: the default for every key the CA and workloads generate. */
export const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export async function generateP256(): Promise<{ keys: webcrypto.CryptoKeyPair; privateKeyPem: string }> {
  const keys = await subtle.generateKey(EC_P256, true, ['sign', 'verify']);
  const pkcs8 = await subtle.exportKey('pkcs8', keys.privateKey);
  return { keys, privateKeyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}

/** A positive, random 128-bit serial number (RFC 5280: at most 20 octets, positive, non-zero). */
export function randomSerial(): Uint8Array {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = ((bytes[0] as number) & 0x7f) | 0x01;
  return bytes;
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}
