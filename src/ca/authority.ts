/**
 * The mesh's certificate authority: a root and a per-cluster intermediate it signs (or a CA
 * plugged in from files in Istio's layout), issuing workload certificates from CSRs.
 *
 * The CA decides the identity: the SPIFFE URI SAN comes from the caller's (later: the
 * authenticated) identity, never from the CSR, whose only contribution is its public key.
 */
import { X509Certificate, createPrivateKey, type webcrypto } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { systemClock, type Clock } from '../core/clock.js';
import { TrellisError } from '../core/errors.js';
import { keyPairError, parseCertificates, parsePrivateKey } from '../core/pem.js';
import { spiffeId, type WorkloadIdentity } from './identity.js';
import { verifiedCsrKey } from './csr.js';
import { LeafSigner } from './leaf.js';
import { generateP256, hex, randomSerial, x509 } from './x509.js';

const DAY = 86_400;
const YEAR = 365 * DAY;

export interface CertificateAuthorityOptions {
  /** Trust domain of the identities it issues and of its names. Default `cluster.local`. */
  trustDomain?: string;
  /** Names the intermediate (`Trellis Intermediate CA <clusterId>`). Default `Kubernetes`. */
  clusterId?: string;
  /** Self-provisioned root lifetime. Default 10 years. */
  rootTtlSeconds?: number;
  /** Self-provisioned intermediate lifetime. Default 1 year. */
  intermediateTtlSeconds?: number;
  /** Workload certificate lifetime when a request names none. Default 24 h. */
  workloadTtlSeconds?: number;
  /** Longest workload lifetime a request may ask for. Default 90 days (Istio's default). */
  maxWorkloadTtlSeconds?: number;
  /** How far back notBefore is set for clock skew; at most a tenth of the lifetime. Default 5 min. */
  clockSkewSeconds?: number;
  /** wallNow() dates the certificates. Default the system clock. */
  clock?: Pick<Clock, 'wallNow'>;
}

export interface SignOptions {
  identity: WorkloadIdentity;
  /** Default the CA's workloadTtlSeconds. */
  ttlSeconds?: number;
}

export interface SignedChain {
  /** Leaf first, then the intermediates up to (not including) the root. */
  certChainPem: string[];
  /** The root the chain ends at. */
  rootPem: string;
}

/** The four files of Istio's plug-in CA layout (`istio-system/cacerts`). */
export const PLUGIN_FILES = {
  caCert: 'ca-cert.pem',
  caKey: 'ca-key.pem',
  rootCert: 'root-cert.pem',
  certChain: 'cert-chain.pem',
} as const;

interface Signer {
  leaf: LeafSigner;
  /** The issuing CA certificate. */
  cert: x509.X509Certificate;
  /** PEMs of the issuing CA and any intermediates above it, root excluded. */
  chainPem: string[];
  rootPem: string;
}

function pemOf(cert: X509Certificate): string {
  return cert.toString().trim() + '\n';
}

function invalid(file: string, message: string): TrellisError {
  return new TrellisError('TRELLIS_INVALID_CONFIG', message, { file });
}

async function authorityKeyId(cert: x509.X509Certificate): Promise<x509.Extension> {
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  if (ski !== null) return new x509.AuthorityKeyIdentifierExtension(ski.keyId);
  return x509.AuthorityKeyIdentifierExtension.create(cert.publicKey);
}

export class CertificateAuthority {
  readonly trustDomain: string;
  private readonly signer: Signer;
  private readonly roots: string[];
  private readonly clock: Pick<Clock, 'wallNow'>;
  private readonly workloadTtl: number;
  private readonly maxWorkloadTtl: number;
  private readonly skew: number;

  private constructor(signer: Signer, roots: string[], options: CertificateAuthorityOptions) {
    this.signer = signer;
    this.roots = roots;
    this.trustDomain = options.trustDomain ?? 'cluster.local';
    this.clock = options.clock ?? systemClock;
    this.workloadTtl = options.workloadTtlSeconds ?? DAY;
    this.maxWorkloadTtl = options.maxWorkloadTtlSeconds ?? 90 * DAY;
    this.skew = options.clockSkewSeconds ?? 300;
  }

