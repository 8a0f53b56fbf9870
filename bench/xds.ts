/**
 * The control plane's scale benchmark: a synthetic mesh of N services served to M simulated
 * sidecars (a separate process with real gRPC ADS streams). Measures the initial full sync,
 * the time from a VirtualService weight change to the last proxy's ACK of the resulting RDS
 * push, bytes sent per proxy, and the control plane's RSS and CPU.
 *
 *   npm run bench:xds -- [--services 2000] [--proxies 1000] [--scoped] [--changes 5]
 *                        [--namespaces 5] [--per-channel 25] [--debounce-ms 100]
 *                        [--push-concurrency 32] [--decode-all] [--timeout-s 900] [--quick]
 *                        [--profile-changes FILE.cpuprofile]
 *
 * Everything binds 127.0.0.1; every wait is bounded; the process exits by itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startProfiler } from './xds-profile-session.js';
import { validateResource } from '../src/api/validate.js';
import { MemoryConfigStore } from '../src/config/memory-store.js';
import { ControlPlane } from '../src/controlplane/control-plane.js';
import type { AckEvent, ChildMessage, ParentMessage } from './xds-ipc.js';
import {
  changedService,
  changedWeights,
  dependents,
  meshResources,
  virtualService,
  type MeshShape,
} from './xds-mesh.js';
import { cpuSeconds, kib, mib, ms, percentile, sentBytes, table } from './xds-report.js';

const { values } = parseArgs({
  options: {
    services: { type: 'string' },
    proxies: { type: 'string' },
    namespaces: { type: 'string', default: '5' },
    scoped: { type: 'boolean', default: false },
    changes: { type: 'string' },
    'per-channel': { type: 'string', default: '25' },
    'debounce-ms': { type: 'string', default: '100' },
    'push-concurrency': { type: 'string', default: '32' },
    'decode-all': { type: 'boolean', default: false },
    'timeout-s': { type: 'string', default: '900' },
    quick: { type: 'boolean', default: false },
    'profile-changes': { type: 'string' },
    'max-rss-mb': { type: 'string', default: '8000' },
  },
});

const quick = values.quick === true;
const shape: MeshShape = {
  services: Number(values.services ?? (quick ? 100 : 2000)),
  namespaces: Number(values.namespaces),
  scoped: values.scoped === true,
};
const proxies = Number(values.proxies ?? (quick ? 50 : 1000));
const changes = Number(values.changes ?? (quick ? 3 : 5));
const perChannel = Number(values['per-channel']);
const debounceMs = Number(values['debounce-ms']);
const deadline = Date.now() + Number(values['timeout-s']) * 1000;
const now = (): number => performance.timeOrigin + performance.now();
const log = (msg: string): void => console.error(`[bench:xds ${((now() - t0) / 1000).toFixed(1)}s] ${msg}`);
const t0 = now();

// --- the control plane ------------------------------------------------------------------------

const resources = meshResources(shape);
for (const r of resources) {
  const errors = validateResource(r).filter((p) => p.severity === 'error');
  if (errors.length)
    throw new Error(`generated ${r.kind}/${r.metadata.name} is invalid: ${JSON.stringify(errors)}`);
}
const store = new MemoryConfigStore(validateResource);
store.replaceAll(resources);
log(`${resources.length} resources for ${shape.services} services${shape.scoped ? ' (with Sidecars)' : ''}`);

// The machine is shared: a run that outgrows --max-rss-mb stops waiting and reports what it has.
const maxRss = Number(values['max-rss-mb']) * 1024 * 1024;
let aborted = '';
let peakRss = process.memoryUsage().rss;
let peakBuffers = 0;
const rssTimer = setInterval(() => {
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakBuffers = Math.max(peakBuffers, m.arrayBuffers);
  if (m.rss > maxRss && !aborted) {
    aborted = `control plane RSS passed ${values['max-rss-mb']} MB`;
    log(`ABORTING: ${aborted}`);
  }
}, 50);
const cpuStart = process.cpuUsage();
const cp = new ControlPlane({
  config: store,
  debounce: { quietMs: debounceMs, maxMs: 10_000 },
  pushConcurrency: Number(values['push-concurrency']),
});
const bound = await cp.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 });
log(`control plane on 127.0.0.1:${bound.xds.port}, first push context built`);

// --- the simulator ------------------------------------------------------------------------------

const acks: AckEvent[] = [];
const ackWaiters = new Set<() => void>();
let childCpu = { user: 0, system: 0, rss: 0 };
let channels = 0;
/** When the simulator began opening streams (after its own start-up and proto loading). */
let connectingAt = NaN;
const errors: string[] = [];
const here = path.dirname(fileURLToPath(import.meta.url));
const child: ChildProcess = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    path.join(here, 'xds-proxies.ts'),
    `--port=${bound.xds.port}`,
    `--proxies=${proxies}`,
    `--services=${shape.services}`,
    `--namespaces=${shape.namespaces}`,
    `--per-channel=${perChannel}`,
    `--max-rss-mb=${values['max-rss-mb']}`,
    ...(values['decode-all'] ? ['--decode-all'] : []),
  ],
  { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
);
const cpuWaiters: (() => void)[] = [];
child.on('message', (m: ChildMessage) => {
  if (m.t === 'acks') {
    for (const a of m.acks) acks.push(a);
    for (const w of ackWaiters) w();
  } else if (m.t === 'connecting') {
    connectingAt = m.at;
  } else if (m.t === 'started') {
    channels = m.channels;
    log(`simulator opened ${proxies} streams on ${m.channels} channels in ${ms(m.ms)}`);
  } else if (m.t === 'cpu') {
    childCpu = m;
    cpuWaiters.splice(0).forEach((w) => w());
  } else if (errors.length < 5) {
    errors.push(`proxy ${m.proxy}: ${m.message}`);
  }
});
let stopping = false;
const childExited = new Promise<void>((resolve) =>
  child.once('exit', (code) => {
    if (!stopping && !aborted) aborted = `the simulator exited early (code ${code}): ${errors.join('; ')}`;
    resolve();
  }),
);

