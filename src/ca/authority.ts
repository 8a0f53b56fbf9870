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
import { generateP256, hex, randomSerial, subtle, x509 } from './x509.js';

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

/** The self-provisioned root's certificate and key, kept so the intermediate can be re-issued. */
interface RootKey {
  cert: x509.X509Certificate;
  key: webcrypto.CryptoKey;
  pem: string;
}

/**
 * The self-provisioned root's key, kept beside Istio's plug-in files (which have no place for
 * it) so the control plane can re-issue its intermediate before it expires.
 */
export const ROOT_KEY_FILE = 'root-key.pem';

/**
 * Istio re-issues its self-signed CA when less than this share of its life is left
 * (CITADEL_SELF_SIGNED_ROOT_CERT_GRACE_PERIOD_PERCENTILE, 20%); the intermediate follows the
 * same rule, so workload certificates (capped by the intermediate's notAfter) never shrink to
 * nothing.
 */
export const INTERMEDIATE_GRACE = 0.2;

/** A fresh intermediate signed by `root`: lifetime the option (1 y) capped by the root's. */
async function issueIntermediate(
  root: RootKey,
  options: CertificateAuthorityOptions,
  now: number,
): Promise<{ signer: Signer; keyPem: string }> {
  const td = options.trustDomain ?? 'cluster.local';
  const skewMs = (options.clockSkewSeconds ?? 300) * 1000;
  const rootEnd = root.cert.notAfter.getTime();
  const notAfter = Math.min(now + (options.intermediateTtlSeconds ?? YEAR) * 1000, rootEnd);
  if (notAfter <= now)
    throw new TrellisError(
      'TRELLIS_INTERNAL',
      `the root CA certificate expired on ${root.cert.notAfter.toISOString()}; make a new root (see the rotation steps in docs/ARCHITECTURE.md)`,
    );
  const inter = await generateP256();
  const interCert = await x509.X509CertificateGenerator.create({
    serialNumber: hex(randomSerial()),
    subject: [{ O: [td] }, { CN: [`Trellis Intermediate CA ${options.clusterId ?? 'Kubernetes'}`] }],
    issuer: root.cert.subjectName,
    notBefore: new Date(Math.max(now - skewMs, root.cert.notBefore.getTime())),
    notAfter: new Date(notAfter),
    publicKey: inter.keys.publicKey,
    signingKey: root.key,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(inter.keys.publicKey),
      await authorityKeyId(root.cert),
    ],
  });
  return {
    signer: {
      leaf: new LeafSigner(interCert, createPrivateKey(inter.privateKeyPem), await authorityKeyId(interCert)),
      cert: interCert,
      chainPem: [interCert.toString('pem') + '\n'],
      rootPem: root.cert.toString('pem') + '\n',
    },
    keyPem: inter.privateKeyPem,
  };
}

export class CertificateAuthority {
  readonly trustDomain: string;
  private signer: Signer;
  private readonly options: CertificateAuthorityOptions;
  /** Only for a self-provisioned CA whose root key is at hand: re-issues the intermediate. */
  private rootKey: RootKey | undefined;
  /** Where a re-issued intermediate is written (writePluginDirectory's directory). */
  private keptIn: string | undefined;
  private renewing: Promise<void> | undefined;
  private readonly roots: string[];
  private readonly clock: Pick<Clock, 'wallNow'>;
  private readonly workloadTtl: number;
  private readonly maxWorkloadTtl: number;
  private readonly skew: number;

  private constructor(signer: Signer, roots: string[], options: CertificateAuthorityOptions) {
    this.signer = signer;
    this.roots = roots;
    this.options = options;
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
    const rootTtl = options.rootTtlSeconds ?? 10 * YEAR;

    const root = await generateP256();
    const rootCert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: hex(randomSerial()),
      name: [{ O: [td] }, { CN: ['Trellis Root CA'] }],
      notBefore: new Date(now - skewMs),
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
    const rootKey: RootKey = { cert: rootCert, key: root.keys.privateKey, pem: root.privateKeyPem };
    const issued = await issueIntermediate(rootKey, options, now);
    const rootPem = rootCert.toString('pem') + '\n';
    const ca = new CertificateAuthority(issued.signer, [rootPem], options);
    ca.intermediateKeyPem = issued.keyPem;
    ca.rootKey = rootKey;
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
    if (this.rootKey !== undefined) await w(ROOT_KEY_FILE, this.rootKey.pem, 0o600);
    this.keptIn = dir;
  }

