/**
 * Rate limit service benchmark: decisions/s and decision latency over gRPC, for the memory and
 * the Redis backend with 1, 100 and 10,000 distinct keys, beside `redis-benchmark -t incr` on
 * the same machine. The service runs as its own process (`trellis ratelimit`), the load
 * generator here (several channels, a fixed number of calls in flight), all on 127.0.0.1.
 * Every loop is bounded by a request count and a time limit.
 *
 *   npm run bench:ratelimit            (appends a section to bench/RESULTS.md)
 *   npm run bench:ratelimit -- --no-write
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { rateLimitClient, type RateLimitClient } from '../src/ratelimit/testdata/grpc-client.js';
import { RedisServer, redisServerAvailable } from '../src/ratelimit/testdata/redis-server.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const KEY_COUNTS = [1, 100, 10_000];
const CHANNELS = 4;
const IN_FLIGHT = Number(process.env.RL_BENCH_IN_FLIGHT ?? 32);
const WARMUP_MS = 700;
const MEASURE_MS = Number(process.env.RL_BENCH_MS ?? 5000);
const MAX_REQUESTS = 400_000;
const BATCH = 10;

interface Row {
  backend: string;
  keys: number;
  descriptorsPerCall: number;
  calls: number;
  decisionsPerSec: number;
  callsPerSec: number;
  p50: number;
  p99: number;
  serverP99: string;
  overLimit: number;
  /** Service process CPU per decision, microseconds (independent of how busy the machine is). */
  serviceCpuUs: number;
  /** Load generator CPU per call, microseconds. */
  clientCpuUs: number;
}

/** user+system CPU of another process, in ms, from /proc (Linux). */
function processCpuMs(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}

function config(): string {
  // Limits far above the offered load, so every decision reaches the store; `hot` is the
  // opposite: one key far over its limit, answered from the local over-limit cache.
  const domains = KEY_COUNTS.flatMap((k) => [`k${k}`, `batch${k}`]);
  const docs = domains.map(
    (d) =>
      `domain: ${d}\ndescriptors:\n  - key: user\n    rate_limit: { unit: second, requests_per_unit: 1000000000 }\n`,
  );
  docs.push(
    'domain: hot\ndescriptors:\n  - key: user\n    rate_limit: { unit: hour, requests_per_unit: 1 }\n',
  );
  return docs.join('---\n');
}

async function startService(redisUrl?: string): Promise<{ child: ChildProcess; grpc: string; http: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-rl-bench-'));
  fs.writeFileSync(path.join(dir, 'bench.yaml'), config());
  const args = [
    path.join(ROOT, 'bin/trellis.mjs'),
    'ratelimit',
    '--config',
    dir,
    '--grpc-address',
    '127.0.0.1:0',
    '--http-address',
    '127.0.0.1:0',
  ];
  if (redisUrl) args.push('--redis', redisUrl);
  // RL_BENCH_CPU_PROF=DIR writes a V8 CPU profile of the service process there.
  const prof = process.env.RL_BENCH_CPU_PROF;
  if (prof) args.unshift('--cpu-prof', `--cpu-prof-dir=${prof}`);
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, TRELLIS_LOG_LEVEL: 'warn' },
  });
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      const g = /listening on (127\.0\.0\.1:\d+)/.exec(out);
      const h = /on (http:\/\/\S+)/.exec(out);
      if (g && h) resolve({ child, grpc: g[1]!, http: h[1]! });
    });
    child.once('exit', (code) => reject(new Error(`trellis ratelimit exited with ${code}: ${out}`)));
  });
}

