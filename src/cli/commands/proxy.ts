import cluster from 'node:cluster';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { systemClock } from '../../core/clock.js';
import { TrellisError } from '../../core/errors.js';
import { createLogger, type Logger } from '../../core/logger.js';
import { systemRandom } from '../../core/random.js';
import { TrellisProxy, type ProxyOptions } from '../../proxy/proxy.js';
import { CaClient } from '../../proxy/identity/ca-client.js';
import {
  failoverCertificateRequester,
  grpcCertificateRequester,
} from '../../proxy/identity/ca-client-transport.js';
import { fileCredential } from '../../proxy/identity/credential-source.js';
import type { ProxyBootstrap } from '../../proxy/xds-client/bootstrap.js';
import type { ControlPlaneTls } from '../../proxy/xds-client/control-plane-tls.js';
import { X509Certificate } from 'node:crypto';
import type { Command } from '../command.js';
import { checkResolvable, parseAddress, parseAddressList, parseFlags, parseIntFlag } from '../args.js';
import { runProxyPrimary, runProxyWorker } from '../proxy-concurrency.js';
import { askProxyConfig, proxyStartup } from '../proxy-startup.js';
import { controlPlaneUrl } from '../http-client.js';
import os from 'node:os';
import { untilSignal } from '../signals.js';
import { loadOriginalDestination } from '../up/netns-original-dst.js';

const require = createRequire(import.meta.url);

function parseLabels(value: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  if (!value) return labels;
  for (const pair of value.split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `--labels ${JSON.stringify(value)}: expected k=v,k=v (bad entry ${JSON.stringify(pair)})`,
      );
    }
    labels[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return labels;
}

function parsePorts(value: string | undefined): number[] {
  if (!value) return [];
  return value.split(',').map((p) => parseIntFlag('bind-listeners', p.trim(), 0));
}

