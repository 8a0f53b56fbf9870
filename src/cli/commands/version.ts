import { TrellisError } from '../../core/errors.js';
import type { Command } from '../command.js';
import { parseFlags } from '../args.js';
import { connectedProxies, type ConnectedProxy } from '../connected-proxies.js';
import { apiGet, controlPlaneUrl } from '../http-client.js';
import { shortName } from '../proxy-names.js';
import { formatTable } from '../table.js';
import { trellisVersion } from '../../controlplane/build-info.js';

const USAGE = `Usage: trellis version [--client] [--short] [-o text|json] [--control-plane URL]

Prints the versions of this client, the control plane (its GET /version) and every connected
proxy (what each reports in its node metadata ISTIO_VERSION, as Istio's proxies do), the way
'istioctl version' does:

  client version: 0.1.0
  control plane version: 0.1.0
  data plane version: 0.1.0 (3 proxies)

then one line per proxy. A proxy that reports no version (a plain Envoy) shows 'unknown'.

  --client              only the client's version; does not contact the control plane
  --short               the summary lines only, without the per-proxy table
  -o, --output FORMAT   text (default) or json
  --control-plane URL   the control plane's HTTP API (default $TRELLIS_CONTROL_PLANE or
                        http://127.0.0.1:15014)

Exit 1 when the control plane cannot be reached (the client's version is still printed).`;

export interface ProxyVersion {
  id: string;
  name: string;
  version: string;
}

/** istioctl's data plane summary: each version with its count, most common first. */
export function dataPlaneSummary(proxies: readonly ProxyVersion[]): string {
  if (proxies.length === 0) return 'none (no proxies connected)';
  const counts = new Map<string, number>();
  for (const p of proxies) counts.set(p.version, (counts.get(p.version) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([v, n]) => `${v} (${n} ${n === 1 ? 'proxy' : 'proxies'})`)
    .join(', ');
}

function proxyVersions(rows: readonly ConnectedProxy[]): ProxyVersion[] {
  return rows
    .map((r) => ({ id: r.proxy, name: shortName(r), version: r.proxyVersion || 'unknown' }))
    .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

export const command: Command = {
  name: 'version',
  summary: 'Print the versions of the client, the control plane and each connected proxy (trellis --version, -v: the client only).',
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parseFlags('version', argv, {
      client: { type: 'boolean', default: false },
      short: { type: 'boolean', default: false },
      output: { type: 'string', short: 'o', default: 'text' },
      'control-plane': { type: 'string' },
    });
    if (positionals.length) {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `unexpected argument ${JSON.stringify(positionals[0])}; run 'trellis version --help'`,
      );
    }
    const output = values.output === 'yaml' ? 'text' : values.output;
    if (output !== 'text' && output !== 'json') {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `-o ${String(values.output)}: expected text or json`,
      );
    }
    const client = trellisVersion();
    if (values.client) {
      io.stdout(
        output === 'json'
          ? JSON.stringify({ clientVersion: client }, null, 2) + '\n'
          : `client version: ${client}\n`,
      );
      return 0;
    }
    const base = controlPlaneUrl(values['control-plane'], io.env);
    let controlPlane: string;
    let proxies: ProxyVersion[];
    try {
      const v = (await apiGet(base, '/version')) as { version?: unknown } | undefined;
      controlPlane = typeof v?.version === 'string' ? v.version : 'unknown';
      proxies = proxyVersions(await connectedProxies(base));
    } catch (err) {
      // The client's own version is worth printing even when the control plane is down.
      if (output === 'text') io.stdout(`client version: ${client}\n`);
      else io.stdout(JSON.stringify({ clientVersion: client }, null, 2) + '\n');
      throw err;
    }
    if (output === 'json') {
      io.stdout(
        JSON.stringify(
          { clientVersion: client, controlPlaneVersion: controlPlane, dataPlaneVersions: proxies },
          null,
          2,
        ) + '\n',
      );
      return 0;
    }
    let out =
      `client version: ${client}\n` +
      `control plane version: ${controlPlane}\n` +
      `data plane version: ${dataPlaneSummary(proxies)}\n`;
    if (!values.short && proxies.length) {
      out +=
        '\n' +
        formatTable(
          ['PROXY', 'VERSION', 'ID'],
          proxies.map((p) => [p.name, p.version, p.id]),
        );
    }
    io.stdout(out);
    return 0;
  },
};