async function stopService(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await exited;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** Server-side decision p99 from the Prometheus histogram (the bucket's upper bound). */
async function serverP99(http: string, domain: string): Promise<string> {
  const text = await (await fetch(`${http}/metrics`)).text();
  const buckets = [
    ...text.matchAll(new RegExp(`_bucket\\{domain="${domain}",le="([^"]+)"\\} (\\d+)`, 'g')),
  ].map((m) => [m[1]!, Number(m[2])] as const);
  const total = buckets.at(-1)?.[1] ?? 0;
  const hit = buckets.find(([, c]) => c >= total * 0.99);
  return hit ? `<= ${hit[0]} ms` : 'n/a';
}

async function measure(
  clients: RateLimitClient[],
  domain: string,
  keys: number,
  descriptorsPerCall: number,
  durationMs: number,
  maxCalls: number,
  record: boolean,
): Promise<{ calls: number; elapsedMs: number; latencies: Float64Array; overLimit: number }> {
  const latencies = new Float64Array(record ? maxCalls : 0);
  let issued = 0;
  let done = 0;
  let overLimit = 0;
  let seq = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async (_, worker) => {
      const client = clients[worker % clients.length]!;
      while (issued < maxCalls && performance.now() < deadline) {
        issued++;
        const descriptors = Array.from({ length: descriptorsPerCall }, () => ({
          entries: [{ key: 'user', value: `u${seq++ % keys}` }],
        }));
        const t0 = performance.now();
        const r = await client.shouldRateLimit({ domain, descriptors });
        if (record) latencies[done] = performance.now() - t0;
        done++;
        if (r.overall_code !== 'OK') overLimit++;
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  const lat = latencies.subarray(0, record ? done : 0).sort();
  return { calls: done, elapsedMs, latencies: lat, overLimit };
}

async function runBackend(label: string, redisUrl?: string): Promise<Row[]> {
  const svc = await startService(redisUrl);
  const clients = Array.from({ length: CHANNELS }, (_, i) =>
    rateLimitClient(`${svc.grpc}`, { 'grpc.use_local_subchannel_pool': 1, 'trellis.bench.channel': i }),
  );
  const rows: Row[] = [];
  try {
    const plans: [string, number, number][] = [
      ...KEY_COUNTS.map((k) => [`k${k}`, k, 1] as [string, number, number]),
      ['batch10000', 10_000, BATCH],
    ];
    if (label === 'redis') plans.push(['hot', 1, 1]);
    for (const [domain, keys, perCall] of plans) {
      // The first row also warms up the JIT and the connections.
      await measure(
        clients,
        domain,
        keys,
        perCall,
        rows.length === 0 ? WARMUP_MS * 3 : WARMUP_MS,
        MAX_REQUESTS,
        false,
      );
      const serviceCpu0 = processCpuMs(svc.child.pid!);
      const clientCpu0 = process.cpuUsage();
      const m = await measure(clients, domain, keys, perCall, MEASURE_MS, MAX_REQUESTS, true);
      const clientCpu = process.cpuUsage(clientCpu0);
      const serviceCpuMs = processCpuMs(svc.child.pid!) - serviceCpu0;
      const callsPerSec = (m.calls / m.elapsedMs) * 1000;
      rows.push({
        backend: domain === 'hot' ? `${label} (1 key over limit: local cache)` : label,
        keys,
        descriptorsPerCall: perCall,
        calls: m.calls,
        callsPerSec,
        decisionsPerSec: callsPerSec * perCall,
        p50: percentile(m.latencies, 0.5),
        p99: percentile(m.latencies, 0.99),
        serverP99: await serverP99(svc.http, domain),
        overLimit: m.overLimit,
        serviceCpuUs: (serviceCpuMs * 1000) / (m.calls * perCall),
        clientCpuUs: (clientCpu.user + clientCpu.system) / m.calls,
      });
      const r = rows.at(-1)!;
      console.error(
        `  ${label} keys=${keys} descriptors/call=${perCall}: ${Math.round(r.decisionsPerSec)} decisions/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`,
      );
    }
  } finally {
    for (const c of clients) c.close();
    await stopService(svc.child);
  }
  return rows;
}

function redisBenchmark(port: number): string {
  const r = spawnSync(
    'redis-benchmark',
    ['-p', String(port), '-t', 'incr', '-n', '200000', '-q', '-c', '50'],
    {
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  const m = /INCR: ([\d.]+) requests per second(?:, p50=([\d.]+) msec)?/.exec(r.stdout);
  return m
    ? `${Math.round(Number(m[1]))} INCR/s${m[2] ? ` (p50 ${m[2]} ms)` : ''}`
    : `failed: ${r.stdout || r.stderr}`;
}

function table(rows: Row[]): string {
  const header =
    '| backend | distinct keys | descriptors/call | calls | decisions/s | p50 (client) | p99 (client) | p99 (server decision) | service CPU/decision | client CPU/call |\n' +
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|';
  const lines = rows.map(
    (r) =>
      `| ${r.backend} | ${r.keys} | ${r.descriptorsPerCall} | ${r.calls} | ${Math.round(r.decisionsPerSec)} | ${r.p50.toFixed(2)} ms | ${r.p99.toFixed(2)} ms | ${r.serverP99} | ${r.serviceCpuUs.toFixed(0)} µs | ${r.clientCpuUs.toFixed(0)} µs |`,
  );
  return [header, ...lines].join('\n');
}

async function main(): Promise<void> {
  const write = !process.argv.includes('--no-write');
  const started = Date.now();
  console.error(
    `rate limit bench: ${CHANNELS} channels, ${IN_FLIGHT} calls in flight, ${MEASURE_MS} ms per row`,
  );
  const rows = await runBackend('memory');
  let redisLine = 'redis-server not installed: Redis rows skipped';
  if (redisServerAvailable()) {
    const redis = await RedisServer.start();
    try {
      rows.push(...(await runBackend('redis', redis.url)));
      redisLine = `redis-benchmark -t incr -n 200000 -c 50 on the same machine: ${redisBenchmark(redis.port)}`;
    } finally {
      await redis.stop();
    }
  }
  const text = [
    table(rows),
    '',
    redisLine,
    '',
    `Machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load avg ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} at the end; ` +
      `${CHANNELS} gRPC channels, ${IN_FLIGHT} unary calls in flight, service in its own process; limits set far above the load so every decision reaches the store. ` +
      `Total ${Math.round((Date.now() - started) / 1000)} s.`,
  ].join('\n');
  console.log(text);
  if (write) {
    const file = path.join(ROOT, 'bench/RESULTS.md');
    if (!fs.existsSync(file)) fs.writeFileSync(file, '# Benchmark results\n');
    fs.appendFileSync(
      file,
      `\n## Rate limit service (${new Date().toISOString().slice(0, 10)})\n\nCommand: \`npm run bench:ratelimit\`\n\n${text}\n`,
    );
    console.error(`appended to ${path.relative(ROOT, file)}`);
  }
}

await main();
