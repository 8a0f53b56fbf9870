/**
 * `trellis up --prometheus`: Debian's `prometheus` (found on PATH) with a generated config that
 * scrapes every connected proxy's admin `/stats/prometheus`. The targets are a file_sd file
 * rewritten (atomically) from the control plane's connected proxies as they change; storage is in
 * the up state directory. Started once the mesh runs, stopped with it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { TrellisError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { findProgram } from './command-lookup.js';

export interface ProxyTarget {
  /** `HOST:PORT` of the admin endpoint. */
  adminAddress: string;
  namespace: string;
  workloadName: string;
  proxy: string;
}

/** Prometheus's scrape config for the proxies (YAML is a superset of JSON: written as JSON). */
export function prometheusConfig(targetsFile: string, scrapeIntervalSeconds: number): string {
  const interval = `${scrapeIntervalSeconds}s`;
  return (
    JSON.stringify(
      {
        global: { scrape_interval: interval, evaluation_interval: interval },
        scrape_configs: [
          {
            job_name: 'trellis-proxies',
            metrics_path: '/stats/prometheus',
            scrape_interval: interval,
            scrape_timeout: interval,
            file_sd_configs: [{ files: [targetsFile], refresh_interval: interval }],
          },
        ],
      },
      null,
      2,
    ) + '\n'
  );
}

/** The file_sd targets: one group per proxy with an admin address, labelled as Istio's pods are. */
export function fileSdTargets(proxies: readonly ProxyTarget[]): string {
  const groups = proxies
    .filter((p) => p.adminAddress !== '')
    .map((p) => ({
      targets: [p.adminAddress],
      labels: { namespace: p.namespace, pod: p.workloadName, proxy: p.proxy },
    }))
    .sort((a, b) => a.targets[0]!.localeCompare(b.targets[0]!));
  return JSON.stringify(groups, null, 2) + '\n';
}

export interface PrometheusRunnerOptions {
  /** Where its config, targets and storage go (created). */
  dir: string;
  /** 127.0.0.1:PORT to listen on. */
  port: number;
  proxies: () => readonly ProxyTarget[];
  logger: Logger;
  env: NodeJS.ProcessEnv;
  cwd: string;
  scrapeIntervalSeconds?: number;
  /** How often the targets file is compared with the connected proxies (ms); default 1000. */
  refreshMs?: number;
  readyTimeoutMs?: number;
}

export class PrometheusRunner {
  private child: ChildProcess | undefined;
  private refresh: NodeJS.Timeout | undefined;
  private lastTargets = '';
  private exited: Promise<void> | undefined;
  private stderrTail = '';
  readonly url: string;
  private readonly targetsFile: string;

  constructor(private readonly opts: PrometheusRunnerOptions) {
    this.url = `http://127.0.0.1:${opts.port}`;
    this.targetsFile = path.join(opts.dir, 'targets.json');
  }

  /** Starts Prometheus and waits until it is ready; clear errors when it is missing or fails. */
  async start(): Promise<void> {
    const found = findProgram('prometheus', this.opts.cwd, this.opts.env.PATH);
    if (!found.found)
      throw new TrellisError(
        'TRELLIS_NOT_FOUND',
        `--prometheus needs the prometheus program on PATH (${found.reason}); install it (Debian: apt-get install prometheus) or pass --prometheus-url URL of one you run`,
      );
    fs.mkdirSync(path.join(this.opts.dir, 'data'), { recursive: true });
    const configFile = path.join(this.opts.dir, 'prometheus.yml');
    fs.writeFileSync(configFile, prometheusConfig(this.targetsFile, this.opts.scrapeIntervalSeconds ?? 2));
    this.writeTargets();
    const child = spawn(
      found.file,
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${path.join(this.opts.dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${this.opts.port}`,
        '--storage.tsdb.retention.time=1d',
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.child = child;
    child.stderr?.on(
      'data',
      (d: Buffer) => (this.stderrTail = (this.stderrTail + d.toString()).slice(-2000)),
    );
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('error', (err) => this.opts.logger.warn('prometheus failed', { error: err.message }));
    this.refresh = setInterval(() => this.writeTargets(), this.opts.refreshMs ?? 1000);
    this.refresh.unref();
    await this.waitReady();
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + (this.opts.readyTimeoutMs ?? 30_000);
    for (;;) {
      if (this.child?.exitCode !== null && this.child?.exitCode !== undefined)
        throw new TrellisError(
          'TRELLIS_IO',
          `prometheus exited with code ${this.child.exitCode} before it was ready: ${this.stderrTail.trim().split('\n').slice(-3).join(' / ')}`,
        );
      try {
        const res = await fetch(`${this.url}/-/ready`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new TrellisError(
          'TRELLIS_IO',
          `prometheus on ${this.url} was not ready within ${(this.opts.readyTimeoutMs ?? 30_000) / 1000}s; see ${this.opts.dir}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Rewrites the targets file when the connected proxies changed (write aside, then rename). */
  writeTargets(): void {
    const text = fileSdTargets(this.opts.proxies());
    if (text === this.lastTargets) return;
    const tmp = `${this.targetsFile}.tmp`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, this.targetsFile);
    this.lastTargets = text;
  }

  async stop(): Promise<void> {
    if (this.refresh) clearInterval(this.refresh);
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    child.kill('SIGTERM');
    const killed = setTimeout(() => child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(killed);
  }
}
