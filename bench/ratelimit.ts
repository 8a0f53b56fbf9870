/**
 * Rate limit service benchmark: decisions/s and latency of ShouldRateLimit over gRPC, for the
 * memory and the Redis backend with 1, 100 and 10,000 distinct keys, at saturation and at a
 * fixed 5,000 calls/s, beside `redis-benchmark -t incr` on the same machine.
 *
 * - The service runs as its own process (`trellis ratelimit`) pinned to core 0 (`taskset -c 0`);
 *   load generators and redis-server are pinned to core 1; everything on 127.0.0.1.
 * - Load generators: h2load (nghttp2-client; C, ~5 µs of CPU per call) sends one fixed,
 *   gRPC-framed RateLimitRequest, so it always hits ONE key; ./ratelimit-load.ts (raw
 *   node:http2, ~15-25 µs per call) round-robins over 100 or 10,000 distinct keys.
 * - Every run is bounded by a request count and a time limit, after a warm-up. Decisions are
 *   checked against the service's own counter (trellis_ratelimit_total_hits), since h2load
 *   checks only the HTTP status, not grpc-status.
 * - CPU per decision comes from /proc, so it holds even when other processes share the cores.
 *
 *   npm run bench:ratelimit                 (replaces the "Rate limit service" section of bench/RESULTS.md)
 *   npm run bench:ratelimit -- --no-write
 *   RL_BENCH_CPU_PROF=DIR npm run bench:ratelimit -- --no-write   (V8 CPU profiles of the service)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeMessage } from '../src/protocol/protos.js';
import { RedisServer, redisServerAvailable } from '../src/ratelimit/testdata/redis-server.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const PATH = '/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit';
const MEASURE_MS = Number(process.env.RL_BENCH_MS ?? 5000);
const MAX_REQUESTS = 300_000;
const RUN_TIMEOUT_MS = 60_000;
const SATURATION = { conns: 2, streams: 16 };
const FIXED_RATE = 5000;
/** RL_BENCH_PIN=0 lets the scheduler place every process (better on a machine shared with others). */
const PIN = process.env.RL_BENCH_PIN !== '0';
const CORES = (core: number) => (PIN ? String(core) : '0-1023');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-rl-bench-'));

interface Plan {
  /** h2load; raw: ./ratelimit-raw-h2.ts frames; node: node:http2's client. */
  generator: 'h2load' | 'raw' | 'node';
  domain: string;
  keys: number;
  descriptors: number;
  /** Calls per second, or saturation when undefined. */
  rate?: number;
}

interface Row extends Plan {
  impl: string;
  backend: string;
  calls: number;
  errors: number;
  /** Decisions the service counted during the run. */
  counted: number;
  decisionsPerSec: number;
  p50: number;
  p99: number;
  p99FromSchedule?: number;
  serviceCpuUs: number;
  clientCpuUs: number;
}

interface LoadResult {
  calls: number;
  errors: number;
  elapsedMs: number;
  p50: number;
  p99: number;
  p99FromSchedule?: number;
  cpuUsPerCall: number;
}

