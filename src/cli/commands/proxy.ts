import { createRequire } from 'node:module';
import { systemClock } from '../../core/clock.js';
import { TrellisError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { systemRandom } from '../../core/random.js';
import { TrellisProxy } from '../../proxy/proxy.js';
import type { ProxyBootstrap } from '../../proxy/xds-client/bootstrap.js';
import type { Command } from '../command.js';
import { parseAddress, parseFlags, parseIntFlag } from '../args.js';
import { untilSignal } from '../signals.js';

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
    'Usage: trellis proxy --xds HOST:PORT [--id ID] [--mode sidecar|gateway] [--namespace NS]',
    '                     [--workload NAME] [--labels k=v,...] [--cluster NAME] [--locality R/Z/S]',
    '                     [--instance-ips IP,...] [--admin-port 15000] [--outbound-port 15001]',
    '                     [--inbound-port 15006] [--bind-listeners PORT,...] [--bind-address ADDR]',
    '                     [--drain-seconds 5] [--concurrency 1]',
    '',
    'Outbound: point clients at --outbound-port (as HTTP_PROXY or with the real Host header); the',
    'port in Host selects the Listener 0.0.0.0_PORT and its route config. Inbound: --inbound-port',
    'forwards to inbound|PORT|| by the port in Host. Gateways: --bind-listeners binds Listener',
    'resources on those ports. Admin: /ready /config_dump /clusters /stats /stats/prometheus.',
    'SIGTERM/SIGINT drain open requests and exit 0.',
  ].join('\n'),
  async run(argv, io) {
    const { values } = parseFlags('proxy', argv, {
      xds: { type: 'string' },
      id: { type: 'string' },
      mode: { type: 'string', default: 'sidecar' },
      namespace: { type: 'string', default: 'default' },
      workload: { type: 'string' },
      labels: { type: 'string' },
      cluster: { type: 'string' },
      locality: { type: 'string', default: '' },
      'instance-ips': { type: 'string', default: '127.0.0.1' },
      'admin-port': { type: 'string' },
      'outbound-port': { type: 'string' },
      'inbound-port': { type: 'string' },
      'bind-listeners': { type: 'string' },
      'bind-address': { type: 'string' },
      'drain-seconds': { type: 'string' },
      concurrency: { type: 'string' },
    });
    if (!values.xds)
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        "--xds HOST:PORT is required; run 'trellis proxy --help'",
      );
    const xds = parseAddress('xds', values.xds);
    const mode = values.mode;
    if (mode !== 'sidecar' && mode !== 'gateway') {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `--mode ${JSON.stringify(mode)}: expected sidecar or gateway`,
      );
    }
    const concurrency = parseIntFlag('concurrency', values.concurrency, 1);
    if (concurrency !== 1) {
      throw new TrellisError(
        'TRELLIS_UNSUPPORTED',
        `--concurrency ${concurrency}: one event loop per proxy for now; run several proxies instead`,
      );
    }
    const namespace = values.namespace;
    const labels = parseLabels(values.labels);
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
    };
    const logger = createLogger('proxy', {}, io.env);
    const pkg = require('../../../package.json') as { version: string };
    const host = xds.host.includes(':') ? `[${xds.host}]` : xds.host;
    const proxy = new TrellisProxy({
      xds: `${host}:${xds.port}`,
      bootstrap,
      version: pkg.version,
      bindAddress: values['bind-address'] ?? (mode === 'gateway' ? '0.0.0.0' : '127.0.0.1'),
      adminAddress: '127.0.0.1',
      adminPort: parseIntFlag('admin-port', values['admin-port'], 15000),
      outboundPort: parseIntFlag('outbound-port', values['outbound-port'], 15001),
      inboundPort: parseIntFlag('inbound-port', values['inbound-port'], 15006),
      bindListeners: parsePorts(values['bind-listeners']),
      clock: systemClock,
      random: systemRandom,
      logger,
      onConnected: () =>
        io.stdout(`proxy ${bootstrap.nodeId}: connected to control plane ${values.xds ?? ''}\n`),
      onReady: () => {
        const s = proxy.snapshot();
        const p = proxy.listeners.ports;
        io.stdout(
          `proxy ready: ${s.listeners.size} listeners, ${s.clusters.size} clusters; outbound 127.0.0.1:${p.outbound}, inbound :${p.inbound}, admin 127.0.0.1:${proxy.adminPort}\n`,
        );
      },
    });
    const stopping = untilSignal();
    try {
      await proxy.start();
    } catch (err) {
      await proxy.stop(0);
      throw err;
    }
    io.stdout(`proxy ${bootstrap.nodeId}: connecting to ${values.xds}\n`);
    const sig = await stopping;
    io.stdout(`proxy: ${sig}, draining\n`);
    await proxy.stop(parseIntFlag('drain-seconds', values['drain-seconds'], 5) * 1000);
    io.stdout('proxy: stopped\n');
    return 0;
  },
};
