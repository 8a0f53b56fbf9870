/**
 * The proxy's CA client, a WorkloadCertificateSource: what Istio's agent does for Envoy.
 *
 * - generates a fresh P-256 key here for every certificate (ca/workload.ts); only the CSR leaves;
 * - sends it with the workload's credential (credential-source.ts) to the control plane's CA;
 * - checks the answer before installing it: the leaf carries our key and a SPIFFE URI SAN, and
 *   the chain leads to a root of the trust bundle that came with it;
 * - renews at half the lifetime, up to a tenth earlier at random (ca/renew.ts), so a fleet
 *   started together does not renew together;
 * - on failure keeps the certificate it has (even one about to expire: nothing better exists)
 *   and retries with exponential backoff and full jitter (core/backoff.ts);
 * - a join token is exchanged by the CA for a workload credential, which replaces it.
 *
 * Time is a Clock (tests drive FakeClock with certificates of a few seconds).
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { generateKeyAndCsr, type KeyAndCsr } from '../../ca/workload.js';
import { renewAt, type RenewOptions } from '../../ca/renew.js';
import { Backoff, type BackoffPolicy } from '../../core/backoff.js';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { parseCertificates } from '../../core/pem.js';
import type { Random } from '../../core/random.js';
import type { CreateCertificateResponse } from '../../protocol/trellis/ca-types.js';
import type { CertificateRequester } from './ca-client-transport.js';
import type { CredentialSource } from './credential-source.js';
import type { WorkloadCertificate, WorkloadCertificateSource } from './workload-certificate.js';

export const DEFAULT_CA_BACKOFF: BackoffPolicy = { baseMs: 1000, maxMs: 60_000 };
/**
 * The soonest a renewal follows an installed certificate: a certificate whose half life is
 * already past (a CA clock ahead of ours) must not turn into a request loop.
 */
export const MIN_RENEW_DELAY_MS = 1000;

export interface CaClientOptions {
  requester: CertificateRequester;
  credential: CredentialSource;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** Lifetime to ask for, in seconds; 0 or absent: the CA's default. */
  ttlSeconds?: number;
  renew?: RenewOptions;
  backoff?: BackoffPolicy;
  /** Key and CSR maker; ca/workload.ts by default. */
  keygen?: () => Promise<KeyAndCsr>;
}

export interface CaClientStatus {
  issued: number;
  failures: number;
  /** Why the last attempt failed, until one succeeds. */
  lastError: string | undefined;
  /** Wall-clock ms of the next request (renewal or retry), if one is scheduled. */
  nextAttemptAt: number | undefined;
}

/** Checks a CA answer against the key we hold; returns the certificate or why it is unusable. */
export function certificateFromResponse(
  res: CreateCertificateResponse,
  privateKeyPem: string,
  nowMs: number,
): { ok: true; cert: WorkloadCertificate } | { ok: false; error: string } {
  const chainPem = (res.cert_chain ?? []).join('');
  const bundlePem = (res.trust_bundle ?? []).join('');
  const chain = parseCertificates(chainPem);
  if (!chain.ok) return { ok: false, error: `cert_chain: ${chain.error}` };
  const roots = parseCertificates(bundlePem);
  if (!roots.ok) return { ok: false, error: `trust_bundle: ${roots.error}` };
  const leaf = chain.value[0] as X509Certificate;
  let ours = false;
  try {
    ours = leaf.checkPrivateKey(createPrivateKey(privateKeyPem));
  } catch {
    ours = false;
  }
  if (!ours) return { ok: false, error: 'the certificate is not for the key this proxy generated' };
  const uri = /(?:^|, )URI:(spiffe:\/\/[^,\s]+)/.exec(leaf.subjectAltName ?? '')?.[1];
  if (uri === undefined) return { ok: false, error: 'the certificate has no SPIFFE URI SAN' };
  if (Date.parse(leaf.validTo) <= nowMs)
    return {
      ok: false,
      error: `the certificate expired on ${new Date(leaf.validTo).toISOString()} (check the clocks)`,
    };
  for (let i = 0; i + 1 < chain.value.length; i++) {
    const [child, parent] = [chain.value[i] as X509Certificate, chain.value[i + 1] as X509Certificate];
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey))
      return { ok: false, error: `cert_chain: certificate ${i + 1} is not signed by certificate ${i + 2}` };
  }
  const top = chain.value[chain.value.length - 1] as X509Certificate;
  if (!roots.value.some((r) => top.checkIssued(r) && top.verify(r.publicKey)))
    return { ok: false, error: 'cert_chain does not lead to a root of trust_bundle' };
  return {
    ok: true,
    cert: {
      certChainPem: chainPem,
      privateKeyPem,
      rootCertsPem: bundlePem,
      identity: uri,
      notBefore: new Date(leaf.validFrom),
      notAfter: new Date(leaf.validTo),
    },
  };
}