async function ask(msg: ParentMessage): Promise<void> {
  if (!child.connected) return;
  const got = new Promise<void>((resolve) => cpuWaiters.push(resolve));
  child.send(msg);
  await Promise.race([got, sleep(10_000)]);
}

function sleep(msDelay: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, msDelay));
}

/** Waits until `done()` holds (checked on every batch of ACKs and every 200 ms) or `limitMs`. */
async function until(done: () => boolean, limitMs: number): Promise<boolean> {
  const end = Math.min(deadline, Date.now() + limitMs);
  while (!done()) {
    if (Date.now() > end || aborted) return false;
    await new Promise<void>((resolve) => {
      const t = setTimeout(finish, 200);
      function finish(): void {
        clearTimeout(t);
        ackWaiters.delete(finish);
        resolve();
      }
      ackWaiters.add(finish);
    });
  }
  return true;
}

// --- initial sync -------------------------------------------------------------------------------

const TYPES = ['CDS', 'EDS', 'LDS', 'RDS'];
const syncedAt = new Map<number, number>();
let scanned = 0;
const ackedTypes = new Map<number, Set<string>>();
function syncProgress(): number {
  for (; scanned < acks.length; scanned++) {
    const a = acks[scanned]!;
    let set = ackedTypes.get(a.proxy);
    if (!set) ackedTypes.set(a.proxy, (set = new Set()));
    set.add(a.type);
    if (set.size === TYPES.length && !syncedAt.has(a.proxy)) syncedAt.set(a.proxy, a.at);
  }
  return syncedAt.size;
}
const synced = await until(() => syncProgress() === proxies, deadline - Date.now());
const syncStart = connectingAt;
const syncTimes = [...syncedAt.values()].map((t) => t - syncStart);
const syncMs = synced ? Math.max(...syncTimes) : NaN;
const initialBytesServer = sentBytes(cp.metrics.render());
const initialBytesClient = acks.reduce((s, a) => s + a.bytes, 0);
const resourcesPerProxy = TYPES.map((t) => `${t} ${acks.find((a) => a.type === t)?.resources ?? 0}`).join(
  ', ',
);
const cpuSync = process.cpuUsage(cpuStart);
await ask({ t: 'cpu' });
const childCpuSync = { ...childCpu };
log(
  synced
    ? `initial sync of ${proxies} proxies in ${ms(syncMs)}`
    : `initial sync timed out: ${syncedAt.size}/${proxies} proxies`,
);

// --- VirtualService weight changes ---------------------------------------------------------------

interface ChangeResult {
  expected: number;
  rdsAcked: number;
  p50: number;
  p99: number;
  max: number;
  pushed: number;
  otherTypes: Record<string, number>;
  bytes: number;
}
const target = changedService(shape);
const expectedSet = new Set(dependents(target, proxies, shape));
const changeResults: ChangeResult[] = [];
const profiler = values['profile-changes'] ? await startProfiler() : undefined;
const cpuBeforeChanges = process.cpuUsage();
const childCpuBefore = { ...childCpu };
for (let i = 0; i < changes && synced && !aborted; i++) {
  // Let the previous change settle so each one is its own debounce burst.
  await sleep(Math.max(quick ? 150 : 300, debounceMs * 2));
  const from = acks.length;
  const bytesBefore = sentBytes(cp.metrics.render());
  const at = now();
  store.apply(virtualService(target, shape, changedWeights(i)));
  const rdsAt = new Map<number, number>();
  const done = await until(() => {
    for (let k = from; k < acks.length; k++) {
      const a = acks[k]!;
      if (a.type === 'RDS' && !rdsAt.has(a.proxy)) rdsAt.set(a.proxy, a.at);
    }
    return [...expectedSet].every((p) => rdsAt.has(p));
  }, 120_000);
  // A grace period to catch pushes to proxies that should not have received any.
  await sleep(Math.max(quick ? 300 : 500, debounceMs * 3));
  const window = acks.slice(from);
  const otherTypes: Record<string, number> = {};
  for (const a of window) if (a.type !== 'RDS') otherTypes[a.type] = (otherTypes[a.type] ?? 0) + 1;
  const lat = [...expectedSet].filter((p) => rdsAt.has(p)).map((p) => rdsAt.get(p)! - at);
  const r: ChangeResult = {
    expected: expectedSet.size,
    rdsAcked: lat.length,
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    max: lat.length ? Math.max(...lat) : NaN,
    pushed: new Set(window.map((a) => a.proxy)).size,
    otherTypes,
    bytes: sentBytes(cp.metrics.render()) - bytesBefore,
  };
  changeResults.push(r);
  log(
    `change ${i + 1}: ${r.rdsAcked}/${r.expected} proxies ACKed RDS${done ? '' : ' (TIMED OUT)'}; ` +
      `p50 ${ms(r.p50)} p99 ${ms(r.p99)} max ${ms(r.max)}; ${r.pushed} proxies got a push`,
  );
}
const cpuChanges = process.cpuUsage(cpuBeforeChanges);
if (profiler) await profiler.stop(values['profile-changes']!);
await ask({ t: 'cpu' });
const childCpuChanges = {
  user: childCpu.user - childCpuBefore.user,
  system: childCpu.system - childCpuBefore.system,
};

