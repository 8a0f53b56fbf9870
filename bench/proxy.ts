/**
 * Proxy throughput, measured as issue 3 asks: every server is its own process on 127.0.0.1, each
 * proxy pinned to core 0 (`taskset -c 0`), the load generator and the backend on core 1.
 *
 *   backend        nginx, `return 200 "ok"` (nginx-light from Debian, installed when missing)
 *   direct         wrk -> nginx
 *   haproxy        wrk -> HAProxy (1 thread, http-reuse always) -> nginx
 *   nginx proxy    wrk -> nginx proxy_pass (1 worker, upstream keepalive) -> nginx
 *   trellis 1 hop  wrk -> `trellis proxy` outbound -> nginx
 *   trellis 2 hops wrk -> client sidecar outbound -> server sidecar inbound (ORIGINAL_DST) -> nginx
 *   trellis 2 hops, inbound listener / mTLS   the same two sidecars with Istio's sidecar shapes:
 *                  the server's inbound listener is PERMISSIVE (TLS inspector, an mTLS chain and a
 *                  plaintext chain); the client reaches it plaintext, or with ISTIO_MUTUAL (its
 *                  workload certificate from the CA over `trellis proxy --credential-file`)
 *   haproxy 2 hops mTLS   wrk -> HAProxy (TLS client with a workload certificate, http-reuse
 *                  always) -> HAProxy (TLS server, client certificate required) -> nginx: the peer
 *                  for two mTLS sidecar hops
 *
 * After the table, new-connection handshakes per second against each mTLS server side
 * (`openssl s_time -new` with a client certificate, ECDSA P-256 certificates from src/ca). For
 * the Trellis sidecar that is a STRICT inbound listener of the same server proxy, whose mTLS
 * chain matches any TLS (as Istio's STRICT chain does): s_time offers no ALPN, and the rows'
 * PERMISSIVE listener (as Istio's) sends TLS to its mTLS chain only with Istio's ALPN values, so
 * s_time found no filter chain there and was closed (`unexpected eof`).
 *
 * The Trellis proxies are configured by a FakeAds in this process (routing via RDS, Istio
 * metrics on, request id / trace headers propagated, no access log). Columns: rps at saturation
 * (wrk -t1 -c64), p50/p99 at concurrency 1 (wrk -c1), p50/p99 at a fixed 1000 rps (open loop:
 * wrk2 when installed, else the Node generator in this file, latency from the scheduled send
 * time), and the proxy's RSS after the 1000 rps run (summed over both sidecars for two hops).
 *
 *   npm run bench:proxy [-- --seconds 5] [--only trellis] [--profile DIR] [--trellis-bin PATH]
 *                       [--node-flags FLAGS] [--repeat N] [--saturation-only] [--handshakes-only]
 *
 * --repeat N runs each row's saturation (and handshake) measurement N times and shows the median
 * CPU per request (all runs on stderr); --saturation-only skips the c=1, fixed-rate and handshake
 * measurements (quick A/B of CPU per request); --handshakes-only measures the handshake rows alone
 * (with --profile: a profile of handshakes). For two proxies the CPU column also shows each one's
 * share.
 *
 * --trellis-bin runs another checkout's bin/trellis.mjs (A/B comparisons of proxy changes).
 * The Trellis proxies start as users start them, through bin/trellis (which gives `proxy` its
 * node flags). --node-flags="..." replaces those flags ("" for node's defaults). A --trellis-bin
 * that names a .mjs runs with node's defaults: to compare code alone, give both runs of an A/B
 * the same --node-flags.
 *
 * --profile DIR runs every Trellis proxy with `node --cpu-prof` (profiles in DIR, one per
 * proxy, named after its workload: `client`, `server` for the plaintext rows, `mtls-client`,
 * `mtls-server` for the inbound listener and mTLS rows) and measures only the saturation run of
 * the rows --only selects, so each profile is that load (plus start and drain). Profile both
 * hops of the mTLS row with `--only 'trellis, 2 hops mTLS' --profile DIR`; read a profile with
 * `node --import tsx bench/xds-profile.ts FILE`.
 */
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { generateKeyAndCsr } from '../src/ca/workload.js';
import * as grpc from '@grpc/grpc-js';
import { loadCaState } from '../src/controlplane/ca-service-state.js';
import { CaService } from '../src/controlplane/ca-service.js';
import { MetricsRegistry } from '../src/core/metrics.js';
import { FakeAds } from '../src/proxy/testing/fake-ads.js';
import { appCluster, inboundListener, istioMutual, spiffe } from '../src/proxy/testing/mesh-tls.js';
import {
  children,
  cpuSeconds,
  freePort,
  quantile,
  rssMb,
  start,
  startTrellisProxy,
  stop,
  waitForPort,
} from './support.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  routeTo,
  virtualHost,
} from '../src/proxy/testing/resources.js';