  /**
   * A self-provisioned CA written by `writePluginDirectory`: the plug-in files, and the root's key
   * when `root-key.pem` is there (older state directories lack it: such a CA signs until its
   * intermediate expires and cannot re-issue it). A key that does not match the root is an error
   * naming the file.
   */
  static async fromStateDirectory(
    dir: string,
    options: CertificateAuthorityOptions = {},
  ): Promise<CertificateAuthority> {
    const ca = await CertificateAuthority.fromPluginDirectory(dir, options);
    ca.keptIn = dir;
    const file = path.join(dir, ROOT_KEY_FILE);
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return ca;
      throw new TrellisError('TRELLIS_IO', `cannot read ${ROOT_KEY_FILE}: ${String(err)}`, {
        file,
        cause: err,
      });
    }
    const key = parsePrivateKey(text);
    if (!key.ok) throw invalid(file, key.error);
    const rootCert = new X509Certificate(ca.signer.rootPem);
    const mismatch = keyPairError(rootCert, key.value);
    if (mismatch !== undefined) throw invalid(file, `${mismatch} in the root of ${PLUGIN_FILES.rootCert}`);
    const der = key.value.export({ type: 'pkcs8', format: 'der' });
    ca.rootKey = {
      cert: new x509.X509Certificate(rootCert.raw),
      key: await subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign']),
      pem: text,
    };
    ca.intermediateKeyPem = await fs.readFile(path.join(dir, PLUGIN_FILES.caKey), 'utf8');
    return ca;
  }

  /** When the intermediate is re-issued: once less than INTERMEDIATE_GRACE of its life is left. */
  get intermediateRenewAt(): Date {
    const from = this.signer.cert.notBefore.getTime();
    const to = this.signer.cert.notAfter.getTime();
    return new Date(to - (to - from) * INTERMEDIATE_GRACE);
  }

  /**
   * Re-issues the intermediate from the kept root key when it is due (or `force`), and writes
   * the new one where the CA is kept. Returns whether it did. Without the root key (a plug-in CA,
   * or a state directory from before the key was kept) it does nothing: a plug-in CA's operator
   * rotates its files.
   */
  async renewIntermediate(force = false): Promise<boolean> {
    if (this.rootKey === undefined) return false;
    const now = this.clock.wallNow();
    if (!force && now < this.intermediateRenewAt.getTime()) return false;
    if (this.renewing === undefined) {
      this.renewing = (async () => {
        const issued = await issueIntermediate(this.rootKey as RootKey, this.options, now);
        this.signer = issued.signer;
        this.intermediateKeyPem = issued.keyPem;
        if (this.keptIn !== undefined) await this.writePluginDirectory(this.keptIn);
      })().finally(() => {
        this.renewing = undefined;
      });
    }
    await this.renewing;
    return true;
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
    // Lazily, on the signing path: a comparison per request, a new intermediate once a year.
    if (this.rootKey !== undefined && this.clock.wallNow() >= this.intermediateRenewAt.getTime())
      await this.renewIntermediate();

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

  /**
   * The control plane's own serving certificate (istiod's DNS certificate for port 15012): the
   * CSR's key, the given DNS and IP SANs, `ttlSeconds` (default the workload lifetime) within
   * the issuing certificate's validity. Not for workloads: it carries no SPIFFE identity.
   */
  async signServing(
    csrPem: string,
    options: { dnsNames: readonly string[]; ipAddresses: readonly string[]; ttlSeconds?: number },
  ): Promise<SignedChain> {
    const spki = verifiedCsrKey(csrPem);
    const ttl = options.ttlSeconds ?? this.workloadTtl;
    const now = this.clock.wallNow();
    const backdate = Math.min(this.skew, ttl / 10) * 1000;
    const notBefore = new Date(Math.max(now - backdate, this.signer.cert.notBefore.getTime()));
    const notAfter = new Date(Math.min(now + ttl * 1000, this.signer.cert.notAfter.getTime()));
    if (notAfter.getTime() <= now)
      throw new TrellisError(
        'TRELLIS_INTERNAL',
        'the issuing CA certificate has expired; rotate the intermediate',
      );
    const leaf = this.signer.leaf.signNames(
      spki,
      { dnsNames: options.dnsNames, ipAddresses: options.ipAddresses },
      randomSerial(),
      notBefore,
      notAfter,
    );
    return { certChainPem: [leaf, ...this.signer.chainPem], rootPem: this.signer.rootPem };
  }
}
