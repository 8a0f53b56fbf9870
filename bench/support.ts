/**
 * Process plumbing shared by the proxy benchmarks: free ports, waiting for a listener, children
 * pinned to a core (taskset) and stopped at the end, and a process's RSS and CPU from /proc.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every child started here, for a last clean-up. */
export const children: ChildProcess[] = [];

/** Starts `cmd` pinned to `core`; stderr is shown, stdout piped when `stdout` is 'pipe'. */
export function start(
  core: number,
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  stdout: 'ignore' | 'pipe' = 'ignore',
): ChildProcess {
  const child = spawn('taskset', ['-c', String(core), cmd, ...args], {
    stdio: ['ignore', stdout, 'inherit'],
    env: { ...process.env, ...env },
  });
  children.push(child);
  return child;
}

export async function stop(child: ChildProcess): Promise<void> {
  // A child killed by a signal has no exit code: it has exited all the same (awaiting its
  // 'exit' again would wait for ever).
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** User + system CPU seconds a process has used so far (from /proc, in clock ticks of 10 ms). */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

export function rssMb(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** The `q` quantile of sorted values (0 when empty). */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

export interface ProxyPorts {
  admin: number;
  outbound: number;
  inbound: number;
}

/**
 * Starts `trellis proxy` on core 0 against an xDS server and waits for its /ready. `bin` is
 * bin/trellis (as users run it: it picks the proxy's node flags) or another checkout's
 * bin/trellis.mjs, run with node and `mjsNodeFlags`.
 */
export async function startTrellisProxy(opts: {
  bin: string;
  xds: string;
  workload: string;
  ports: ProxyPorts;
  env?: NodeJS.ProcessEnv;
  mjsNodeFlags?: string[];
  /** More `trellis proxy` flags (e.g. --credential-file F --ca-address A). */
  extraArgs?: string[];
}): Promise<ChildProcess> {
  const { bin, ports } = opts;
  const args = [
    'proxy',
    '--xds',
    opts.xds,
    '--workload',
    opts.workload,
    '--labels',
    `app=${opts.workload},version=v1`,
    '--admin-port',
    String(ports.admin),
    '--outbound-port',
    String(ports.outbound),
    '--inbound-port',
    String(ports.inbound),
    '--drain-seconds',
    '1',
    ...(opts.extraArgs ?? []),
  ];
  const env = opts.env ?? {};
  const child = bin.endsWith('.mjs')
    ? start(0, process.execPath, [...(opts.mjsNodeFlags ?? []), bin, ...args], env)
    : start(0, bin, args, env);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ready = await new Promise<boolean>((resolve) => {
      http
        .get({ host: '127.0.0.1', port: ports.admin, path: '/ready' }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        })
        .on('error', () => resolve(false));
    });
    if (ready) return child;
    if (Date.now() > deadline) throw new Error(`trellis proxy ${opts.workload} (${bin}) not ready`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