const ROOT = path.resolve(import.meta.dirname, '..');

interface Latency {
  p50: number;
  p99: number;
}

/** Open-loop generator (child mode): `--open-loop PORT HOST RATE SECONDS`, prints JSON. */
async function openLoop(port: number, host: string, rate: number, seconds: number): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const latencies: number[] = [];
  let errors = 0;
  const total = rate * seconds;
  const t0 = performance.now() + 50;
  let sent = 0;
  let done = 0;
  await new Promise<void>((resolve) => {
    const fire = (scheduled: number) => {
      const req = http.request(
        { host: '127.0.0.1', port, path: '/bench', headers: { host }, agent },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) latencies.push(performance.now() - scheduled);
            else errors++;
            if (++done === total) resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        if (++done === total) resolve();
      });
      req.end();
    };
    const tick = () => {
      const now = performance.now();
      while (sent < total && t0 + (sent * 1000) / rate <= now) fire(t0 + (sent++ * 1000) / rate);
      if (sent < total) setTimeout(tick, 1);
    };
    setTimeout(tick, 50);
  });
  agent.destroy();
  latencies.sort((a, b) => a - b);
  process.stdout.write(
    JSON.stringify({ p50: quantile(latencies, 0.5) * 1000, p99: quantile(latencies, 0.99) * 1000, errors }) +
      '\n',
  );
}

if (process.argv[2] === '--open-loop') {
  const [port, host, rate, seconds] = process.argv.slice(3);
  await openLoop(Number(port), host!, Number(rate), Number(seconds));
  process.exit(0);
}

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    only: { type: 'string' },
    profile: { type: 'string' },
    repeat: { type: 'string', default: '1' },
    'saturation-only': { type: 'boolean', default: false },
    'handshakes-only': { type: 'boolean', default: false },
    'trellis-bin': { type: 'string' },
    'node-flags': { type: 'string' },
  },
});
const seconds = Number(flags.seconds);
const repeat = Math.max(1, Number(flags.repeat));
// A profile covers the saturation runs alone (no c=1, fixed-rate or handshake runs in it).
const saturationOnly = flags['saturation-only'] || flags.profile !== undefined;
const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;

function ensureInstalled(bin: string, pkg: string): void {
  if (has(bin)) return;
  if (process.getuid?.() !== 0) throw new Error(`${bin} missing: apt-get install -y ${pkg}`);
  execFileSync('apt-get', ['install', '-y', pkg], { stdio: 'inherit', timeout: 300_000 });
}
ensureInstalled('wrk', 'wrk');
ensureInstalled('nginx', 'nginx-light');
ensureInstalled('haproxy', 'haproxy');
const wrk2 = has('wrk2');