// --- report --------------------------------------------------------------------------------------

clearInterval(rssTimer);
peakRss = Math.max(peakRss, process.memoryUsage().rss);
const heap = process.memoryUsage().heapUsed;
const agg = (f: (r: ChangeResult) => number) => changeResults.map(f);
const medianOf = (xs: number[]) => percentile(xs, 50);
const rows: [string, string][] = [
  [
    'services / proxies',
    `${shape.services} / ${proxies}${shape.scoped ? ' (Sidecar: 10 deps each)' : ' (no Sidecar)'}`,
  ],
  ['gRPC channels (TCP connections)', `${channels} (${perChannel} streams each)`],
  ['resources per proxy', resourcesPerProxy],
  [
    'initial sync (first stream -> all ACKed CDS+EDS+LDS+RDS)',
    synced ? ms(syncMs) : `TIMEOUT (${syncedAt.size}/${proxies})`,
  ],
  [
    'initial sync, per proxy p50 / p99',
    `${ms(percentile(syncTimes, 50))} / ${ms(percentile(syncTimes, 99))}`,
  ],
  ['initial bytes per proxy (server metric)', kib(initialBytesServer / proxies)],
  ['initial bytes per proxy (received)', kib(initialBytesClient / proxies)],
  ['VS change -> RDS ACK, changes run', `${changeResults.length} (debounce ${debounceMs} ms included)`],
  ['  p50 over proxies (median of runs)', ms(medianOf(agg((r) => r.p50)))],
  [
    '  p99 over proxies (median / worst run)',
    `${ms(medianOf(agg((r) => r.p99)))} / ${ms(Math.max(...agg((r) => r.p99)))}`,
  ],
  [
    '  last proxy (median / worst run)',
    `${ms(medianOf(agg((r) => r.max)))} / ${ms(Math.max(...agg((r) => r.max)))}`,
  ],
  [
    '  per-run p99',
    agg((r) => r.p99)
      .map(ms)
      .join(', '),
  ],
  [
    '  proxies that got a push (expected)',
    `${changeResults.map((r) => r.pushed).join(', ')} (${expectedSet.size})`,
  ],
  [
    '  non-RDS pushes per change',
    changeResults
      .map(
        (r) =>
          Object.entries(r.otherTypes)
            .map(([k, v]) => `${k}:${v}`)
            .join(' ') || '0',
      )
      .join(', '),
  ],
  ['  bytes per pushed proxy per change', kib(medianOf(agg((r) => r.bytes / Math.max(1, r.pushed))))],
  ['control plane peak RSS / heap at end', `${mib(peakRss)} / ${mib(heap)}`],
  ['control plane peak Buffer memory (queued responses)', mib(peakBuffers)],
  ['control plane CPU: start + initial sync', cpuSeconds(cpuSync)],
  ['control plane CPU: all changes', cpuSeconds(cpuChanges)],
  ['simulator CPU: initial sync / changes', `${cpuSeconds(childCpuSync)} / ${cpuSeconds(childCpuChanges)}`],
  ['simulator peak RSS', mib(childCpu.rss)],
];
if (aborted) rows.push(['ABORTED', aborted]);
if (errors.length) rows.push(['stream errors (first 5)', errors.join('; ')]);
console.log(`\nxDS scale benchmark (SotW ADS, ${new Date().toISOString()})\n`);
console.log(table(rows));

stopping = true;
if (child.connected) child.send({ t: 'stop' } satisfies ParentMessage);
await Promise.race([childExited, sleep(10_000)]);
if (child.exitCode === null) child.kill();
await cp.stop();
const ok = synced && changeResults.every((r) => r.rdsAcked === r.expected);
process.exit(ok ? 0 : 1);
