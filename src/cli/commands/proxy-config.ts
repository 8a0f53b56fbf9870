import { TrellisError, errorMessage } from '../../core/errors.js';
import type { Resource } from '../../api/resource.js';
import type { Command } from '../command.js';
import { parseFlags } from '../args.js';
import { configRequest, expectOk, type ListResponse } from '../config-client.js';
import { nodeInfo, readConfigDump, type DumpResources, type Json } from '../config-dump.js';
import { controlPlaneUrl } from '../http-client.js';
import { findProxy } from '../connected-proxies.js';
import {
  allRouteConfigs,
  renderAdminEndpoints,
  renderClusters,
  renderEndpoints,
  renderListeners,
  renderRoutes,
  type MeshConfig,
} from '../proxy-config-tables.js';
import { renderSecrets, secretEntries } from '../proxy-config-secrets.js';

const USAGE = `Usage: trellis proxy-config clusters|listeners|routes|endpoints|secret PROXY [--control-plane URL] [-o table|json]
       trellis proxy-config clusters|listeners|routes|endpoints|secret --admin URL [-o table|json]

Shows one proxy's xDS configuration in the tables 'istioctl proxy-config' prints:

  clusters    SERVICE FQDN, PORT, SUBSET, DIRECTION, TYPE, DESTINATION RULE
  listeners   ADDRESSES, PORT, MATCH (filter chain match), DESTINATION (route config or cluster)
  routes      NAME (route config), VHOST NAME, DOMAINS, MATCH, VIRTUAL SERVICE
  endpoints   ENDPOINT, STATUS, OUTLIER CHECK, CLUSTER
  secret      RESOURCE NAME, TYPE, STATUS, VALID CERT, SERIAL NUMBER, NOT AFTER, NOT BEFORE,
              IDENTITY (the SPIFFE URI SAN of a chain's leaf, the subject of each trusted root)

PROXY is a workload name (productpage-v1), NAME.NAMESPACE, a full xDS id or a unique prefix of
one ('trellis proxy-status' lists them). By default it asks the control plane what it last sent
to PROXY (/debug/config_dump?proxy=ID), and names the DestinationRule / VirtualService behind
each cluster and route. With --admin it reads the proxy's own admin endpoint instead (its
/config_dump, and /clusters for endpoint health and outlier ejections): what it accepted.

  --control-plane URL   the control plane's HTTP API (default $TRELLIS_CONTROL_PLANE or
                        http://127.0.0.1:15014)
  --admin URL           a proxy's admin endpoint, e.g. http://127.0.0.1:15000 (Trellis or Envoy)
  -o, --output FORMAT   table (default) or json (the resources, as proto3 JSON)

A proxy's own certificate (secret 'default') and trust bundle ('ROOTCA') are made in the proxy,
so only --admin shows them; from the control plane 'secret' lists what it sent (credentialName).

Example:
  trellis proxy-config secret --admin http://127.0.0.1:15000
  trellis proxy-config routes productpage-v1`;

const TYPES = ['clusters', 'listeners', 'routes', 'endpoints', 'secrets'] as const;
type ConfigType = (typeof TYPES)[number];

async function fetchText(url: string, what: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (err) {
    throw new TrellisError(
      'TRELLIS_IO',
      `cannot reach the proxy's admin endpoint at ${url} (${errorMessage((err as { cause?: unknown }).cause ?? err)}); check --admin (the proxy prints its admin address when ready)`,
    );
  }
  if (!res.ok) throw new TrellisError('TRELLIS_IO', `${what} ${url}: HTTP ${res.status}`);
  return res.text();
}

/** DestinationRules and VirtualServices from the control plane, to name them in the tables. */
async function meshConfig(base: string, nodeId: string | undefined): Promise<MeshConfig | undefined> {
  try {
    const list = async (kind: string): Promise<Resource[]> =>
      expectOk<ListResponse>(await configRequest(base, 'GET', `/v1/config/${kind}`), kind).items;
    return {
      destinationRules: await list('destinationrules'),
      virtualServices: await list('virtualservices'),
      proxy: nodeInfo(nodeId),
    };
  } catch {
    // An older control plane without the config API: the columns show '-'.
    return undefined;
  }
}

