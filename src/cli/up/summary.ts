/**
 * What `trellis up` prints once the mesh is running: the gateway with the routes it really
 * serves (read from the route tables the gateway accepted, so a mesh without `/productpage` is
 * not told to open it), each proxy by its short name next to its full xDS id (what
 * `proxy-status` and `proxy-config` show), its admin URL and identity.
 */
import type { PathMatch, RouteTable } from '../../proxy/model/config.js';

export interface ProxySummary {
  /** The workload or gateway name (`productpage-v1`). */
  name: string;
  /** Its xDS node id (`sidecar~127.0.0.1~productpage-v1.default~default.svc.cluster.local`). */
  id: string;
  adminUrl: string;
  identity: string;
  pid?: number;
}

export interface UpSummary {
  gatewayUrl?: string;
  /** `HOSTS PATHS` per virtual host of the gateway (gatewayRoutes). */
  gatewayRoutes?: readonly string[];
  gateway?: ProxySummary;
  controlPlaneUrl: string;
  /** The console's URL and the token file to log in with (never the token itself). */
  console?: { url: string; tokenFile: string; created: boolean };
  /** The Prometheus the service graph reads (up --prometheus or --prometheus-url). */
  prometheusUrl?: string;
  xds: string;
  configDir: string;
  workloads: readonly ProxySummary[];
}

function shownPath(p: PathMatch): string {
  switch (p.kind) {
    case 'path':
      return p.value;
    case 'prefix':
      return `${p.value || '/'}*`;
    case 'separated':
      return `${p.value}/*`;
    case 'regex':
      return `~${p.value}`;
  }
}

/**
 * One line per virtual host: its domains (ports dropped, deduplicated) and the paths it routes,
 * e.g. `* /productpage /static* /api/v1/products*`.
 */
export function gatewayRoutes(tables: Iterable<RouteTable>): string[] {
  const lines: string[] = [];
  for (const table of tables) {
    for (const vh of table.virtualHosts) {
      const paths = [...new Set(vh.routes.map((r) => shownPath(r.match.path)))];
      if (paths.length === 0) continue;
      const hosts = [...new Set(vh.domains.map((d) => d.replace(/:(\d+|\*)$/, '')))];
      const line = `${hosts.join(',')} ${paths.join(' ')}`;
      if (!lines.includes(line)) lines.push(line);
    }
  }
  return lines;
}

export function summaryText(s: UpSummary): string {
  const lines = ['', 'trellis up: the mesh is running.'];
  if (s.gatewayUrl) {
    lines.push(`  gateway:        ${s.gatewayUrl}  (admin ${s.gateway?.adminUrl ?? '-'})`);
    const routes = s.gatewayRoutes ?? [];
    if (routes.length === 0)
      lines.push(
        `    routes:       none yet: a VirtualService with gateways: [${s.gateway?.name ?? 'GATEWAY'}] in the config directory adds them`,
      );
    for (const [i, r] of routes.entries())
      lines.push(`    ${i === 0 ? 'routes:      ' : '             '} ${r}`);
  }
  lines.push(
    `  control plane:  ${s.controlPlaneUrl}  (/debug/syncz, /debug/config_dump?proxy=ID, /metrics); xDS ${s.xds}`,
  );
  if (s.console)
    lines.push(
      `  console:        ${s.console.url}  (log in with the token in ${s.console.tokenFile}${s.console.created ? ', made for you now' : ''})`,
    );
  if (s.prometheusUrl)
    lines.push(`  prometheus:     ${s.prometheusUrl}  (the service graph: trellis graph, /v1/graph)`);
  lines.push(`  config:         ${s.configDir}  (watched: edits change traffic live)`);
  const proxies = [...s.workloads, ...(s.gateway ? [s.gateway] : [])];
  const width = Math.max(...proxies.map((w) => w.name.length));
  const idWidth = Math.max(...proxies.map((w) => w.id.length));
  const urlWidth = Math.max(...proxies.map((w) => w.adminUrl.length));
  lines.push('  proxies: name, xDS id, admin (/config_dump, /clusters, /stats/prometheus), identity:');
  for (const w of proxies)
    lines.push(
      `    ${w.name.padEnd(width)}  ${w.id.padEnd(idWidth)}  ${w.adminUrl.padEnd(urlWidth)}  ${w.identity}`,
    );
  lines.push(`  pids:           ${s.workloads.map((w) => `${w.name}=${w.pid ?? '-'}`).join(' ')}`);
  lines.push('Press Ctrl-C to stop.', '');
  return lines.join('\n');
}
