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
import {
  checkFilter,
  filterClusters,
  filterListeners,
  filterRouteConfigs,
  type ProxyConfigFilter,
} from '../proxy-config-filters.js';
import { LOG_USAGE, adminBaseUrl, runLog } from '../proxy-config-log.js';
import { stringify } from 'yaml';

const USAGE = `Usage: trellis proxy-config TYPE PROXY [filters] [-o table|json|yaml] [--control-plane URL]
       trellis proxy-config TYPE --admin URL [filters] [-o table|json|yaml]
       trellis proxy-config log PROXY|--admin URL [--level LEVEL] [--access-log on|off|config]

Shows one proxy's xDS configuration in the tables 'istioctl proxy-config' prints. TYPE:

  clusters    SERVICE FQDN, PORT, SUBSET, DIRECTION, TYPE, DESTINATION RULE
  listeners   ADDRESSES, PORT, MATCH (filter chain match), DESTINATION (route config or cluster)
  routes      NAME (route config), VHOST NAME, DOMAINS, MATCH, DESTINATION (cluster, or weighted
              clusters with their share), POLICY (timeout, retries, fault delay/abort), VIRTUAL SERVICE
  endpoints   ENDPOINT, STATUS, OUTLIER CHECK, CLUSTER
  secret      RESOURCE NAME, TYPE, STATUS, VALID CERT, SERIAL NUMBER, NOT AFTER, NOT BEFORE,
              IDENTITY (the SPIFFE URI SAN of a chain's leaf, the subject of each trusted root)
  all         every table above, one after the other (-o json|yaml: one document)
  log         the proxy's log level and access log, changed at runtime ('log --help' below)

PROXY is a workload name (productpage-v1), NAME.NAMESPACE, a full xDS id or a unique prefix of
one ('trellis proxy-status' lists them). By default it asks the control plane what it last sent
to PROXY (/debug/config_dump?proxy=ID), and names the DestinationRule / VirtualService behind
each cluster and route. With --admin it reads the proxy's own admin endpoint instead (its
/config_dump, and /clusters for endpoint health and outlier ejections): what it accepted.

Filters (as istioctl's):
  clusters    --fqdn HOST (reviews, reviews.default or the full name), --port N,
              --subset NAME, --direction inbound|outbound
  listeners   --name NAME, --address IP, --port N
  routes      --name NAME (route config), --port N

  --control-plane URL   the control plane's HTTP API (default $TRELLIS_CONTROL_PLANE or
                        http://127.0.0.1:15014)
  --admin URL           a proxy's admin endpoint, e.g. http://127.0.0.1:15000 (Trellis or Envoy)
  -o, --output FORMAT   table (default), json or yaml (the resources, as proto3 JSON)

A proxy's own certificate (secret 'default') and trust bundle ('ROOTCA') are made in the proxy,
so only --admin shows them; from the control plane 'secret' lists what it sent (credentialName).

Example:
  trellis proxy-config secret --admin http://127.0.0.1:15000
  trellis proxy-config routes productpage-v1
  trellis proxy-config clusters productpage-v1 --fqdn reviews --subset v2 -o yaml

${LOG_USAGE}`;

const TYPES = ['clusters', 'listeners', 'routes', 'endpoints', 'secrets', 'all'] as const;
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
  type: Exclude<ConfigType, 'secrets' | 'all'>,
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

/** The dump narrowed by the filter flags (proxy-config-filters.ts); routes include inline ones. */
function filtered(dump: DumpResources, f: ProxyConfigFilter): DumpResources {
  return {
    nodeId: dump.nodeId,
    clusters: filterClusters(dump.clusters, f),
    listeners: filterListeners(dump.listeners, f),
    // Inline route configs are listed with the RDS ones; listeners stay whole for that.
    routes: filterRouteConfigs(allRouteConfigs(dump.routes, dump.listeners), f),
    endpoints: dump.endpoints,
  };
}

function rawSection(type: Exclude<ConfigType, 'secrets' | 'all'>, dump: DumpResources): Json[] {
  return dump[type];
}

type Output = 'table' | 'json' | 'yaml';

function serialize(value: unknown, output: Exclude<Output, 'table'>): string {
  return output === 'json' ? JSON.stringify(value, null, 2) + '\n' : stringify(value);
}

function secretsValue(entries: ReturnType<typeof secretEntries>): object[] {
  return entries.map((e) => ({ name: e.name, status: e.status, ...(e.secret ? { secret: e.secret } : {}) }));
}

const FILTER_OPTIONS = {
  fqdn: { type: 'string' },
  port: { type: 'string' },
  subset: { type: 'string' },
  direction: { type: 'string' },
  name: { type: 'string' },
  address: { type: 'string' },
} as const;