/** Installs a Debian package when its binary is missing (as root, like CI machines run). */
function ensureTool(bin: string, pkg: string): boolean {
  const has = () => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
  if (has()) return true;
  if (process.getuid?.() !== 0) return false;
  console.error(`installing ${pkg} for ${bin}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '-qq', pkg], { stdio: 'ignore', env, timeout: 300_000 });
  if (install().status !== 0) {
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env, timeout: 300_000 });
    install();
  }
  return has();
}

/** user+system CPU of a process, in ms, from /proc (Linux). */
function processCpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

function loadavg(): string {
  return fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

function configDir(): string {
  // Limits far above the offered load, so every decision reaches the store.
  const dir = path.join(TMP, 'config');
  fs.mkdirSync(dir, { recursive: true });
  const domains = ['k1', 'k100', 'k10000', 'batch10000'];
  const docs = domains.map(
    (d) =>
      `domain: ${d}\ndescriptors:\n  - key: user\n    rate_limit: { unit: second, requests_per_unit: 1000000000 }\n`,
  );
  fs.writeFileSync(path.join(dir, 'bench.yaml'), docs.join('---\n'));
  return dir;
}

interface Service {
  child: ChildProcess;
  grpc: string;
  http: string;
}

async function startService(impl: string, redisUrl?: string): Promise<Service> {
  const args = [
    path.join(ROOT, 'bin/trellis.mjs'),
    'ratelimit',
    '--config',
    configDir(),
    '--grpc-impl',
    impl,
    '--grpc-address',
    '127.0.0.1:0',
    '--http-address',
    '127.0.0.1:0',
  ];
  if (redisUrl) args.push('--redis', redisUrl);
  const prof = process.env.RL_BENCH_CPU_PROF;
  if (prof) args.unshift('--cpu-prof', `--cpu-prof-dir=${prof}`);
  const child = spawn('taskset', ['-c', CORES(0), process.execPath, ...args], {
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
  child.kill('SIGINT');
  await exited;
}

/** Decisions the service has counted for a domain (sum over its rules). */
async function counted(http: string, domain: string): Promise<number> {
  // One retry: a kept-alive connection may have been closed by the server between rows.
  const text = await fetch(`${http}/metrics`)
    .catch(() => fetch(`${http}/metrics`))
    .then((r) => r.text());
  let sum = 0;
  for (const m of text.matchAll(/^trellis_ratelimit_total_hits\{domain="([^"]+)",[^}]*\} (\d+)$/gm)) {
    if (m[1] === domain) sum += Number(m[2]);
  }
  return sum;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]! : NaN;
}

function bodyFile(domain: string): string {
  const file = path.join(TMP, `${domain}.bin`);
  const message = encodeMessage('envoy.service.ratelimit.v3.RateLimitRequest', {
    domain,
    descriptors: [{ entries: [{ key: 'user', value: 'u0' }] }],
  });
  const framed = Buffer.alloc(5 + message.length);
  framed.writeUInt32BE(message.length, 1);
  framed.set(message, 5);
  fs.writeFileSync(file, framed);
  return file;
}

/** One h2load run on core 1; its CPU comes from the wrapping shell's reaped-children counters. */
function h2load(service: Service, plan: Plan, requests: number): LoadResult {
  const log = path.join(TMP, 'h2load.log');
  fs.rmSync(log, { force: true });
  const conns = plan.rate ? 10 : SATURATION.conns;
  const args = [
    '-d',
    bodyFile(plan.domain),
    '-H',
    "'content-type: application/grpc'",
    '-H',
    "'te: trailers'",
    '-c',
    String(conns),
    '-m',
    String(plan.rate ? 4 : SATURATION.streams),
    '-n',
    String(requests),
    ...(plan.rate ? ['--rps', String(plan.rate / conns)] : []),
    '--log-file',
    log,
    `http://${service.grpc}${PATH}`,
  ];
  const script = `taskset -c ${CORES(1)} h2load ${args.join(' ')}; echo "cpu_ticks $(awk '{print $16+$17}' /proc/$$/stat)"`;
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: RUN_TIMEOUT_MS });
  const finished = /finished in ([\d.]+)(m?s)/.exec(r.stdout);
  const done = /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded/.exec(r.stdout);
  const ticks = /cpu_ticks (\d+)/.exec(r.stdout);
  if (!finished || !done) throw new Error(`h2load failed: ${r.stdout}${r.stderr}`);
  const latencies = Float64Array.from(
    fs
      .readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => Number(l.split('\t')[2]) / 1000),
  ).sort();
  const calls = Number(done[1]);
  return {
    calls,
    errors: calls - Number(done[2]),
    elapsedMs: Number(finished[1]) * (finished[2] === 'ms' ? 1 : 1000),
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    cpuUsPerCall: ticks ? (Number(ticks[1]) * 10_000) / calls : NaN,
  };
}