/** Runs wrk pinned to core 1; returns rps and p50/p99 in microseconds. */
function runWrk(port: number, host: string, connections: number, secs: number): { rps: number } & Latency {
  const out = execFileSync(
    'taskset',
    [
      '-c',
      '1',
      'wrk',
      '-t1',
      `-c${connections}`,
      `-d${secs}s`,
      '--latency',
      '-H',
      `Host: ${host}`,
      `http://127.0.0.1:${port}/bench`,
    ],
    { encoding: 'utf8', timeout: (secs + 30) * 1000 },
  );
  const us = (label: string): number => {
    const m = new RegExp(`^\\s+${label}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out);
    if (!m) return NaN;
    const scale = m[2] === 'us' ? 1 : m[2] === 'ms' ? 1000 : 1_000_000;
    return Number(m[1]) * scale;
  };
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (/Non-2xx|Socket errors/.test(out)) process.stderr.write(`wrk reported errors:\n${out}\n`);
  return { rps: Number(rps?.[1] ?? 0), p50: us('50'), p99: us('99') };
}

function runFixedRate(port: number, host: string, rate: number, secs: number): Latency {
  if (wrk2) {
    const r = execFileSync(
      'taskset',
      [
        '-c',
        '1',
        'wrk2',
        '-t1',
        '-c16',
        `-d${secs}s`,
        `-R${rate}`,
        '--latency',
        '-H',
        `Host: ${host}`,
        `http://127.0.0.1:${port}/bench`,
      ],
      { encoding: 'utf8', timeout: (secs + 30) * 1000 },
    );
    const us = (label: string) => {
      const m = new RegExp(`^\\s+${label}\\.000%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(r);
      return m ? Number(m[1]) * (m[2] === 'us' ? 1 : m[2] === 'ms' ? 1000 : 1e6) : NaN;
    };
    return { p50: us('50'), p99: us('99') };
  }
  const out = execFileSync(
    'taskset',
    [
      '-c',
      '1',
      process.execPath,
      '--import',
      'tsx',
      path.join(ROOT, 'bench/proxy.ts'),
      '--open-loop',
      String(port),
      host,
      String(rate),
      String(secs),
    ],
    { encoding: 'utf8', timeout: (secs + 30) * 1000, cwd: ROOT },
  );
  return JSON.parse(out) as Latency;
}

/**
 * New TLS connections per second with a client certificate (`openssl s_time -new`, pinned to
 * core 1), and the server's CPU per handshake.
 */
function runHandshakes(port: number, secs: number, pid: number | undefined): { rate: number; cpuUs: number } {
  const cpuBefore = cpuSeconds(pid);
  const out = execFileSync(
    'taskset',
    [
      '-c',
      '1',
      'openssl',
      's_time',
      '-connect',
      `127.0.0.1:${port}`,
      '-new',
      '-cert',
      `${dir}/client-chain.pem`,
      '-key',
      `${dir}/client-key.pem`,
      '-CAfile',
      `${dir}/root.pem`,
      '-time',
      String(secs),
    ],
    { encoding: 'utf8', timeout: (secs + 30) * 1000 },
  );
  const m = /(\d+) connections in (\d+) real seconds/.exec(out);
  const count = Number(m?.[1] ?? 0);
  const rate = count / Number(m?.[2] ?? secs);
  const cpuUs = count > 0 ? ((cpuSeconds(pid) - cpuBefore) * 1e6) / count : NaN;
  return { rate, cpuUs };
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'trellis-bench-proxy-'));
const backendPort = await freePort();
const nginxConf = (port: number, body: string) => `
daemon off; master_process off; worker_processes 1; pid ${dir}/nginx-${port}.pid;
error_log stderr error;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir};
  uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  keepalive_requests 1000000;
  ${body}
}`;
writeFileSync(
  `${dir}/backend.conf`,
  nginxConf(backendPort, `server { listen 127.0.0.1:${backendPort}; location / { return 200 "ok"; } }`),
);
const backend = start(1, 'nginx', ['-c', `${dir}/backend.conf`, '-p', dir]);
await waitForPort(backendPort);

interface Row {
  name: string;
  port: number;
  host: string;
  pids: () => (number | undefined)[];
  setup?: () => Promise<void>;
  teardown?: () => Promise<void>;
  /** An mTLS server side whose new-connection handshakes per second are measured. */
  handshake?: { name: string; port: number; pid: () => number | undefined };
}

const rows: Row[] = [{ name: 'direct (nginx)', port: backendPort, host: 'bench', pids: () => [] }];

const haPort = await freePort();
let ha: ChildProcess | undefined;
rows.push({
  name: 'haproxy',
  port: haPort,
  host: 'bench',
  pids: () => [ha?.pid],
  setup: async () => {
    writeFileSync(
      `${dir}/haproxy.cfg`,
      [
        'global',
        '  nbthread 1',
        '  maxconn 4096',
        'defaults',
        '  mode http',
        '  timeout connect 5s',
        '  timeout client 60s',
        '  timeout server 60s',
        '  http-reuse always',
        `frontend fe`,
        `  bind 127.0.0.1:${haPort}`,
        '  default_backend be',
        'backend be',
        `  server nginx 127.0.0.1:${backendPort}`,
        '',
      ].join('\n'),
    );
    ha = start(0, 'haproxy', ['-f', `${dir}/haproxy.cfg`, '-db']);
    await waitForPort(haPort);
  },
  teardown: async () => ha && stop(ha),
});

// Workload certificates for the mTLS rows: one CA, a client and a server identity.
// The control plane's CA as `trellis control-plane` keeps it (also served to the sidecars below).
const caState = await loadCaState({ stateDir: dir });
const ca = caState.authority;
async function workloadPem(sa: string): Promise<{ chain: string; key: string }> {
  const { privateKeyPem, csrPem } = await generateKeyAndCsr();
  const signed = await ca.signCsr(csrPem, {
    identity: { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: sa },
  });
  return { chain: signed.certChainPem.join(''), key: privateKeyPem };
}
const clientCert = await workloadPem('client');
const serverCert = await workloadPem('server');
writeFileSync(`${dir}/root.pem`, ca.trustBundle().join(''));
writeFileSync(`${dir}/client.pem`, clientCert.chain + clientCert.key);
writeFileSync(`${dir}/server.pem`, serverCert.chain + serverCert.key);
writeFileSync(`${dir}/client-chain.pem`, clientCert.chain);
writeFileSync(`${dir}/client-key.pem`, clientCert.key);

const haOutPort = await freePort();
const haInPort = await freePort();
let haOut: ChildProcess | undefined;
let haIn: ChildProcess | undefined;
const haproxyConfig = (lines: string[]) =>
  [
    'global',
    '  nbthread 1',
    '  maxconn 4096',
    '  ssl-server-verify required',
    'defaults',
    '  mode http',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  http-reuse always',
    ...lines,
    '',
  ].join('\n');
const startHaproxyMtls = async () => {
  writeFileSync(
    `${dir}/haproxy-in.cfg`,
    haproxyConfig([
      'frontend fe',
      `  bind 127.0.0.1:${haInPort} ssl crt ${dir}/server.pem ca-file ${dir}/root.pem verify required alpn http/1.1`,
      '  default_backend be',
      'backend be',
      `  server nginx 127.0.0.1:${backendPort}`,
    ]),
  );
  writeFileSync(
    `${dir}/haproxy-out.cfg`,
    haproxyConfig([
      'frontend fe',
      `  bind 127.0.0.1:${haOutPort}`,
      '  default_backend be',
      'backend be',
      `  server in 127.0.0.1:${haInPort} ssl crt ${dir}/client.pem ca-file ${dir}/root.pem verify required alpn http/1.1`,
    ]),
  );
  haIn = start(0, 'haproxy', ['-f', `${dir}/haproxy-in.cfg`, '-db']);
  haOut = start(0, 'haproxy', ['-f', `${dir}/haproxy-out.cfg`, '-db']);
  await waitForPort(haInPort);
  await waitForPort(haOutPort);
};
rows.push({
  name: 'haproxy, 2 hops mTLS',
  port: haOutPort,
  host: 'bench',
  pids: () => [haOut?.pid, haIn?.pid],
  setup: startHaproxyMtls,
  teardown: async () => {
    if (haOut) await stop(haOut);
    if (haIn) await stop(haIn);
  },
  handshake: { name: 'haproxy TLS server', port: haInPort, pid: () => haIn?.pid },
});

const ngPort = await freePort();
let ng: ChildProcess | undefined;
rows.push({
  name: 'nginx proxy',
  port: ngPort,
  host: 'bench',
  pids: () => [ng?.pid],
  setup: async () => {
    writeFileSync(
      `${dir}/proxy.conf`,
      nginxConf(
        ngPort,
        `upstream be { server 127.0.0.1:${backendPort}; keepalive 128; }
  server { listen 127.0.0.1:${ngPort};
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; } }`,
      ),
    );
    ng = start(0, 'nginx', ['-c', `${dir}/proxy.conf`, '-p', dir]);
    await waitForPort(ngPort);
  },
  teardown: async () => ng && stop(ng),
});

// Trellis: one FakeAds serves both sidecars. Host `bench:PORT` routes straight to nginx;
// `remote:PORT` routes to the server sidecar's inbound port, which sends it to
// inbound|PORT|| (ORIGINAL_DST: 127.0.0.1:PORT, nginx).
const ads = await FakeAds.start();
const clientPorts = { admin: await freePort(), outbound: await freePort(), inbound: await freePort() };
const serverPorts = { admin: await freePort(), outbound: await freePort(), inbound: await freePort() };
const local = `outbound|${backendPort}||bench.default.svc.cluster.local`;
const remote = `outbound|${backendPort}||remote.default.svc.cluster.local`;
ads.set('CDS', [
  edsCluster(local),
  edsCluster(remote),
  {
    name: `inbound|${backendPort}||`,
    type: 'ORIGINAL_DST',
    connect_timeout: { seconds: 1 },
    lb_policy: 'CLUSTER_PROVIDED',
  },
]);
ads.set('EDS', [
  endpoints(local, [{ port: backendPort }]),
  endpoints(remote, [{ port: serverPorts.inbound }]),
]);
// As the control plane configures it: Istio's default path normalization (BASE) on.
ads.set('LDS', [
  httpListener(backendPort, String(backendPort), { hcm: { normalize_path: { value: true } } }),
]);
ads.set('RDS', [
  routeConfig(String(backendPort), [
    virtualHost('bench', [`bench:${backendPort}`], [routeTo(local)]),
    virtualHost('remote', [`remote:${backendPort}`], [routeTo(remote)]),
  ]),
]);

async function startTrellis(
  ports: typeof clientPorts,
  workload: string,
  profileFlags: string[] = [],
  more: { xds?: string; args?: string[] } = {},
): Promise<ChildProcess> {
  const bin = flags['trellis-bin'] ?? path.join(ROOT, 'bin/trellis');
  const env: NodeJS.ProcessEnv = { TRELLIS_LOG_LEVEL: 'warn' };
  if (flags.profile !== undefined && profileFlags.length === 0)
    profileFlags = [
      '--cpu-prof',
      `--cpu-prof-dir=${path.resolve(flags.profile)}`,
      `--cpu-prof-name=${workload}.cpuprofile`,
    ];
  // Profiling flags are added to the command's own node flags (NODE_OPTIONS refuses --cpu-prof).
  if (profileFlags.length > 0) env.TRELLIS_NODE_FLAGS = profileFlags.join(' ');
  const nodeFlags = flags['node-flags']?.split(/\s+/).filter((f) => f !== '');
  // bin/trellis picks the proxy's node flags; --node-flags replaces them. Another checkout's
  // entry point (older ones have no bin/trellis) runs with --node-flags and the profile flags.
  if (nodeFlags && !bin.endsWith('.mjs')) env.TRELLIS_PROXY_NODE_FLAGS = nodeFlags.join(' ');
  return startTrellisProxy({
    bin,
    xds: more.xds ?? ads.address,
    workload,
    ports,
    env,
    ...(more.args ? { extraArgs: more.args } : {}),
    mjsNodeFlags: [...(nodeFlags ?? []), ...profileFlags],
  });
}

let client: ChildProcess | undefined;
let server: ChildProcess | undefined;
rows.push({
  name: 'trellis, 1 hop',
  port: clientPorts.outbound,
  host: `bench:${backendPort}`,
  pids: () => [client?.pid],
  setup: async () => {
    client = await startTrellis(clientPorts, 'client');
  },
});
rows.push({
  name: 'trellis, 2 hops',
  port: clientPorts.outbound,
  host: `remote:${backendPort}`,
  pids: () => [client?.pid, server?.pid],
  setup: async () => {
    server = await startTrellis(serverPorts, 'server');
  },
  teardown: async () => {
    if (server) await stop(server);
    if (client) await stop(client);
  },
});

// mTLS: the control plane's CA on its own gRPC port, a workload credential per sidecar, and one
// FakeAds per sidecar (each gets its own listeners, as a control plane would send them).
const caServer = new grpc.Server();
const caGrpc = new CaService({ ...caState, metrics: new MetricsRegistry() }).grpcService();
caServer.addService(caGrpc.definition, caGrpc.implementation);
const caPort = await new Promise<number>((resolve, reject) =>
  caServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) =>
    err ? reject(err) : resolve(port),
  ),
);
for (const sa of ['mtls-client', 'mtls-server'])
  writeFileSync(
    `${dir}/${sa}.credential`,
    await caState.credentials.issue({ namespace: 'default', serviceAccount: sa, kind: 'workload' }),
  );
const mtlsClientAds = await FakeAds.start();
const mtlsServerAds = await FakeAds.start();
const mtlsClientPorts = { admin: await freePort(), outbound: await freePort(), inbound: await freePort() };
const mtlsServerPorts = { admin: await freePort(), outbound: await freePort(), inbound: await freePort() };
const serverInbound = await freePort();
const toServerPlain = `outbound|${serverInbound}||plain.default.svc.cluster.local`;
const toServerMtls = `outbound|${serverInbound}||mtls.default.svc.cluster.local`;
mtlsClientAds.set('CDS', [
  edsCluster(toServerPlain),
  {
    ...edsCluster(toServerMtls),
    transport_socket: istioMutual({
      sni: `outbound_.${serverInbound}_._.mtls.default.svc.cluster.local`,
      sans: [{ exact: spiffe('mtls-server') }],
    }),
  },
]);
mtlsClientAds.set('EDS', [
  endpoints(toServerPlain, [{ port: serverInbound }]),
  endpoints(toServerMtls, [{ port: serverInbound }]),
]);
mtlsClientAds.set('LDS', [
  httpListener(serverInbound, String(serverInbound), { hcm: { normalize_path: { value: true } } }),
]);
mtlsClientAds.set('RDS', [
  routeConfig(String(serverInbound), [
    virtualHost('plain', [`plain:${serverInbound}`], [routeTo(toServerPlain)]),
    virtualHost('mtls', [`mtls:${serverInbound}`], [routeTo(toServerMtls)]),
  ]),
]);
mtlsServerAds.set('CDS', [appCluster('inbound|app', backendPort)]);
// For `openssl s_time` (which sends no ALPN): a STRICT listener whose mTLS chain matches TLS
// without Istio's ALPN values.
const handshakePort = await freePort();
const strictNoAlpn = inboundListener(handshakePort, 'inbound|app', { mode: 'STRICT' }) as {
  filter_chains: { filter_chain_match: { application_protocols?: string[] } }[];
};
for (const c of strictNoAlpn.filter_chains) delete c.filter_chain_match.application_protocols;
mtlsServerAds.set('LDS', [
  inboundListener(serverInbound, 'inbound|app', { mode: 'PERMISSIVE' }),
  strictNoAlpn,
]);
const identityArgs = (sa: string) => [
  '--credential-file',
  `${dir}/${sa}.credential`,
  '--ca-address',
  `127.0.0.1:${caPort}`,
];
let mtlsClient: ChildProcess | undefined;
let mtlsServer: ChildProcess | undefined;
rows.push({
  name: 'trellis, 2 hops, inbound listener',
  port: mtlsClientPorts.outbound,
  host: `plain:${serverInbound}`,
  pids: () => [mtlsClient?.pid, mtlsServer?.pid],
  setup: async () => {
    mtlsServer = await startTrellis(mtlsServerPorts, 'mtls-server', [], {
      xds: mtlsServerAds.address,
      args: [...identityArgs('mtls-server'), '--bind-listeners', `${serverInbound},${handshakePort}`],
    });
    mtlsClient = await startTrellis(mtlsClientPorts, 'mtls-client', [], {
      xds: mtlsClientAds.address,
      args: identityArgs('mtls-client'),
    });
    await waitForPort(serverInbound);
  },
});
rows.push({
  name: 'trellis, 2 hops mTLS',
  port: mtlsClientPorts.outbound,
  host: `mtls:${serverInbound}`,
  pids: () => [mtlsClient?.pid, mtlsServer?.pid],
  teardown: async () => {
    if (mtlsClient) await stop(mtlsClient);
    if (mtlsServer) await stop(mtlsServer);
  },
  handshake: {
    name: 'trellis sidecar inbound (mTLS chain)',
    port: handshakePort,
    pid: () => mtlsServer?.pid,
  },
});

/**
 * Waits until a request through the row's entry point gets a 200: a proxy is ready (/ready) once
 * its listeners and clusters arrived, which is before its routes and before a sidecar's
 * certificates came from the CA (its TLS listener refuses handshakes until then); measuring
 * earlier would time 404s and 503s.
 */
async function answering(port: number, host: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const status = await new Promise<number | string>((resolve) => {
      http
        .get({ host: '127.0.0.1', port, path: '/bench', headers: { host }, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', (err) => resolve(err.message));
    });
    if (status === 200) return;
    last = String(status);
    if (Date.now() > deadline) throw new Error(`no 200 through 127.0.0.1:${port} (host ${host}): ${last}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The handshakes row of one mTLS server side (with --repeat, the median by CPU per handshake). */
