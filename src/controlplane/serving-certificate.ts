/**
 * The control plane's serving certificate for xDS over TLS (istiod's port 15012): a key made
 * here, a certificate its own CA signs with the names proxies dial (Istio's
 * `istiod.istio-system.svc`, `trellis-control-plane`, `localhost`, 127.0.0.1, ::1, plus
 * `--secure-san` names), renewed at half its life with jitter. It is a grpc-js certificate
 * provider: a renewal reaches new TLS connections while established streams carry on.
 *
 * Exports:
 *   DEFAULT_SERVING_SANS
 *   servingNames(extra): { dnsNames, ipAddresses }
 *   ServingCertificate (start, stop, current, provider)
 */
import { isIP } from 'node:net';
import type { experimental } from '@grpc/grpc-js';
import type { CertificateAuthority } from '../ca/authority.js';
import { renewAt } from '../ca/renew.js';
import { generateKeyAndCsr } from '../ca/workload.js';
import { x509 } from '../ca/x509.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Random } from '../core/random.js';

export const DEFAULT_SERVING_SANS: readonly string[] = Object.freeze([
  'istiod.istio-system.svc',
  'trellis-control-plane',
  'localhost',
  '127.0.0.1',
  '::1',
]);

/** The default names and `extra`, split into DNS names and IP addresses, without repeats. */
export function servingNames(extra: readonly string[] = []): { dnsNames: string[]; ipAddresses: string[] } {
  const all = [...new Set([...DEFAULT_SERVING_SANS, ...extra])];
  return { dnsNames: all.filter((n) => isIP(n) === 0), ipAddresses: all.filter((n) => isIP(n) !== 0) };
}

export interface ServingCertificateOptions {
  authority: CertificateAuthority;
  /** More SANs (DNS names or IP addresses) beside the defaults. */
  extraSans?: readonly string[];
  /** Lifetime; default the CA's workload lifetime. */
  ttlSeconds?: number;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** After a failed issue, the next try. Default 5 s. */
  retryMs?: number;
}

type IdentityListener = experimental.IdentityCertificateUpdateListener;

export class ServingCertificate {
  private listeners = new Set<IdentityListener>();
  private latest: { certificate: Buffer; privateKey: Buffer; notAfter: Date } | undefined;
  private timer: TimerHandle | undefined;
  private stopped = false;

  constructor(private readonly options: ServingCertificateOptions) {}

  /** Issues the first certificate (failing loudly: there is nothing to serve without it). */
  async start(): Promise<void> {
    await this.issue();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  /** The chain (leaf first) being served and its expiry, for tests and logs. */
  current(): { certificatePem: string; notAfter: Date } | undefined {
    return (
      this.latest && { certificatePem: this.latest.certificate.toString(), notAfter: this.latest.notAfter }
    );
  }

  /** What grpc-js' certificate provider server credentials read (identity only: no client certs). */
  provider(): experimental.CertificateProvider {
    return {
      addIdentityCertificateListener: (l) => {
        this.listeners.add(l);
        // Later, not now: grpc-js registers the server's watcher only after this returns, and an
        // update it misses leaves the port refusing every connection.
        queueMicrotask(() => {
          if (this.latest && this.listeners.has(l))
            l({ certificate: this.latest.certificate, privateKey: this.latest.privateKey });
        });
      },
      removeIdentityCertificateListener: (l) => void this.listeners.delete(l),
      addCaCertificateListener: () => undefined,
      removeCaCertificateListener: () => undefined,
    };
  }

  private async issue(): Promise<void> {
    const { authority, clock } = this.options;
    const { privateKeyPem, csrPem } = await generateKeyAndCsr();
    const signed = await authority.signServing(csrPem, {
      ...servingNames(this.options.extraSans),
      ...(this.options.ttlSeconds !== undefined ? { ttlSeconds: this.options.ttlSeconds } : {}),
    });
    const leaf = new x509.X509Certificate(signed.certChainPem[0]);
    this.latest = {
      certificate: Buffer.from(signed.certChainPem.join('')),
      privateKey: Buffer.from(privateKeyPem),
      notAfter: leaf.notAfter,
    };
    for (const l of this.listeners)
      l({ certificate: this.latest.certificate, privateKey: this.latest.privateKey });
    const at = renewAt(leaf.notBefore.getTime(), leaf.notAfter.getTime(), this.options.random);
    this.schedule(Math.max(0, at - clock.wallNow()));
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.options.clock.setTimeout(() => {
      this.issue().catch((err: unknown) => {
        // Keep serving the current certificate; try again soon.
        this.options.logger.error('renewing the xDS serving certificate failed; retrying', {
          error: errorMessage(err),
        });
        this.schedule(this.options.retryMs ?? 5000);
      });
    }, ms);
  }
}