export const command: Command = {
  name: 'proxy',
  summary: 'Run the Trellis proxy (sidecar or gateway), configured over xDS by the control plane.',
  usage: [
    'Usage: trellis proxy --xds-address HOST:PORT[,HOST:PORT...] [--id ID] [--mode sidecar|gateway]',
    '                     [--namespace NS] [--workload NAME] [--labels k=v,...] [--cluster NAME]',
    '                     [--locality R/Z/S] [--instance-ips IP,...] [--admin-port 15000] [--outbound-port 15001]',
    '                     [--inbound-port 15006] [--bind-listeners PORT,...] [--bind-address ADDR]',
    '                     [--drain-seconds 5] [--concurrency 1] [--xds-protocol auto|delta|sotw]',
    '                     [--original-dst] [--credential-file F] [--ca-address HOST:PORT]',
    '                     [--xds-root-ca FILE] [--control-plane URL]',
    '',
    '--xds-address (old spelling: --xds) is where the control plane serves xDS; --xds-port N means',
    '127.0.0.1:N. A URL (http://...) is refused: xDS is gRPC, give HOST:PORT. Several control planes',
    '(replicas sharing one store): A,B,C. The proxy holds one stream and moves to the next when it',
    'fails or does not connect within 3 s, resuming with the versions it holds; it backs off only once',
    'every one failed in a row. A host name with several addresses is tried address by address by gRPC.',
    'The CA (without --ca-address) fails over the same way.',
    '',
    'Outbound: point clients at --outbound-port (as HTTP_PROXY or with the real Host header); the',
    'port in Host selects the Listener 0.0.0.0_PORT and its route config. Inbound: --inbound-port',
    'forwards to inbound|PORT|| by the port in Host. Gateways: --bind-listeners binds Listener',
    'resources on those ports. Admin: /ready /config_dump /clusters /stats /stats/prometheus.',
    'xDS: delta (incremental) when the control plane offers it, else state of the world (auto).',
    '--original-dst: connections iptables redirected to --outbound-port are served by the Listener',
    'of the address they dialled (SO_ORIGINAL_DST; needs the native addon scripts/setup.sh builds).',
    "--concurrency N: like Envoy's, N data-plane workers (node:cluster processes sharing every",
    'listener, connections handed round-robin) fed by this process, which keeps the one xDS stream',
    'and the admin (/ready once every worker applied the config; /stats/prometheus, /clusters and',
    '/stats merged over the workers; /server_info lists them). A worker that dies is restarted.',
    'Circuit breakers, outlier detection and local rate limits count per worker.',
    '',
    "ProxyConfig: with --control-plane URL (the control plane's HTTP API) the proxy reads, once at",
    'start, the ProxyConfig its namespace and labels select (GET /v1/proxy-config) and runs with',
    'its concurrency (0: one worker per CPU; --concurrency N wins) and environmentVariables',
    "(ISTIO_META_X=v also becomes node metadata X, as Istio's agent sends it). A later change takes",
    'effect when the proxy restarts; trellis proxy-status shows proxies running an older one.',
    'SIGTERM/SIGINT drain open requests and exit 0.',
    '',
    'Workload identity: --credential-file F holds the credential the control plane issued to this',
    'workload (`trellis up` provisions one; `trellis token create` makes a join token). The proxy',
    'generates its key locally, sends a CSR with the credential to the CA at --ca-address (default:',
    'the --xds-address) and renews its certificate at half its life (with jitter), retrying with',
    'backoff and keeping the current one when the CA is unreachable. F is read before every',
    'request; a join token is replaced in F by the workload credential the CA exchanges it for.',
    'Listeners whose TLS needs the certificate (SDS `default`/`ROOTCA`) wait for it, as Envoy',
    "waits for Istio's agent.",
    '',
    "Control plane over TLS: --xds-root-ca FILE (Istio's XDS_ROOT_CA) dials --xds-address and --ca-address",
    "with TLS, verifying the control plane's certificate against the PEM roots in FILE; point --xds-address",
    'at its TLS port (trellis control-plane --secure-port, default 15012). A host joining from',
    'elsewhere needs two files: the join token and the root (trellis token create --root-cert-out).',
  ].join('\n'),
  async run(argv, io) {
    const { values } = parseFlags('proxy', argv, {
      'xds-address': {
        type: 'string',
        address: true,
        connect: true,
        list: true,
        aliases: ['xds'],
        portAlias: 'xds-port',
      },
      id: { type: 'string' },
      mode: { type: 'string', default: 'sidecar' },
      namespace: { type: 'string', short: 'n', default: 'default' },
      workload: { type: 'string' },
      labels: { type: 'string' },
      cluster: { type: 'string' },
      locality: { type: 'string', default: '' },
      'instance-ips': { type: 'string', default: '127.0.0.1' },
      'admin-port': { type: 'string', default: '15000', port: true },
      'outbound-port': { type: 'string', default: '15001', port: true },
      'inbound-port': { type: 'string', default: '15006', port: true },
      'bind-listeners': { type: 'string' },
      'bind-address': { type: 'string' },
      'drain-seconds': { type: 'string' },
      concurrency: { type: 'string' },
      'xds-protocol': { type: 'string', default: 'auto' },
      'original-dst': { type: 'boolean', default: false },
      'credential-file': { type: 'string' },
      'ca-address': { type: 'string', address: true, connect: true },
      'xds-root-ca': { type: 'string' },
      'control-plane': { type: 'string' },
    });
    const xdsAddress = values['xds-address'];
    if (!xdsAddress)
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        "--xds-address HOST:PORT is required (the control plane's xDS port, e.g. 127.0.0.1:15010); run 'trellis proxy --help'",
      );
    const xdsList = parseAddressList('xds-address', xdsAddress);
    for (const a of xdsList) await checkResolvable('xds-address', a);
    const mode = values.mode;
    if (mode !== 'sidecar' && mode !== 'gateway') {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `--mode ${JSON.stringify(mode)}: expected sidecar or gateway`,
      );
    }
    const xdsProtocol = values['xds-protocol'];
    if (xdsProtocol !== 'auto' && xdsProtocol !== 'delta' && xdsProtocol !== 'sotw') {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `--xds-protocol ${JSON.stringify(xdsProtocol)}: expected auto, delta or sotw`,
      );
    }
    const flagConcurrency =
      values.concurrency === undefined ? undefined : parseIntFlag('concurrency', values.concurrency, 1);
    if (flagConcurrency !== undefined && flagConcurrency < 1) {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `--concurrency ${flagConcurrency}: expected 1 or more data-plane workers`,
      );
    }
    const drainMs = parseIntFlag('drain-seconds', values['drain-seconds'], 5) * 1000;
    const namespace = values.namespace;
    const labels = parseLabels(values.labels);
    // The ProxyConfig is read once, at start, by the process a person runs (workers inherit
    // its environment); a change to it takes effect when the proxy restarts, as in Istio.
    const asked =
      values['control-plane'] !== undefined && !cluster.isWorker
        ? await askProxyConfig(controlPlaneUrl(values['control-plane'], {}), namespace, labels)
        : undefined;
    const startup = proxyStartup({
      resolved: asked,
      flagConcurrency,
      processEnv: io.env,
      cpus: os.availableParallelism(),
    });
    const concurrency = startup.concurrency;
    for (const line of startup.dropped) io.stderr(`proxy: ${line}\n`);
    Object.assign(process.env, startup.env);
    const workload = values.workload ?? labels.app ?? 'unknown';
    const ips = values['instance-ips']
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const bootstrap: ProxyBootstrap = {
      nodeId:
        values.id ??
        `${mode === 'gateway' ? 'router' : 'sidecar'}~${ips[0] ?? '127.0.0.1'}~${workload}.${namespace}~${namespace}.svc.cluster.local`,
      cluster: values.cluster ?? `${workload}.${namespace}`,
      mode,
      namespace,
      workloadName: workload,
      labels,
      instanceIps: ips,
      locality: values.locality,
      metadata: startup.metadata,
    };
    const logger = createLogger('proxy', {}, { ...io.env, ...startup.env });
    if (startup.summary !== undefined) io.stdout(`proxy ${bootstrap.nodeId}: ${startup.summary}\n`);
    const xdsTls = await controlPlaneTls(values['xds-root-ca'], io.cwd);
    const certificates = await workloadCertificates(values, xdsList, io.cwd, logger, xdsTls);
    const pkg = require('../../../package.json') as { version: string };
    const readyLine = (
      listeners: number,
      clusters: number,
      outbound: number,
      inbound: number,
      admin: number,
    ) =>
      `proxy ready: ${listeners} listeners, ${clusters} clusters; outbound 127.0.0.1:${outbound}, inbound :${inbound}, admin 127.0.0.1:${admin}`;
    const options: ProxyOptions = {
      xds: xdsList.map(hostPort),
      ...(xdsTls ? { xdsTls } : {}),
      bootstrap,
      version: pkg.version,
      bindAddress: values['bind-address'] ?? (mode === 'gateway' ? '0.0.0.0' : '127.0.0.1'),
      adminAddress: '127.0.0.1',
      adminPort: parseIntFlag('admin-port', values['admin-port'], 15000),
      outboundPort: parseIntFlag('outbound-port', values['outbound-port'], 15001),
      inboundPort: parseIntFlag('inbound-port', values['inbound-port'], 15006),
      bindListeners: parsePorts(values['bind-listeners']),
      xdsProtocol,
      ...(values['original-dst'] ? { originalDestination: loadOriginalDestination() } : {}),
      ...(certificates ? { workloadCertificates: certificates } : {}),
      clock: systemClock,
      random: systemRandom,
      logger,
      onConnected: () => io.stdout(`proxy ${bootstrap.nodeId}: connected to control plane ${xdsAddress}\n`),
      onReady: () => {
        const s = proxy.snapshot();
        const p = proxy.listeners.ports;
        io.stdout(
          `${readyLine(s.listeners.size, s.clusters.size, p.outbound, p.inbound, proxy.adminPort)}\n`,
        );
      },
    };
    if (certificates) {
      // Said once, by the process a person watches (not by each --concurrency worker).
      const unsubscribe = certificates.onChange((c) => {
        unsubscribe();
        if (!cluster.isWorker)
          io.stdout(
            `proxy ${bootstrap.nodeId}: workload certificate ${c.identity}, valid until ${c.notAfter.toISOString()}\n`,
          );
      });
      certificates.start();
    }
    // --concurrency N: this process is the primary, or (re-run by node:cluster) one of its workers.
    // Each process has its own key and certificate for the same identity.
    if (cluster.isWorker || concurrency > 1) {
      try {
        return cluster.isWorker
          ? await runProxyWorker(options, drainMs)
          : await runProxyPrimary(options, { concurrency, drainMs, argv, io, readyLine, env: startup.env });
      } finally {
        certificates?.close();
      }
    }
    const proxy = new TrellisProxy(options);
    const stopping = untilSignal();
    try {
      await proxy.start();
    } catch (err) {
      await proxy.stop(0);
      certificates?.close();
      throw err;
    }
    io.stdout(`proxy ${bootstrap.nodeId}: connecting to ${xdsAddress}\n`);
    const sig = await stopping;
    io.stdout(`proxy: ${sig}, draining\n`);
    await proxy.stop(drainMs);
    certificates?.close();
    io.stdout('proxy: stopped\n');
    return 0;
  },
};