export function render(
  type: Exclude<ConfigType, 'secrets'>,
  dump: DumpResources,
  mesh?: MeshConfig,
  adminClusters?: string,
): string {
  switch (type) {
    case 'clusters':
      return renderClusters(dump.clusters, mesh);
    case 'listeners':
      return renderListeners(dump.listeners);
    case 'routes':
      return renderRoutes(allRouteConfigs(dump.routes, dump.listeners), mesh);
    case 'endpoints':
      return adminClusters !== undefined
        ? renderAdminEndpoints(adminClusters)
        : renderEndpoints(dump.endpoints, dump.clusters);
  }
}

function rawSection(type: Exclude<ConfigType, 'secrets'>, dump: DumpResources): Json[] {
  return type === 'routes' ? allRouteConfigs(dump.routes, dump.listeners) : dump[type];
}

function printSecrets(raw: unknown, output: string, io: { stdout: (t: string) => void }): number {
  const entries = secretEntries(raw);
  if (output === 'json')
    io.stdout(
      JSON.stringify(
        entries.map((e) => ({ name: e.name, status: e.status, ...(e.secret ? { secret: e.secret } : {}) })),
        null,
        2,
      ) + '\n',
    );
  else io.stdout(renderSecrets(entries, Date.now()));
  return 0;
}

export const command: Command = {
  name: 'proxy-config',
  summary: "Show a proxy's clusters, listeners, routes, endpoints or secrets, as istioctl proxy-config does.",
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parseFlags('proxy-config', argv, {
      'control-plane': { type: 'string' },
      admin: { type: 'string' },
      output: { type: 'string', short: 'o', default: 'table' },
    });
    const [typeArg, proxy, extra] = positionals;
    const type = TYPES.find((t) => t === typeArg || t === `${typeArg ?? ''}s`);
    if (type === undefined) {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `expected one of ${TYPES.join(', ')}, got ${JSON.stringify(typeArg ?? '')}; run 'trellis proxy-config --help'`,
      );
    }
    if (extra !== undefined || (proxy === undefined && values.admin === undefined)) {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `expected ${type} PROXY (ids: 'trellis proxy-status') or ${type} --admin URL; run 'trellis proxy-config --help'`,
      );
    }
    if (values.output !== 'table' && values.output !== 'json') {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `-o ${String(values.output)}: expected table or json`,
      );
    }

    let raw: unknown;
    let dump: DumpResources;
    let adminClusters: string | undefined;
    let mesh: MeshConfig | undefined;
    if (values.admin !== undefined) {
      const admin = (/^https?:\/\//.test(values.admin) ? values.admin : `http://${values.admin}`).replace(
        /\/+$/,
        '',
      );
      const text = await fetchText(`${admin}/config_dump`, 'config dump');
      try {
        raw = JSON.parse(text) as unknown;
      } catch {
        throw new TrellisError(
          'TRELLIS_IO',
          `${admin}/config_dump did not answer JSON; is --admin a proxy's admin endpoint?`,
        );
      }
      if (type === 'secrets') return printSecrets(raw, values.output, io);
      dump = readConfigDump(raw);
      if (type === 'endpoints') adminClusters = await fetchText(`${admin}/clusters`, 'clusters');
      // Naming DestinationRules needs the control plane: only when it was named explicitly.
      if (values['control-plane'] !== undefined)
        mesh = await meshConfig(controlPlaneUrl(values['control-plane'], io.env), dump.nodeId);
    } else {
      const base = controlPlaneUrl(values['control-plane'], io.env);
      const id = (await findProxy(base, proxy ?? '')).proxy;
      const r = await configRequest(base, 'GET', `/debug/config_dump?proxy=${encodeURIComponent(id)}`);
      raw = expectOk<unknown>(r, 'config dump');
      if (type === 'secrets') {
        io.stderr(
          "trellis proxy-config: a proxy's own certificate ('default') and trust bundle ('ROOTCA') are made in the proxy; use --admin URL to see them\n",
        );
        return printSecrets(raw, values.output, io);
      }
      dump = readConfigDump(raw);
      dump.nodeId ??= id;
      mesh = await meshConfig(base, dump.nodeId);
    }
    if (values.output === 'json') io.stdout(JSON.stringify(rawSection(type, dump), null, 2) + '\n');
    else io.stdout(render(type, dump, mesh, adminClusters));
    return 0;
  },
};
