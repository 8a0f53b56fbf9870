/**
 * `trellis proxy --concurrency N` as processes: the primary (xDS, admin, N workers: see
 * proxy/workers/primary.ts) and, in each node:cluster worker, the data plane
 * (proxy/workers/worker.ts). A worker is this same program run again: bin/trellis.mjs with the
 * same arguments (and the same build/ or tsx sources as its primary), so `trellis proxy` finds
 * `cluster.isWorker` and lands in `runProxyWorker`.
 */
import { fileURLToPath } from 'node:url';
import type { ProxyOptions } from '../proxy/proxy.js';
import { ProxyPrimary } from '../proxy/workers/primary.js';
import { ProxyWorker, processChannel } from '../proxy/workers/worker.js';
import type { CommandIo } from './command.js';
import { untilSignal } from './signals.js';

/** src/cli and build/cli are both one level below the root, as bin/ is. */
export const TRELLIS_BIN = fileURLToPath(new URL('../../bin/trellis.mjs', import.meta.url));

export interface PrimaryRun {
  concurrency: number;
  drainMs: number;
  /** The `trellis proxy` arguments, for the workers. */
  argv: readonly string[];
  /** Added to the workers' environment (the ProxyConfig's environmentVariables). */
  env?: Readonly<Record<string, string>>;
  io: CommandIo;
  /** The ready line's start, as a single-process proxy prints it. */
  readyLine: (
    listeners: number,
    clusters: number,
    outbound: number,
    inbound: number,
    admin: number,
  ) => string;
}

export async function runProxyPrimary(options: ProxyOptions, run: PrimaryRun): Promise<number> {
  const { io } = run;
  const primary: ProxyPrimary = new ProxyPrimary({
    proxy: {
      ...options,
      onReady: () => {
        const s = primary.snapshot();
        const { outbound, inbound } = primary.ports;
        const line = run.readyLine(s.listeners.size, s.clusters.size, outbound, inbound, primary.adminPort);
        io.stdout(`${line}; ${run.concurrency} workers\n`);
      },
    },
    concurrency: run.concurrency,
    exec: { file: TRELLIS_BIN, args: ['proxy', ...run.argv] },
    ...(run.env ? { env: run.env } : {}),
  });
  const stopping = untilSignal();
  try {
    await primary.start();
  } catch (err) {
    await primary.stop(0);
    throw err;
  }
  io.stdout(
    `proxy ${options.bootstrap.nodeId}: connecting to ${[options.xds].flat().join(',')} (${run.concurrency} workers)\n`,
  );
  const sig = await stopping;
  io.stdout(`proxy: ${sig}, draining ${run.concurrency} workers\n`);
  await primary.stop(run.drainMs);
  io.stdout('proxy: stopped\n');
  return 0;
}

/** The data plane in a node:cluster worker; exits when the primary says so or is gone. */
export async function runProxyWorker(options: ProxyOptions, drainMs: number): Promise<number> {
  const id = process.env.TRELLIS_PROXY_WORKER ?? '?';
  const worker = new ProxyWorker({
    proxy: { ...options, logger: options.logger.child(`worker-${id}`) },
    channel: processChannel(),
  });
  // Ctrl-C reaches the whole process group: the primary decides when workers drain.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => void worker.stop(drainMs));
  worker.start();
  return (await worker.stopped) ? 1 : 0;
}
