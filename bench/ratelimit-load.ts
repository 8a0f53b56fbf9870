/**
 * Node load generator for the rate limit benchmark: ShouldRateLimit calls, many concurrent
 * streams on a few connections, round-robin over `--keys` distinct descriptor values (which
 * h2load, sending one fixed body, cannot do). Two clients:
 *   --client raw   pre-encoded HTTP/2 frames on a bare socket (./ratelimit-raw-h2.ts), a few
 *                  µs of CPU per call, so the generator does not dominate (the default);
 *   --client node  node:http2's client (~50-60 µs per call), for comparison.
 * Run by bench/ratelimit.ts as its own process pinned to a core; prints one JSON line with
 * calls, errors, latency percentiles and its own CPU per call. After the warm-up it writes
 * `measuring` to stderr and waits for a line on stdin, so the caller can take its snapshots.
 *
 *   closed loop: --conns C --streams S   (C*S calls in flight)
 *   open loop:   --rate R                 (R calls/s on schedule; latency counted from the
 *                                         scheduled send time, so a stall is not hidden)
 * Always bounded: --requests N and --duration-ms D, whichever comes first.
 */
import http2 from 'node:http2';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { encodeMessage } from '../src/protocol/protos.js';
import { RawH2Connection } from './ratelimit-raw-h2.js';

const PATH = '/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit';
const HEADERS = { ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers' };

const { values } = parseArgs({
  options: {
    target: { type: 'string' },
    client: { type: 'string', default: 'raw' },
    domain: { type: 'string' },
    keys: { type: 'string', default: '1' },
    descriptors: { type: 'string', default: '1' },
    conns: { type: 'string', default: '4' },
    streams: { type: 'string', default: '32' },
    rate: { type: 'string' },
    requests: { type: 'string', default: '200000' },
    'duration-ms': { type: 'string', default: '5000' },
    'warmup-ms': { type: 'string', default: '1000' },
  },
});
const keys = Number(values.keys);
const perCall = Number(values.descriptors);
const conns = Number(values.conns);
const streams = Number(values.streams);
const rate = values.rate === undefined ? undefined : Number(values.rate);
const maxRequests = Number(values.requests);
const durationMs = Number(values['duration-ms']);
const warmupMs = Number(values['warmup-ms']);

function frame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

// One body per call shape, built up front: key i of `keys`, `perCall` descriptors each.
const bodies = Array.from({ length: Math.max(1, Math.ceil(keys / perCall)) }, (_, i) =>
  frame(
    encodeMessage('envoy.service.ratelimit.v3.RateLimitRequest', {
      domain: values.domain,
      descriptors: Array.from({ length: perCall }, (_, j) => ({
        entries: [{ key: 'user', value: `u${(i * perCall + j) % keys}` }],
      })),
    }),
  ),
);

const [host, port] = [values.target!.replace(/:\d+$/, ''), Number(/:(\d+)$/.exec(values.target!)?.[1])];
const raw =
  values.client === 'raw'
    ? await Promise.all(Array.from({ length: conns }, () => RawH2Connection.connect(host, port, PATH)))
    : [];
const sessions =
  values.client === 'raw'
    ? []
    : await Promise.all(
        Array.from(
          { length: conns },
          () =>
            new Promise<http2.ClientHttp2Session>((resolve, reject) => {
              const s = http2.connect(`http://${values.target}`, {
                settings: { initialWindowSize: 1 << 20 },
              });
              s.once('connect', () => resolve(s));
              s.once('error', reject);
            }),
        ),
      );

let seq = 0;
/** One call; `done(ok)` when its trailers (or trailers-only headers) have arrived. */
function call(done: (ok: boolean) => void): void {
  const body = bodies[seq % bodies.length]!;
  if (raw.length) {
    raw[seq++ % raw.length]!.call(body, done);
    return;
  }
  const session = sessions[seq % sessions.length]!;
  seq++;
  const req = session.request(HEADERS);
  let status: string | string[] | undefined;
  req.on('response', (h) => {
    status = h['grpc-status'];
  });
  req.on('trailers', (t) => {
    status = t['grpc-status'];
  });
  req.on('data', () => undefined);
  req.on('end', () => done(status === '0'));
  req.on('error', () => done(false));
  req.end(body);
}

interface Result {
  calls: number;
  errors: number;
  elapsedMs: number;
  /** From the moment each call was written. */
  latencies: Float64Array;
  /** Open loop: from the moment each call was due, so the generator's own lateness counts too. */
  fromSchedule?: Float64Array;
}

/** Closed loop: `conns * streams` calls in flight until the time or count runs out. */
async function closedLoop(ms: number, limit: number, record: boolean): Promise<Result> {
  const latencies = new Float64Array(record ? limit : 0);
  let issued = 0;
  let done = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + ms;
  await new Promise<void>((resolve) => {
    let active = 0;
    const next = () => {
      if (issued >= limit || performance.now() >= deadline) {
        if (active === 0) resolve();
        return;
      }
      issued++;
      active++;
      const t0 = performance.now();
      call((ok) => {
        active--;
        if (record) latencies[done] = performance.now() - t0;
        done++;
        if (!ok) errors++;
        next();
      });
    };
    for (let i = 0; i < conns * streams; i++) next();
  });
  return {
    calls: done,
    errors,
    elapsedMs: performance.now() - started,
    latencies: latencies.subarray(0, done),
  };
}

/** Open loop: calls sent on a fixed schedule, whatever the answers do. */
async function openLoop(perSecond: number, ms: number, limit: number): Promise<Result> {
  const total = Math.min(limit, Math.floor((perSecond * ms) / 1000));
  const latencies = new Float64Array(total);
  const fromSchedule = new Float64Array(total);
  let issued = 0;
  let done = 0;
  let errors = 0;
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - started) * perSecond) / 1000));
      while (issued < due) {
        const scheduled = started + (issued * 1000) / perSecond;
        issued++;
        call((ok) => {
          const end = performance.now();
          latencies[done] = end - now;
          fromSchedule[done++] = end - scheduled;
          if (!ok) errors++;
          if (done === total) resolve();
        });
      }
      if (issued < total) setTimeout(tick, 1);
    };
    tick();
    // Bound the wait even if answers never come.
    setTimeout(resolve, ms + 10_000).unref();
  });
  return {
    calls: done,
    errors,
    elapsedMs: performance.now() - started,
    latencies: latencies.subarray(0, done),
    fromSchedule: fromSchedule.subarray(0, done),
  };
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]! : NaN;
}

await closedLoop(warmupMs, maxRequests, false);
process.stderr.write('measuring\n');
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
process.stdin.pause();
const cpu0 = process.cpuUsage();
const r =
  rate === undefined
    ? await closedLoop(durationMs, maxRequests, true)
    : await openLoop(rate, durationMs, maxRequests);
const cpu = process.cpuUsage(cpu0);
const sorted = r.latencies.sort();
for (const s of sessions) s.close();
for (const c of raw) c.close();
console.log(
  JSON.stringify({
    calls: r.calls,
    errors: r.errors,
    elapsedMs: r.elapsedMs,
    p99FromSchedule: r.fromSchedule ? percentile(r.fromSchedule.sort(), 0.99) : undefined,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: percentile(sorted, 1),
    cpuUsPerCall: (cpu.user + cpu.system) / Math.max(1, r.calls),
  }),
);
