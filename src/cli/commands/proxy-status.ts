import { TrellisError } from '../../core/errors.js';
import type { Command } from '../command.js';
import { parseFlags } from '../args.js';
import { controlPlaneUrl } from '../http-client.js';
import { connectedProxies, findProxy, type ConnectedProxy } from '../connected-proxies.js';

type ProxyStatus = ConnectedProxy;

const COLUMNS = ['CDS', 'LDS', 'EDS', 'RDS', 'SDS'] as const;

/** Renders `istioctl proxy-status`-style rows: one per proxy, SYNCED / STALE / NACK per type. */
export function renderProxyStatus(rows: ProxyStatus[]): string {
  const header = ['NAME', 'TYPE', ...COLUMNS, 'VERSION', 'CONFIG REVISION'];
  const lines = rows
    .slice()
    .sort((a, b) => a.proxy.localeCompare(b.proxy))
    .map((r) => [
      r.proxy,
      r.type,
      ...COLUMNS.map((c) => r.types[c]?.status ?? 'NOT SENT'),
      Object.values(r.types)[0]?.lastSentVersion ?? '',
      // The store revision the proxy runs on every routing type (what `trellis wait` checks).
      r.configRevision === undefined || r.configRevision < 0 ? '-' : String(r.configRevision),
    ]);
  const table = [header, ...lines];
  const widths = header.map((_, i) => Math.max(...table.map((row) => (row[i] ?? '').length)));
  let out =
    table
      .map((row) =>
        row
          .map((cell, i) => cell.padEnd(widths[i] ?? 0))
          .join('   ')
          .trimEnd(),
      )
      .join('\n') + '\n';
  const nacks = rows.flatMap((r) =>
    Object.entries(r.types)
      .filter(([, t]) => t.status === 'NACK' && t.lastNack)
      .map(([type, t]) => `${r.proxy} ${type}: ${t.lastNack?.message ?? ''}`),
  );
  if (nacks.length) out += `\nRejected config:\n${nacks.map((n) => `  ${n}`).join('\n')}\n`;
  const restart = rows.filter((r) => r.proxyConfig?.inEffect === false);
  if (restart.length)
    out +=
      `\nProxyConfig changed since these proxies started; it takes effect when the proxy restarts:\n` +
      restart
        .map((r) => {
          const from = r.proxyConfig?.sources.length ? ` from ${r.proxyConfig.sources.join(', ')}` : '';
          return `  ${r.proxy}: runs ${r.proxyConfig?.started}, would start with ${r.proxyConfig?.current}${from}`;
        })
        .join('\n') +
      '\n';
  return out;
}

export const command: Command = {
  name: 'proxy-status',
  summary: 'Show which config each connected proxy runs: SYNCED, STALE or NACK per xDS type.',
  usage: [
    'Usage: trellis proxy-status [PROXY] [--control-plane URL] [-o table|json]',
    '',
    'PROXY is a workload name (productpage-v1), NAME.NAMESPACE (productpage-v1.default), a full xDS id or',
    'a unique prefix of one; a name that matches no proxy or several is an error listing them (exit 1).',
    'Reads /debug/syncz from the control plane (default http://127.0.0.1:15014, or $TRELLIS_CONTROL_PLANE).',
    'SYNCED: the proxy ACKed the last config sent; STALE: sent, not yet ACKed; NACK: rejected (the error is listed).',
    'CONFIG REVISION: the config store revision the proxy runs on clusters, endpoints, listeners and routes',
    "('-' before its first ACK); 'trellis wait' waits for every proxy to reach a revision.",
    'Proxies started with a ProxyConfig that has changed since are listed after the table: a',
    'ProxyConfig (concurrency, environment) takes effect when the proxy restarts, as in Istio.',
  ].join('\n'),
  async run(argv, io) {
    const { values, positionals } = parseFlags('proxy-status', argv, {
      'control-plane': { type: 'string' },
      output: { type: 'string', short: 'o', default: 'table' },
    });
    const base = controlPlaneUrl(values['control-plane'], io.env);
    if (values.output !== 'json' && values.output !== 'table') {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `-o ${String(values.output)}: expected table or json`,
      );
    }
    if (positionals.length > 1) {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `expected at most one PROXY, got ${positionals.length}; run 'trellis proxy-status --help'`,
      );
    }
    const rows: ProxyStatus[] =
      positionals[0] !== undefined ? [await findProxy(base, positionals[0])] : await connectedProxies(base);
    if (values.output === 'json') {
      io.stdout(JSON.stringify(rows, null, 2) + '\n');
    } else {
      io.stdout(rows.length ? renderProxyStatus(rows) : 'No proxies connected.\n');
    }
    return 0;
  },
};
