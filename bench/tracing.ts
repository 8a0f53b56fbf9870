/**
 * What tracing costs the Trellis proxy per request. One `trellis proxy` on core 0 (as users start
 * it, through bin/trellis), configured by a FakeAds in this process; wrk (core 1) sends GETs to
 * its outbound listener, which routes to a Node echo app in this process. The same proxy runs
 * three configs in turn (an LDS update between rows):
 *
 *   tracing off     the HCM has no `tracing` (the request id and trace headers are still written)
 *   on, 0%          Envoy's OpenTelemetry tracer, random_sampling 0: every request extracts and
 *                   injects trace context (W3C + B3) and makes a decision, no span is built
 *   on, 100%        every request builds a span with Envoy's tags and exports it (OTLP
 *                   HTTP/protobuf, batches of 512, to a receiver in this process)
 *
 * Columns: rps at saturation (wrk -t1 -c32) and the proxy's CPU per request (user + system from
 * /proc over the run, divided by requests), and spans the receiver got.
 *
 *   npm run build && npm run bench:tracing [-- --seconds 5] [--repeat 3]
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { TYPE, packAny } from '../src/protocol/protos.js';
import { FakeAds } from '../src/proxy/testing/fake-ads.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  virtualHost,
} from '../src/proxy/testing/resources.js';
import { children, cpuSeconds, freePort, startTrellisProxy, stop } from './support.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const APP = 'outbound|9080||app.default.svc.cluster.local';
const COLLECTOR = 'outbound|4318||otel-collector.observability.svc.cluster.local';

const { values: flags } = parseArgs({
  options: { seconds: { type: 'string', default: '5' }, repeat: { type: 'string', default: '1' } },
});
const seconds = Number(flags.seconds);
const repeat = Math.max(1, Number(flags.repeat));

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as net.AddressInfo).port;
}

const app = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
let exportedBytes = 0;
let exports = 0;
const collector = http.createServer((req, res) => {
  req.on('data', (c: Buffer) => (exportedBytes += c.length));
  req.on('end', () => {
    exports++;
    res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
});
const appPort = await listen(app);
const collectorPort = await listen(collector);

function tracing(random: number): Record<string, unknown> {
  return {
    provider: {
      name: 'envoy.tracers.opentelemetry',
      typed_config: packAny(TYPE.openTelemetryTracer, {
        service_name: 'bench.default',
        http_service: {
          http_uri: { uri: 'otel-collector/v1/traces', cluster: COLLECTOR, timeout: { seconds: 5 } },
        },
      }),
    },
    random_sampling: { value: random },
    custom_tags: [{ tag: 'istio.canonical_service', literal: { value: 'bench' } }],
  };
}

function listener(random: number | undefined): object {
  const l = httpListener(9080, '9080', random === undefined ? {} : { hcm: { tracing: tracing(random) } });
  return { ...l, traffic_direction: 'OUTBOUND' };
}

const ads = await FakeAds.start();
ads.set('CDS', [edsCluster(APP), edsCluster(COLLECTOR)]);
ads.set('EDS', [endpoints(APP, [{ port: appPort }]), endpoints(COLLECTOR, [{ port: collectorPort }])]);
ads.set('RDS', [
  routeConfig('9080', [
    virtualHost(
      'app',
      ['app:9080'],
      [{ match: { prefix: '/' }, route: { cluster: APP }, decorator: { operation: 'app:9080/*' } }],
    ),
  ]),
]);
ads.set('LDS', [listener(undefined)]);
const ports = { admin: await freePort(), outbound: await freePort(), inbound: await freePort() };
const proxy = await startTrellisProxy({
  bin: path.join(ROOT, 'bin/trellis'),
  xds: ads.address,
  workload: 'bench',
  ports,
});

async function runWrk(): Promise<number> {
  // Asynchronously: the app and the collector answer from this process's event loop.
  const { stdout: out } = await promisify(execFile)(
    'taskset',
    [
      '-c',
      '1',
      'wrk',
      '-t1',
      '-c32',
      `-d${seconds}s`,
      '-H',
      'Host: app:9080',
      `http://127.0.0.1:${ports.outbound}/bench`,
    ],
    { encoding: 'utf8', timeout: (seconds + 30) * 1000 },
  );
  if (/Non-2xx|Socket errors/.test(out)) process.stderr.write(`wrk reported errors:\n${out}\n`);
  const total = /(\d+) requests in/.exec(out);
  return Number(total?.[1] ?? 0);
}

const rows: { name: string; random: number | undefined }[] = [
  { name: 'tracing off', random: undefined },
  { name: 'on, 0% sampled', random: 0 },
  { name: 'on, 100% sampled', random: 100 },
];
const lines = [
  '| config | rps (c=32) | proxy CPU/req | spans exported | OTLP bytes/span |',
  '|---|---|---|---|---|',
];
for (const row of rows) {
  ads.set('LDS', [listener(row.random)]);
  await ads.waitForAck('LDS');
  await runWrk(); // warm-up of this config (JIT, pools)
  const runs: { rps: number; cpuUs: number }[] = [];
  const bytesBefore = exportedBytes;
  let spans = 0;
  for (let i = 0; i < repeat; i++) {
    const cpu0 = cpuSeconds(proxy.pid);
    const requests = await runWrk();
    const cpu = cpuSeconds(proxy.pid) - cpu0;
    runs.push({ rps: requests / seconds, cpuUs: (cpu / requests) * 1e6 });
    if (row.random === 100) spans += requests;
    process.stderr.write(
      `${row.name} run ${i + 1}: ${(requests / seconds).toFixed(0)} rps, ${((cpu / requests) * 1e6).toFixed(1)} us/req\n`,
    );
  }
  runs.sort((a, b) => a.cpuUs - b.cpuUs);
  const median = runs[Math.floor(runs.length / 2)]!;
  const bytes = exportedBytes - bytesBefore;
  lines.push(
    `| ${row.name} | ${median.rps.toFixed(0)} | ${median.cpuUs.toFixed(1)} us | ${row.random === 100 ? `~${spans}` : 0} | ${spans > 0 ? (bytes / spans).toFixed(0) : '-'} |`,
  );
}
process.stdout.write(lines.join('\n') + `\n(export requests: ${exports})\n`);

await stop(proxy);
for (const c of children) await stop(c);
await ads.close();
app.closeAllConnections();
collector.closeAllConnections();
app.close();
collector.close();