/** One ./ratelimit-load.ts run on core 1; `onMeasuring` fires when its warm-up is over. */
async function nodeLoad(service: Service, plan: Plan, onMeasuring: () => Promise<void>): Promise<LoadResult> {
  const args = [
    '-c',
    CORES(1),
    process.execPath,
    '--import',
    'tsx',
    path.join(ROOT, 'bench/ratelimit-load.ts'),
    '--client',
    plan.generator === 'node' ? 'node' : 'raw',
    '--target',
    service.grpc,
    '--domain',
    plan.domain,
    '--keys',
    String(plan.keys),
    '--descriptors',
    String(plan.descriptors),
    '--conns',
    String(SATURATION.conns),
    '--streams',
    String(SATURATION.streams),
    '--requests',
    String(MAX_REQUESTS),
    '--duration-ms',
    String(MEASURE_MS),
    ...(plan.rate ? ['--rate', String(plan.rate)] : []),
  ];
  const child = spawn('taskset', args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => {
    err += b.toString();
    if (err.includes('measuring')) {
      err = err.replace('measuring', '');
      void onMeasuring().then(() => child.stdin.write('go\n'));
    }
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`load generator exited with ${code}: ${err}`);
  return JSON.parse(out) as LoadResult;
}

async function run(service: Service, impl: string, backend: string, plan: Plan): Promise<Row> {
  const pid = service.child.pid!;
  let cpu0 = 0;
  let hits0 = 0;
  let result: LoadResult;
  if (plan.generator === 'h2load') {
    h2load(service, { ...plan, rate: undefined }, 20_000); // warm-up
    hits0 = await counted(service.http, plan.domain);
    cpu0 = processCpuMs(pid);
    const requests = plan.rate ? Math.round((plan.rate * MEASURE_MS) / 1000) : MAX_REQUESTS / 2;
    result = h2load(service, plan, requests);
  } else {
    result = await nodeLoad(service, plan, async () => {
      hits0 = await counted(service.http, plan.domain);
      cpu0 = processCpuMs(pid);
    });
  }
  const serviceCpuMs = processCpuMs(pid) - cpu0;
  const decisions = (await counted(service.http, plan.domain)) - hits0;
  const row: Row = {
    ...plan,
    impl,
    backend,
    calls: result.calls,
    errors: result.errors,
    counted: decisions,
    decisionsPerSec: ((result.calls * plan.descriptors) / result.elapsedMs) * 1000,
    p50: result.p50,
    p99: result.p99,
    p99FromSchedule: result.p99FromSchedule,
    serviceCpuUs: (serviceCpuMs * 1000) / Math.max(1, decisions),
    clientCpuUs: result.cpuUsPerCall,
  };
  console.error(
    `  ${impl} ${backend} ${plan.generator} ${plan.rate ? `${plan.rate}/s` : 'saturation'} keys=${plan.keys}x${plan.descriptors}: ` +
      `${Math.round(row.decisionsPerSec)} decisions/s, p50 ${row.p50.toFixed(2)} ms, p99 ${row.p99.toFixed(2)} ms, ` +
      `service ${row.serviceCpuUs.toFixed(1)} µs/decision (load ${loadavg()})`,
  );
  return row;
}

const PLANS: Plan[] = [
  { generator: 'h2load', domain: 'k1', keys: 1, descriptors: 1 },
  { generator: 'raw', domain: 'k1', keys: 1, descriptors: 1 },
  { generator: 'raw', domain: 'k100', keys: 100, descriptors: 1 },
  { generator: 'raw', domain: 'k10000', keys: 10_000, descriptors: 1 },
  { generator: 'node', domain: 'k10000', keys: 10_000, descriptors: 1 },
  { generator: 'raw', domain: 'batch10000', keys: 10_000, descriptors: 10 },
  { generator: 'h2load', domain: 'k1', keys: 1, descriptors: 1, rate: FIXED_RATE },
  { generator: 'raw', domain: 'k10000', keys: 10_000, descriptors: 1, rate: FIXED_RATE },
];

const GRPC_JS_PLANS: Plan[] = [
  { generator: 'h2load', domain: 'k1', keys: 1, descriptors: 1 },
  { generator: 'h2load', domain: 'k1', keys: 1, descriptors: 1, rate: FIXED_RATE },
];

async function runService(impl: string, backend: string, plans: Plan[], redisUrl?: string): Promise<Row[]> {
  const service = await startService(impl, redisUrl);
  const rows: Row[] = [];
  try {
    for (const plan of plans) rows.push(await run(service, impl, backend, plan));
  } finally {
    await stopService(service.child);
  }
  return rows;
}

function redisBenchmark(port: number): string {
  const r = spawnSync(
    'taskset',
    ['-c', CORES(1), 'redis-benchmark', '-p', String(port), '-t', 'incr', '-n', '200000', '-q', '-c', '50'],
    { encoding: 'utf8', timeout: RUN_TIMEOUT_MS },
  );
  const m = /INCR: ([\d.]+) requests per second(?:, p50=([\d.]+) msec)?/.exec(r.stdout);
  return m
    ? `${Math.round(Number(m[1]))} INCR/s${m[2] ? ` (p50 ${m[2]} ms)` : ''}`
    : `failed: ${r.stdout || r.stderr}`;
}

function table(rows: Row[]): string {
  const header =
    '| server | backend | load generator | load | distinct keys | descriptors/call | calls | decisions/s | p50 | p99 | service CPU/decision | generator CPU/call |\n' +
    '|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|';
  const lines = rows.map((r) => {
    const check =
      r.counted === r.calls * r.descriptors && r.errors === 0
        ? ''
        : ` (${r.errors} errors, ${r.counted} counted)`;
    return (
      `| ${r.impl} | ${r.backend} | ${r.generator} | ${r.rate ? `${r.rate} calls/s` : 'saturation'} | ${r.keys} | ${r.descriptors} | ` +
      `${r.calls}${check} | ${Math.round(r.decisionsPerSec)} | ${r.p50.toFixed(2)} ms | ${r.p99.toFixed(2)} ms${r.p99FromSchedule === undefined ? '' : ` (${r.p99FromSchedule.toFixed(2)} ms from schedule)`} | ` +
      `${r.serviceCpuUs.toFixed(1)} µs | ${r.clientCpuUs.toFixed(1)} µs |`
    );
  });
  return [header, ...lines].join('\n');
}

/** Replaces the "## Rate limit service" section of RESULTS.md (other sections belong to others). */
function writeSection(text: string): string {
  const file = path.join(ROOT, 'bench/RESULTS.md');
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmark results\n';
  const heading = `## Rate limit service (${new Date().toISOString().slice(0, 10)})`;
  const section = `${heading}\n\nCommand: \`npm run bench:ratelimit\`\n\n${text}\n`;
  const start = old.search(/^## Rate limit service/m);
  if (start === -1) {
    fs.writeFileSync(file, `${old.trimEnd()}\n\n${section}`);
  } else {
    const rest = old.slice(start + 1).search(/^## /m);
    const end = rest === -1 ? old.length : start + 1 + rest;
    fs.writeFileSync(
      file,
      `${old.slice(0, start)}${section}${end < old.length ? `\n${old.slice(end)}` : ''}`,
    );
  }
  return file;
}

async function main(): Promise<void> {
  const write = !process.argv.includes('--no-write');
  const started = Date.now();
  const loadBefore = loadavg();
  if (!ensureTool('h2load', 'nghttp2-client'))
    throw new Error('h2load is missing (apt-get install nghttp2-client)');
  ensureTool('redis-server', 'redis-server');
  ensureTool('redis-benchmark', 'redis-tools');
  console.error(`rate limit bench: ${MEASURE_MS} ms per row, load average ${loadBefore}`);
  const rows = await runService('fast', 'memory', PLANS);
  rows.push(...(await runService('grpc-js', 'memory', GRPC_JS_PLANS)));
  let redisLine = 'redis-server not installed: Redis rows skipped';
  if (redisServerAvailable()) {
    const redis = await RedisServer.start();
    try {
      if (redis.pid && PIN)
        spawnSync('taskset', ['-a', '-p', '-c', '1', String(redis.pid)], { stdio: 'ignore' });
      rows.push(...(await runService('fast', 'redis', PLANS, redis.url)));
      redisLine = `redis-benchmark -t incr -n 200000 -c 50 on the same machine (core 1): ${redisBenchmark(redis.port)}`;
    } finally {
      await redis.stop();
    }
  }
  const text = [
    table(rows),
    '',
    redisLine,
    '',
    `Machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}; load average ${loadBefore} before, ${loadavg()} after. ` +
      `${PIN ? 'Service pinned to core 0, load generators and redis-server to core 1' : 'No pinning (RL_BENCH_PIN=0)'}. Saturation: ${SATURATION.conns} connections x ${SATURATION.streams} streams; ` +
      `fixed rate: h2load 10 connections at ${FIXED_RATE / 10}/s each, the Node generator on an open-loop schedule. ` +
      `${MEASURE_MS} ms (h2load: ${MAX_REQUESTS / 2} calls) per saturation row after a warm-up. Total ${Math.round((Date.now() - started) / 1000)} s.`,
  ].join('\n');
  console.log(text);
  if (write) console.error(`wrote ${path.relative(ROOT, writeSection(text))}`);
  fs.rmSync(TMP, { recursive: true, force: true });
}

await main();
