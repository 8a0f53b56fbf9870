/**
 * The workload agent for Envoy and proxyless gRPC, as Istio's pilot-agent is for them: from one
 * certificate source (the CA client, which makes the key here and renews at half life) it
 *
 * - serves SDS on a Unix socket (sds-server.ts) when `sdsSocket` is set;
 * - writes Envoy's bootstrap at once (Envoy may start before the first certificate: its TLS
 *   listeners and clusters wait for SDS);
 * - writes the PEM files for gRPC's file_watcher (cert-files.ts) on every new certificate, and
 *   the gRPC bootstrap once the first certificate is there (its refresh interval follows the
 *   certificate's lifetime, and an app started on it finds its files).
 *
 * `ready` resolves when the first certificate has been written wherever it goes.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '../core/clock.js';
import { TrellisError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { certFilePaths, writeCertFiles, writeFileAtomic } from './cert-files.js';
import type { AgentCertificate, AgentCertificateSource } from './certificate-source.js';
import { renderEnvoyBootstrap, type EnvoyBootstrapOptions } from './envoy-bootstrap.js';
import { grpcBootstrap, refreshIntervalFor, type GrpcBootstrapOptions } from './grpc-bootstrap.js';
import { SdsServer } from './sds-server.js';

export interface WorkloadAgentOptions {
  certificates: AgentCertificateSource;
  clock: Clock;
  logger: Logger;
  /** Serve SDS here (absolute path). */
  sdsSocket?: string;
  /** Write Envoy's bootstrap here; its `sds-grpc` cluster points at `sdsSocket`. */
  envoyBootstrap?: { file: string; options: Omit<EnvoyBootstrapOptions, 'sdsSocket'> };
  /** Write cert-chain.pem, key.pem, root-cert.pem here on every certificate. */
  certDir?: string;
  /** Write the gRPC xDS bootstrap here (its certificate provider reads `certDir`). */
  grpcBootstrap?: { file: string; options: Omit<GrpcBootstrapOptions, 'certFiles' | 'refreshSeconds'> };
  /** Override the file_watcher refresh interval (seconds). */
  refreshSeconds?: number;
}

export class WorkloadAgent {
  private sds: SdsServer | undefined;
  private unsubscribe: () => void = () => undefined;
  private writing: Promise<void> = Promise.resolve();
  private first: ((c: AgentCertificate) => void) | undefined;
  private failFirst: ((err: unknown) => void) | undefined;
  /** Resolves with the first certificate once it is written everywhere; rejects if that fails. */
  readonly ready: Promise<AgentCertificate>;
  private written = 0;

  private constructor(private readonly o: WorkloadAgentOptions) {
    this.ready = new Promise((resolve, reject) => {
      this.first = resolve;
      this.failFirst = reject;
    });
    // Unhandled only if nobody waits; the command always does.
    this.ready.catch(() => undefined);
  }

  static async start(o: WorkloadAgentOptions): Promise<WorkloadAgent> {
    if (o.envoyBootstrap !== undefined && o.sdsSocket === undefined)
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        '--envoy-bootstrap needs --sds-socket: the bootstrap points Envoy at the SDS socket',
      );
    const agent = new WorkloadAgent(o);
    if (o.sdsSocket !== undefined)
      agent.sds = await SdsServer.start({
        socketPath: o.sdsSocket,
        certificates: o.certificates,
        clock: o.clock,
        logger: o.logger.child('sds'),
      });
    try {
      if (o.envoyBootstrap !== undefined) {
        const text = renderEnvoyBootstrap({ ...o.envoyBootstrap.options, sdsSocket: o.sdsSocket ?? '' });
        await writeText(o.envoyBootstrap.file, text, '--envoy-bootstrap');
      }
    } catch (err) {
      await agent.close();
      throw err;
    }
    agent.unsubscribe = o.certificates.onChange((c) => agent.enqueue(c));
    const now = o.certificates.current();
    if (now !== undefined) agent.enqueue(now);
    return agent;
  }

  /** Certificates written (files and bootstrap), for status and tests. */
  get certificatesWritten(): number {
    return this.written;
  }

  get sdsStreams(): number {
    return this.sds?.streamCount ?? 0;
  }

  async close(): Promise<void> {
    this.unsubscribe();
    await this.writing;
    await this.sds?.close();
  }

  private enqueue(cert: AgentCertificate): void {
    this.writing = this.writing.then(() => this.write(cert));
  }

  private async write(cert: AgentCertificate): Promise<void> {
    const o = this.o;
    try {
      if (o.certDir !== undefined) {
        const changed = await writeCertFiles(o.certDir, cert);
        o.logger.info('certificate files written', { dir: o.certDir, changed: changed.join(',') });
      }
      if (o.grpcBootstrap !== undefined && this.written === 0) {
        const lifetime = cert.notAfter.getTime() - cert.notBefore.getTime();
        const bootstrap = grpcBootstrap({
          ...o.grpcBootstrap.options,
          ...(o.certDir !== undefined ? { certFiles: certFilePaths(o.certDir) } : {}),
          refreshSeconds: o.refreshSeconds ?? refreshIntervalFor(lifetime),
        });
        await writeText(o.grpcBootstrap.file, `${JSON.stringify(bootstrap, null, 2)}\n`, '--grpc-bootstrap');
      }
      this.written++;
      this.first?.(cert);
      this.first = undefined;
      this.failFirst = undefined;
    } catch (err) {
      o.logger.error('cannot write the workload certificate; the next renewal tries again', {
        error: errorMessage(err),
      });
      this.failFirst?.(err);
      this.first = undefined;
      this.failFirst = undefined;
    }
  }
}

async function writeText(file: string, text: string, flag: string): Promise<void> {
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, text, 0o644);
  } catch (err) {
    throw new TrellisError(
      'TRELLIS_IO',
      `${flag} ${file}: cannot write it (${(err as NodeJS.ErrnoException).code ?? String(err)}); choose a path this user can write`,
      { cause: err },
    );
  }
}