function measureHandshakes(h: NonNullable<Row['handshake']>): void {
  try {
    const runs: { rate: number; cpuUs: number }[] = [];
    for (let i = 0; i < repeat; i++) runs.push(runHandshakes(h.port, seconds, h.pid()));
    runs.sort((a, b) => a.cpuUs - b.cpuUs);
    if (repeat > 1)
      process.stderr.write(`${h.name}: CPU/handshake per run ${runs.map((r) => fmt(r.cpuUs)).join(', ')}\n`);
    const m = runs[Math.floor((runs.length - 1) / 2)]!;
    handshakes.push(`| ${h.name} | ${Math.round(m.rate)} | ${fmt(m.cpuUs)} |`);
  } catch (err) {
    const why =
      String((err as { stderr?: string }).stderr ?? err)
        .split('\n')
        .find((l) => l.includes('error')) ?? String(err);
    handshakes.push(`| ${h.name} | failed: ${why.slice(0, 120)} | - |`);
  }
}

const fmt = (us: number) =>
  Number.isNaN(us) ? '-' : us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${Math.round(us)} us`;
const results: string[] = [];
const handshakes: string[] = [];
try {
  {
    console.log(
      `node ${process.version}, ${os.cpus().length} cores; proxies on core 0, wrk + backend on core 1; ` +
        `fixed-rate generator: ${wrk2 ? 'wrk2' : 'node open loop'}`,
    );
    console.log(
      '| path | rps (c=64) | proxy CPU/req | p50 c=1 | p99 c=1 | p50 @1000 rps | p99 @1000 rps | proxy RSS |',
    );
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const row of rows) {
      if (flags.only && !row.name.includes(flags.only)) {
        await row.setup?.();
        await row.teardown?.();
        continue;
      }
      await row.setup?.();
      await answering(row.port, row.host);
      if (flags['handshakes-only']) {
        if (row.handshake) measureHandshakes(row.handshake);
        await row.teardown?.();
        continue;
      }
      runWrk(row.port, row.host, 64, 1); // warm-up (JIT, upstream connections)
      // CPU per request is the steady figure on a machine with CPU steal: rps is not. With
      // --repeat, the median run (by CPU per request) is shown, and every run on stderr.
      const runs: { rps: number; perPid: number[] }[] = [];
      for (let i = 0; i < repeat; i++) {
        const before = row.pids().map((pid) => cpuSeconds(pid));
        const r = runWrk(row.port, row.host, 64, seconds);
        const requests = r.rps * seconds;
        runs.push({
          rps: r.rps,
          perPid: row.pids().map((pid, j) => ((cpuSeconds(pid) - before[j]!) * 1e6) / requests),
        });
      }
      const total = (r: { perPid: number[] }) => r.perPid.reduce((a, b) => a + b, 0);
      runs.sort((a, b) => total(a) - total(b));
      if (repeat > 1)
        process.stderr.write(
          `${row.name}: CPU/req per run ${runs.map((r) => `${Math.round(total(r))} us`).join(', ')}\n`,
        );
      const sat = runs[Math.floor((runs.length - 1) / 2)]!;
      // Two proxies: the sum, and each one's share (first the one wrk talks to).
      const cpuPerReq =
        sat.perPid.length === 0
          ? '-'
          : `${Math.round(total(sat))} us` +
            (sat.perPid.length > 1 ? ` (${sat.perPid.map((u) => Math.round(u)).join(' + ')})` : '');
      if (saturationOnly) {
        const line = `| ${row.name} | ${Math.round(sat.rps)} | ${cpuPerReq} | - | - | - | - | - |`;
        console.log(line);
        results.push(line);
        await row.teardown?.();
        continue;
      }
      const c1 = runWrk(row.port, row.host, 1, Math.max(2, Math.round(seconds / 2)));
      const fixed = runFixedRate(row.port, row.host, 1000, seconds);
      const rss = row.pids().reduce<number>((sum, pid) => sum + rssMb(pid), 0);
      const line = `| ${row.name} | ${Math.round(sat.rps)} | ${cpuPerReq} | ${fmt(c1.p50)} | ${fmt(c1.p99)} | ${fmt(fixed.p50)} | ${fmt(fixed.p99)} | ${row.pids().length ? `${rss.toFixed(0)} MB` : '-'} |`;
      console.log(line);
      results.push(line);
      if (row.handshake) measureHandshakes(row.handshake);
      await row.teardown?.();
    }
    if (handshakes.length > 0) {
      console.log('\nNew mTLS connections (openssl s_time -new, client certificate, ECDSA P-256):');
      console.log('| server side | handshakes/s | server CPU/handshake |');
      console.log('|---|---:|---:|');
      for (const h of handshakes) console.log(h);
    }
    if (flags.profile !== undefined)
      console.log(
        `\nprofiles (one per proxy, written when it stops) in ${path.resolve(flags.profile)}: ` +
          'node --import tsx bench/xds-profile.ts FILE',
      );
  }
} finally {
  for (const c of children) await stop(c);
  // Bounded: after a failed run a stream may still be open, and the error must get printed.
  await Promise.race([
    Promise.all([ads.close(), mtlsClientAds.close(), mtlsServerAds.close()]),
    new Promise((r) => setTimeout(r, 5000).unref()),
  ]);
  caServer.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
}
void backend;