/** --xds-root-ca FILE: PEM certificates to verify the control plane by; undefined without the flag. */
async function controlPlaneTls(file: string | undefined, cwd: string): Promise<ControlPlaneTls | undefined> {
  if (file === undefined) return undefined;
  let pem: string;
  try {
    pem = await fs.readFile(path.resolve(cwd, file), 'utf8');
  } catch (err) {
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `--xds-root-ca ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  try {
    if (blocks.length === 0) throw new Error('no PEM CERTIFICATE block');
    for (const b of blocks) new X509Certificate(b);
  } catch (err) {
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `--xds-root-ca ${file}: expected PEM certificates (the control plane's root-cert.pem): ${(err as Error).message}`,
    );
  }
  return { rootCertsPem: blocks.join('\n'), source: `--xds-root-ca ${file}` };
}

/** --credential-file: a CA client for the workload certificate; undefined without one. */
async function workloadCertificates(
  values: { 'credential-file'?: string | undefined; 'ca-address'?: string | undefined },
  xds: readonly { host: string; port: number }[],
  cwd: string,
  logger: Logger,
  tls: ControlPlaneTls | undefined,
): Promise<CaClient | undefined> {
  const file = values['credential-file'];
  if (file === undefined) {
    if (values['ca-address'] !== undefined)
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        '--ca-address needs --credential-file (the credential the CA authenticates this workload by)',
      );
    return undefined;
  }
  const abs = path.resolve(cwd, file);
  try {
    await fs.access(abs, fs.constants.R_OK);
  } catch (err) {
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `--credential-file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  }
  // The CA is served by every control plane: without --ca-address, the xDS list fails over.
  const cas = values['ca-address'] !== undefined ? [parseAddress('ca-address', values['ca-address'])] : xds;
  return new CaClient({
    requester: failoverCertificateRequester(
      cas.map((ca) => grpcCertificateRequester(hostPort(ca), tls ? { tls } : {})),
    ),
    credential: fileCredential(abs),
    clock: systemClock,
    random: systemRandom,
    logger: logger.child('ca'),
  });
}

/** `host:port` for gRPC, IPv6 hosts bracketed. */
function hostPort(a: { host: string; port: number }): string {
  return `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}
