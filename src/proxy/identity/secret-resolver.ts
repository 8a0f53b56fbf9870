/**
 * Resolves the SDS secrets TLS contexts name: `ads` ones from the snapshot (secrets received over
 * ADS), `workload` ones (`default`, `ROOTCA`) from the workload certificate source, which is
 * where a rotation shows up. The SecretConfig for a given workload certificate is built once, so
 * consumers can tell "changed" by identity (snapshots are immutable, and so are these).
 */
import { X509Certificate } from 'node:crypto';
import type { ProxyConfigSnapshot, SecretConfig, SecretRef } from '../model/config.js';
import type { WorkloadCertificate, WorkloadCertificateSource } from './workload-certificate.js';

interface WorkloadSecrets {
  default: SecretConfig;
  ROOTCA: SecretConfig;
}

export class SecretResolver {
  private readonly built = new WeakMap<WorkloadCertificate, WorkloadSecrets>();

  constructor(
    private readonly snapshot: () => ProxyConfigSnapshot,
    readonly workload: WorkloadCertificateSource | undefined,
  ) {}

  get(ref: SecretRef): SecretConfig | undefined {
    if (ref.source === 'ads') return this.snapshot().secrets.get(ref.name);
    const cert = this.workload?.current();
    if (cert === undefined) return undefined;
    let secrets = this.built.get(cert);
    if (secrets === undefined) {
      secrets = workloadSecrets(cert);
      this.built.set(cert, secrets);
    }
    return ref.name === 'default' ? secrets.default : ref.name === 'ROOTCA' ? secrets.ROOTCA : undefined;
  }

  /** Called when the workload certificate or trust bundle changes. Returns an unsubscribe. */
  onWorkloadChange(fn: () => void): () => void {
    return this.workload?.onChange(() => fn()) ?? (() => undefined);
  }
}

function workloadSecrets(cert: WorkloadCertificate): WorkloadSecrets {
  return {
    default: Object.freeze({
      kind: 'tls_certificate',
      name: 'default',
      certificateChain: cert.certChainPem,
      privateKey: cert.privateKeyPem,
    }),
    ROOTCA: Object.freeze({ kind: 'validation_context', name: 'ROOTCA', trustedCa: cert.rootCertsPem }),
  };
}

/** Node's `subjectaltname`: `DNS:a, URI:spiffe://x, IP Address:1.2.3.4`, values with `,` quoted. */
export function subjectAltNames(text: string | undefined): { type: string; value: string }[] {
  const out: { type: string; value: string }[] = [];
  for (const m of (text ?? '').matchAll(/([A-Za-z][A-Za-z ]*):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g)) {
    const raw = m[2]!;
    let value = raw;
    if (raw.startsWith('"')) {
      try {
        value = JSON.parse(raw) as string;
      } catch {
        value = raw.slice(1, -1);
      }
    }
    out.push({ type: m[1]!, value });
  }
  return out;
}

/** The certificate's URI SANs, comma-joined as Envoy prints them; undefined when none. */
export function uriSans(cert: X509Certificate): string | undefined {
  const uris = subjectAltNames(cert.subjectAltName).filter((n) => n.type === 'URI');
  return uris.length > 0 ? uris.map((n) => n.value).join(',') : undefined;
}

/**
 * Envoy's principal for a peer certificate (RBAC `authenticated.principal_name`): the first URI
 * SAN, else the first DNS SAN, else the subject in RFC 2253 order (`CN=client,O=example`).
 */
export function principalOf(cert: X509Certificate): string {
  const names = subjectAltNames(cert.subjectAltName);
  const uri = names.find((n) => n.type === 'URI');
  if (uri !== undefined) return uri.value;
  const dns = names.find((n) => n.type === 'DNS');
  if (dns !== undefined) return dns.value;
  return subjectOf(cert);
}

/** The subject in RFC 2253 order, as Envoy prints it: `CN=client,O=example`. */
export function subjectOf(cert: X509Certificate): string {
  // An empty subject (SPIFFE certificates may have none) reads as undefined despite its type.
  return ((cert.subject as string | undefined) ?? '').split('\n').filter(Boolean).reverse().join(',');
}

/** The leaf (first certificate) of a PEM chain, parsed; undefined when it does not parse. */
export function leafOf(chainPem: string): X509Certificate | undefined {
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(chainPem);
  if (m === null) return undefined;
  try {
    return new X509Certificate(m[0]);
  } catch {
    return undefined;
  }
}