export class CaClient implements WorkloadCertificateSource {
  private cert: WorkloadCertificate | undefined;
  private readonly listeners = new Set<(c: WorkloadCertificate) => void>();
  private readonly waiters: ((c: WorkloadCertificate) => void)[] = [];
  private readonly backoff: Backoff;
  private timer: TimerHandle | undefined;
  private closed = false;
  private started = false;
  private readonly st: CaClientStatus = {
    issued: 0,
    failures: 0,
    lastError: undefined,
    nextAttemptAt: undefined,
  };

  constructor(private readonly opts: CaClientOptions) {
    this.backoff = new Backoff(opts.backoff ?? DEFAULT_CA_BACKOFF, opts.random);
  }

  /** Asks for the first certificate now. Idempotent. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    void this.attempt();
  }

  current(): WorkloadCertificate | undefined {
    return this.cert;
  }

  onChange(fn: (cert: WorkloadCertificate) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  ready(): Promise<WorkloadCertificate> {
    return this.cert !== undefined
      ? Promise.resolve(this.cert)
      : new Promise((resolve) => this.waiters.push(resolve));
  }

  get status(): Readonly<CaClientStatus> {
    return { ...this.st };
  }

  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.st.nextAttemptAt = undefined;
    this.listeners.clear();
    this.opts.requester.close();
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    this.timer?.cancel();
    const delay = Math.max(0, delayMs);
    this.st.nextAttemptAt = this.opts.clock.wallNow() + delay;
    this.timer = this.opts.clock.setTimeout(() => void this.attempt(), delay);
  }

  private async attempt(): Promise<void> {
    this.timer = undefined;
    this.st.nextAttemptAt = undefined;
    let cert: WorkloadCertificate;
    let exchanged: string | undefined;
    try {
      const { privateKeyPem, csrPem } = await (this.opts.keygen ?? generateKeyAndCsr)();
      const credential = await this.opts.credential.read();
      const res = await this.opts.requester.request(
        { csr: csrPem, validity_duration: this.opts.ttlSeconds ?? 0 },
        credential,
      );
      const checked = certificateFromResponse(res, privateKeyPem, this.opts.clock.wallNow());
      if (!checked.ok) throw new Error(`the CA's answer is unusable: ${checked.error}`);
      cert = checked.cert;
      if (res.credential) exchanged = res.credential;
    } catch (err) {
      if (this.closed) return;
      this.st.failures++;
      this.st.lastError = errorMessage(err);
      const retryIn = this.backoff.next();
      this.opts.logger.warn('workload certificate request failed; keeping the current certificate', {
        error: this.st.lastError,
        retryInMs: retryIn,
        current: this.cert ? `${this.cert.identity} until ${this.cert.notAfter.toISOString()}` : 'none',
      });
      this.schedule(retryIn);
      return;
    }
    if (this.closed) return;
    if (exchanged !== undefined) {
      try {
        await this.opts.credential.replace(exchanged);
      } catch (err) {
        this.opts.logger.warn('cannot store the workload credential the CA exchanged for the join token', {
          error: errorMessage(err),
        });
      }
    }
    this.install(cert);
  }

  private install(cert: WorkloadCertificate): void {
    this.cert = cert;
    this.st.issued++;
    this.st.lastError = undefined;
    this.backoff.reset();
    const at = renewAt(cert.notBefore.getTime(), cert.notAfter.getTime(), this.opts.random, this.opts.renew);
    this.opts.logger.info('workload certificate installed', {
      identity: cert.identity,
      notAfter: cert.notAfter.toISOString(),
      renewAt: new Date(at).toISOString(),
    });
    this.schedule(Math.max(at - this.opts.clock.wallNow(), MIN_RENEW_DELAY_MS));
    for (const w of this.waiters.splice(0)) w(cert);
    for (const fn of [...this.listeners]) {
      try {
        fn(cert);
      } catch (err) {
        this.opts.logger.error('a certificate listener failed', { error: errorMessage(err) });
      }
    }
  }
}
