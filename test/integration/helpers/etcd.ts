/**
 * A throwaway etcd (Debian's etcd-server, /usr/bin/etcd) on free 127.0.0.1 ports with a temp data
 * directory, for the etcd store tests. `etcdAvailable()` says whether the binary is installed so
 * tests can skip with a reason. `stop()` and `restart()` keep the data directory and ports, so a
 * test can take etcd away and bring the same cluster back.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const ETCD_BIN = '/usr/bin/etcd';

export function etcdAvailable(): boolean {
  return fs.existsSync(ETCD_BIN) && spawnSync(ETCD_BIN, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Why etcd tests are skipped, or false when they run. */
export const etcdSkip: string | false = etcdAvailable()
  ? false
  : `${ETCD_BIN} is not installed (scripts/setup.sh installs etcd-server)`;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export class EtcdServer {
  private child: ChildProcess | undefined;
  private output = '';
  readonly dataDir: string;

  private constructor(
    readonly clientPort: number,
    readonly peerPort: number,
    private readonly root: string,
  ) {
    this.dataDir = path.join(root, 'data');
  }

  static async start(): Promise<EtcdServer> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-etcd-'));
    const server = new EtcdServer(await freePort(), await freePort(), root);
    await server.restart();
    return server;
  }

  /** `127.0.0.1:PORT`, as `--store etcd://` takes it. */
  get endpoint(): string {
    return `127.0.0.1:${this.clientPort}`;
  }

  get url(): string {
    return `etcd://${this.endpoint}`;
  }

  /** The tail of etcd's output, for failure messages. */
  log(): string {
    return this.output.slice(-2000);
  }

  /** Starts (again) with the same data and ports; resolves when it answers /health. */
  async restart(): Promise<void> {
    const client = `http://127.0.0.1:${this.clientPort}`;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const child = spawn(
      ETCD_BIN,
      [
        '--name',
        'trellis-test',
        '--data-dir',
        this.dataDir,
        '--listen-client-urls',
        client,
        '--advertise-client-urls',
        client,
        '--listen-peer-urls',
        peer,
        '--initial-advertise-peer-urls',
        peer,
        '--initial-cluster',
        `trellis-test=${peer}`,
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    child.stdout?.on('data', (b: Buffer) => (this.output += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (this.output += b.toString()));
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => reject(new Error(`etcd exited (${code}) while starting:\n${this.log()}`))),
    );
    const deadline = Date.now() + 20_000;
    const healthy = (async () => {
      while (Date.now() < deadline) {
        const ok = await fetch(`${client}/health`)
          .then(async (r) => r.ok && ((await r.json()) as { health?: string }).health === 'true')
          .catch(() => false);
        if (ok) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`etcd did not become healthy within 20 s:\n${this.log()}`);
    })();
    await Promise.race([healthy, exited]);
    exited.catch(() => undefined);
  }

  /** Stops etcd (SIGKILL with `kill: true`, as a crash); the data directory stays. */
  async stop(options: { kill?: boolean } = {}): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(options.kill ? 'SIGKILL' : 'SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await done;
    clearTimeout(timer);
  }

  /** Stops etcd and removes its data. */
  async close(): Promise<void> {
    await this.stop();
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