  /** A fresh root (10 y) and an intermediate signed by it (1 y), ECDSA P-256, in memory. */
  static async create(options: CertificateAuthorityOptions = {}): Promise<CertificateAuthority> {
    const td = options.trustDomain ?? 'cluster.local';
    spiffeId({ trustDomain: td, namespace: 'x', serviceAccount: 'x' }); // validates td
    const now = (options.clock ?? systemClock).wallNow();
    const skewMs = (options.clockSkewSeconds ?? 300) * 1000;
    const notBefore = new Date(now - skewMs);
    const rootTtl = options.rootTtlSeconds ?? 10 * YEAR;
    const interTtl = Math.min(options.intermediateTtlSeconds ?? YEAR, rootTtl);

    const root = await generateP256();
    const rootCert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: hex(randomSerial()),
      name: [{ O: [td] }, { CN: ['Trellis Root CA'] }],
      notBefore,
      notAfter: new Date(now + rootTtl * 1000),
      keys: root.keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(root.keys.publicKey),
      ],
    });

    const inter = await generateP256();
    const interCert = await x509.X509CertificateGenerator.create({
      serialNumber: hex(randomSerial()),
      subject: [{ O: [td] }, { CN: [`Trellis Intermediate CA ${options.clusterId ?? 'Kubernetes'}`] }],
      issuer: rootCert.subjectName,
      notBefore,
      notAfter: new Date(now + interTtl * 1000),
      publicKey: inter.keys.publicKey,
      signingKey: root.keys.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(inter.keys.publicKey),
        await authorityKeyId(rootCert),
      ],
    });

    const interPem = interCert.toString('pem') + '\n';
    const rootPem = rootCert.toString('pem') + '\n';
    const ca = new CertificateAuthority(
      {
        leaf: new LeafSigner(
          interCert,
          createPrivateKey(inter.privateKeyPem),
          await authorityKeyId(interCert),
        ),
        cert: interCert,
        chainPem: [interPem],
        rootPem,
      },
      [rootPem],
      options,
    );
    ca.intermediateKeyPem = inter.privateKeyPem;
    return ca;
  }

  /**
   * A CA plugged in from `dir` in Istio's layout: ca-cert.pem (the issuing CA), ca-key.pem (its
   * key), cert-chain.pem (ca-cert and the intermediates above it, optionally ending at the root)
   * and root-cert.pem (the root, or several roots during a rotation). The key must match
   * ca-cert, ca-cert must be a CA, and cert-chain must lead from ca-cert to a root in
   * root-cert; otherwise a TrellisError names the file and the reason.
   */
  static async fromPluginDirectory(
    dir: string,
    options: CertificateAuthorityOptions = {},
  ): Promise<CertificateAuthority> {
    const read = async (name: string): Promise<{ file: string; text: string }> => {
      const file = path.join(dir, name);
      try {
        return { file, text: await fs.readFile(file, 'utf8') };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT')
          throw new TrellisError('TRELLIS_NOT_FOUND', `the plug-in CA file ${name} is missing`, { file });
        throw new TrellisError('TRELLIS_IO', `cannot read ${name}: ${code ?? String(err)}`, {
          file,
          cause: err,
        });
      }
    };
    const certsOf = (f: { file: string; text: string }): X509Certificate[] => {
      const r = parseCertificates(f.text);
      if (!r.ok) throw invalid(f.file, r.error);
      return r.value;
    };
    const caCertFile = await read(PLUGIN_FILES.caCert);
    const caKeyFile = await read(PLUGIN_FILES.caKey);
    const rootFile = await read(PLUGIN_FILES.rootCert);
    const chainFile = await read(PLUGIN_FILES.certChain);

    const caCerts = certsOf(caCertFile);
    const caCert = caCerts[0] as X509Certificate;
    if (caCerts.length !== 1)
      throw invalid(caCertFile.file, `holds ${caCerts.length} certificates; expected only the issuing CA's`);
    if (!caCert.ca)
      throw invalid(caCertFile.file, 'the certificate is not a CA (basicConstraints CA:FALSE or absent)');
    const key = parsePrivateKey(caKeyFile.text);
    if (!key.ok) throw invalid(caKeyFile.file, key.error);
    const mismatch = keyPairError(caCert, key.value);
    if (mismatch !== undefined) throw invalid(caKeyFile.file, `${mismatch} in ${PLUGIN_FILES.caCert}`);

    const roots = certsOf(rootFile);
    const chain = certsOf(chainFile);
    if (chain[0]?.fingerprint256 !== caCert.fingerprint256)
      throw invalid(chainFile.file, `the first certificate must be ${PLUGIN_FILES.caCert}`);
    for (let i = 0; i + 1 < chain.length; i++) {
      const [child, parent] = [chain[i] as X509Certificate, chain[i + 1] as X509Certificate];
      if (!child.checkIssued(parent) || !child.verify(parent.publicKey))
        throw invalid(chainFile.file, `certificate ${i + 1} is not signed by certificate ${i + 2}`);
    }
    const last = chain[chain.length - 1] as X509Certificate;
    const isRoot = (c: X509Certificate) => roots.some((r) => r.fingerprint256 === c.fingerprint256);
    const root = isRoot(last) ? last : roots.find((r) => last.checkIssued(r) && last.verify(r.publicKey));
    if (root === undefined)
      throw invalid(
        chainFile.file,
        `${PLUGIN_FILES.caCert} does not chain to a root in ${PLUGIN_FILES.rootCert} (${last.issuer.replace(/\n/g, ', ')} not found there)`,
      );
    const now = (options.clock ?? systemClock).wallNow();
    if (Date.parse(caCert.validTo) <= now)
      throw invalid(caCertFile.file, `the issuing CA certificate expired on ${caCert.validTo}`);

    const cert = new x509.X509Certificate(caCert.raw);
    return new CertificateAuthority(
      {
        leaf: new LeafSigner(cert, key.value, await authorityKeyId(cert), caKeyFile.file),
        cert,
        chainPem: chain.filter((c) => !isRoot(c)).map(pemOf),
        rootPem: pemOf(root),
      },
      // The root this CA chains to first, then the others of root-cert.pem (old or new roots).
      [pemOf(root), ...roots.filter((r) => r.fingerprint256 !== root.fingerprint256).map(pemOf)],
      options,
    );
  }

  /** Only for a self-provisioned CA, for `writePluginDirectory`. */
  private intermediateKeyPem: string | undefined;

  /**
   * Writes this self-provisioned CA in Istio's plug-in layout (the key file mode 0600), so it
   * can be loaded again with `fromPluginDirectory`.
   */
  async writePluginDirectory(dir: string): Promise<void> {
    if (this.intermediateKeyPem === undefined)
      throw new TrellisError('TRELLIS_UNSUPPORTED', 'only a self-provisioned CA can be written out');
    await fs.mkdir(dir, { recursive: true });
    const w = (name: string, text: string, mode = 0o644) =>
      fs.writeFile(path.join(dir, name), text, { mode });
    await w(PLUGIN_FILES.caCert, this.signer.chainPem[0] as string);
    await w(PLUGIN_FILES.caKey, this.intermediateKeyPem, 0o600);
    await w(PLUGIN_FILES.rootCert, this.roots.join(''));
    await w(PLUGIN_FILES.certChain, [...this.signer.chainPem, this.signer.rootPem].join(''));
  }

  /** The issuing CA certificate (the intermediate). */
  get issuerPem(): string {
    return this.signer.chainPem[0] as string;
  }

  /** Every root workloads should trust: the current one first, then old or new ones kept for rotation. */
  trustBundle(): string[] {
    return [...this.roots];
  }

  /** Adds a root to the trust bundle (e.g. the next root, before switching to it). Idempotent. */
  addTrustedRoot(pem: string): void {
    const r = parseCertificates(pem);
    if (!r.ok) throw new TrellisError('TRELLIS_INVALID_ARGUMENT', `trusted root: ${r.error}`);
    for (const c of r.value) {
      const p = pemOf(c);
      if (!this.roots.includes(p)) this.roots.push(p);
    }
  }

  /**
   * Signs a workload certificate for `options.identity` with the CSR's public key. The CSR's
   * signature must verify (proof the caller holds the key); its subject and SANs are ignored.
   */
  async signCsr(csrPem: string, options: SignOptions): Promise<SignedChain> {
    // The CA names identities in its own trust domain only: a certificate for another domain
    // would let a workload pass for one that other meshes' policies trust.
    const asked = options.identity.trustDomain;
    if (asked !== undefined && asked !== this.trustDomain)
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `identity.trustDomain ${JSON.stringify(asked)} is not this CA's trust domain ${JSON.stringify(this.trustDomain)}`,
        { path: 'identity.trustDomain' },
      );
    const uri = spiffeId({ ...options.identity, trustDomain: this.trustDomain });
    const ttl = options.ttlSeconds ?? this.workloadTtl;
    if (!Number.isFinite(ttl) || ttl <= 0)
      throw new TrellisError('TRELLIS_INVALID_ARGUMENT', `ttlSeconds must be a positive number, got ${ttl}`, {
        path: 'ttlSeconds',
      });
    if (ttl > this.maxWorkloadTtl)
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `ttlSeconds ${ttl} is longer than the CA allows (${this.maxWorkloadTtl})`,
        { path: 'ttlSeconds' },
      );

    const spki = verifiedCsrKey(csrPem);

    const now = this.clock.wallNow();
    const backdate = Math.min(this.skew, ttl / 10) * 1000;
    const issuerFrom = this.signer.cert.notBefore.getTime();
    const issuerTo = this.signer.cert.notAfter.getTime();
    const notBefore = new Date(Math.max(now - backdate, issuerFrom));
    const notAfter = new Date(Math.min(now + ttl * 1000, issuerTo));
    if (notAfter.getTime() <= now)
      throw new TrellisError(
        'TRELLIS_INTERNAL',
        'the issuing CA certificate has expired; rotate the intermediate',
      );

    const leaf = this.signer.leaf.sign(spki, uri, randomSerial(), notBefore, notAfter);
    return { certChainPem: [leaf, ...this.signer.chainPem], rootPem: this.signer.rootPem };
  }
}
