/**
 * Keeps `npm run bench:xds` from rotting: runs its quick mode (100 services, 50 simulated
 * proxies in a child process, 3 weight changes) and checks that it completes and prints its
 * table. No timing is asserted: speed is what the benchmark reports, not what tests check.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/xds.ts', '--quick', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill(), 60_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

function row(stdout: string, metric: string): string {
  const line = stdout.split('\n').find((l) => l.startsWith(`| ${metric}`));
  assert.ok(line, `table has a row "${metric}":\n${stdout}`);
  return line.split('|')[2]!.trim();
}

test('quick mode syncs every proxy and pushes every weight change to all of them', async () => {
  const { code, stdout, stderr } = await runBench([]);
  assert.equal(code, 0, `bench exited ${code}\n${stderr.slice(-2000)}`);
  // 400 service clusters + the built-in ones, PassthroughDnsCluster (allow_any egress) among them.
  assert.match(row(stdout, 'services / proxies'), /^100 \/ 50 \(no Sidecar\)/);
  assert.match(row(stdout, 'resources per proxy'), /CDS 404, EDS 400, LDS 3, RDS 1/);
  assert.match(row(stdout, 'initial sync (first stream'), /\d+ (ms|s)$/);
  assert.match(row(stdout, '  p99 over proxies'), /\d+ (ms|s) \/ \d+/);
  assert.equal(row(stdout, '  proxies that got a push'), '50, 50, 50 (50)');
  assert.equal(row(stdout, '  non-RDS pushes per change'), '0, 0, 0');
});

test('quick mode with Sidecar scoping pushes a change only to the proxies that depend on it', async () => {
  const { code, stdout, stderr } = await runBench(['--scoped']);
  assert.equal(code, 0, `bench exited ${code}\n${stderr.slice(-2000)}`);
  assert.match(row(stdout, 'resources per proxy'), /CDS 44, EDS 40, LDS 3, RDS 1/);
  assert.equal(row(stdout, '  proxies that got a push'), '10, 10, 10 (10)');
  assert.equal(row(stdout, '  non-RDS pushes per change'), '0, 0, 0');
});