export const command: Command = {
  name: 'proxy-config',
  summary:
    "Show a proxy's clusters, listeners, routes, endpoints or secrets, as istioctl proxy-config does; set its log level and access log.",
  usage: USAGE,
  async run(argv, io) {
    if (argv[0] === 'log') return runLog(argv.slice(1), io);
    const { values, positionals } = parseFlags('proxy-config', argv, {
      'control-plane': { type: 'string' },
      admin: { type: 'string' },
      output: { type: 'string', short: 'o', default: 'table' },
      ...FILTER_OPTIONS,
    });
    const [typeArg, proxy, extra] = positionals;
    const type = TYPES.find((t) => t === typeArg || t === `${typeArg ?? ''}s`);
    if (type === undefined) {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `expected one of ${TYPES.join(', ')} or log, got ${JSON.stringify(typeArg ?? '')}; run 'trellis proxy-config --help'`,
      );
    }
    if (extra !== undefined || (proxy === undefined && values.admin === undefined)) {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `expected ${type} PROXY (names: 'trellis proxy-status') or ${type} --admin URL; run 'trellis proxy-config --help'`,
      );
    }
    const output = values.output as Output;
    if (output !== 'table' && output !== 'json' && output !== 'yaml') {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `-o ${String(values.output)}: expected table, json or yaml`,
      );
    }
    const filter: ProxyConfigFilter = {};
    for (const k of Object.keys(FILTER_OPTIONS) as (keyof typeof FILTER_OPTIONS)[]) {
      if (values[k] !== undefined) filter[k] = values[k];
    }
    checkFilter(type, filter);

    let raw: unknown;
    let dump: DumpResources;
    let adminClusters: string | undefined;
    let mesh: MeshConfig | undefined;
    const fromAdmin = values.admin !== undefined;
    if (values.admin !== undefined) {
      const admin = adminBaseUrl(values.admin);
      const text = await fetchText(`${admin}/config_dump`, 'config dump');
      try {
        raw = JSON.parse(text) as unknown;
      } catch {
        throw new TrellisError(
          'TRELLIS_IO',
          `${admin}/config_dump did not answer JSON; is --admin a proxy's admin endpoint?`,
        );
      }
      dump = readConfigDump(raw);
      if (type === 'endpoints' || type === 'all')
        adminClusters = await fetchText(`${admin}/clusters`, 'clusters');
      // Naming DestinationRules needs the control plane: only when it was named explicitly.
      if (values['control-plane'] !== undefined && type !== 'secrets')
        mesh = await meshConfig(controlPlaneUrl(values['control-plane'], io.env), dump.nodeId);
    } else {
      const base = controlPlaneUrl(values['control-plane'], io.env);
      const id = (await findProxy(base, proxy ?? '')).proxy;
      const r = await configRequest(base, 'GET', `/debug/config_dump?proxy=${encodeURIComponent(id)}`);
      raw = expectOk<unknown>(r, 'config dump');
      dump = readConfigDump(raw);
      dump.nodeId ??= id;
      if (type !== 'secrets') mesh = await meshConfig(base, dump.nodeId);
    }
    const secretsNote = () => {
      if (!fromAdmin)
        io.stderr(
          "trellis proxy-config: a proxy's own certificate ('default') and trust bundle ('ROOTCA') are made in the proxy; use --admin URL to see them\n",
        );
    };
    if (type === 'secrets') {
      secretsNote();
      const entries = secretEntries(raw);
      io.stdout(
        output === 'table' ? renderSecrets(entries, Date.now()) : serialize(secretsValue(entries), output),
      );
      return 0;
    }
    const view = filtered(dump, filter);
    if (type === 'all') {
      const entries = secretEntries(raw);
      if (output !== 'table') {
        io.stdout(
          serialize(
            {
              node: view.nodeId,
              clusters: view.clusters,
              listeners: view.listeners,
              routes: view.routes,
              endpoints: view.endpoints,
              secrets: secretsValue(entries),
            },
            output,
          ),
        );
        return 0;
      }
      secretsNote();
      io.stdout(
        [
          renderClusters(view.clusters, mesh),
          renderListeners(view.listeners),
          renderRoutes(view.routes, mesh),
          adminClusters !== undefined
            ? renderAdminEndpoints(adminClusters)
            : renderEndpoints(view.endpoints, view.clusters),
          renderSecrets(entries, Date.now()),
        ].join('\n'),
      );
      return 0;
    }
    if (output !== 'table') io.stdout(serialize(rawSection(type, view), output));
    else if (type === 'routes') io.stdout(renderRoutes(view.routes, mesh));
    else io.stdout(render(type, view, mesh, adminClusters));
    return 0;
  },
};
