/**
 * `trellis proxy-config` tables, in the columns `istioctl proxy-config` prints, from the
 * resources of a config dump (config-dump.ts). Pure functions over JSON: table-tested.
 *
 * Istio marks each cluster and route with the DestinationRule / VirtualService it came from
 * (metadata `istio.config`); when a dump carries that we print it, otherwise we match the
 * resources the control plane serves (passed in as `config`) by host, as the translation does.
 */
import type { Resource } from '../api/resource.js';
import { arr, obj, parseClusterName, typedConfig, type Json } from './config-dump.js';
import { routeDestination, routePolicy } from './proxy-config-route-policy.js';

export { parseClusterName };
import { formatTable } from './table.js';

export interface MeshConfig {
  destinationRules: readonly Resource[];
  virtualServices: readonly Resource[];
  /** The proxy's namespace and type (sidecar / router), from its node id. */
  proxy: { namespace: string; type: string };
  domainSuffix?: string;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

/** A config host as the translation reads it: short names live in the resource's namespace. */
function expandHost(host: string, namespace: string, suffix: string): string {
  return host.includes('.') || host.includes('*') ? host : `${host}.${namespace}.svc.${suffix}`;
}

function hostMatches(pattern: string, fqdn: string): boolean {
  if (pattern === '*') return true;
  return pattern.startsWith('*.') ? fqdn.endsWith(pattern.slice(1)) : pattern === fqdn;
}

/** `name.namespace` of an Istio metadata config path (/apis/GROUP/VERSION/namespaces/NS/KIND/NAME). */
function fromIstioMetadata(resource: Json): string | undefined {
  const config = str(obj(obj(obj(resource.metadata).filterMetadata).istio).config);
  const m = /\/namespaces\/([^/]+)\/[^/]+\/([^/]+)$/.exec(config);
  return m ? `${m[2]}.${m[1]}` : undefined;
}

/** The resource, among `candidates` whose hosts match, that the proxy sees: its own namespace first. */
function pick(
  candidates: readonly Resource[],
  fqdn: string,
  mesh: MeshConfig,
  hostsOf: (r: Resource) => string[],
) {
  const suffix = mesh.domainSuffix ?? 'cluster.local';
  const serviceNs = fqdn.split('.')[1];
  const matching = candidates.filter((r) =>
    hostsOf(r).some((h) => hostMatches(expandHost(h, r.metadata.namespace, suffix), fqdn)),
  );
  const best =
    matching.find((r) => r.metadata.namespace === mesh.proxy.namespace) ??
    matching.find((r) => r.metadata.namespace === serviceNs) ??
    matching[0];
  return best ? `${best.metadata.name}.${best.metadata.namespace}` : undefined;
}

export function renderClusters(clusters: readonly Json[], mesh?: MeshConfig): string {
  const rows = clusters
    .map((c) => {
      const name = str(c.name);
      const { direction, port, subset, fqdn } = parseClusterName(name);
      const type = str(c.type) || str(obj(c.clusterType).name) || 'STATIC';
      let dr = fromIstioMetadata(c);
      if (dr === undefined && mesh && direction === 'outbound') {
        dr = pick(mesh.destinationRules, fqdn, mesh, (r) => [str(obj(r.spec).host)]);
      }
      return [fqdn, port || '-', subset || '-', direction || '-', type, dr ?? '-'];
    })
    .sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? '') || (a[1] ?? '').localeCompare(b[1] ?? ''));
  return formatTable(['SERVICE FQDN', 'PORT', 'SUBSET', 'DIRECTION', 'TYPE', 'DESTINATION RULE'], rows);
}

function describeChainMatch(m: Json): string {
  const parts: string[] = [];
  const ranges = arr(m.prefixRanges).map(
    (r) => `${str(obj(r).addressPrefix)}/${str(obj(r).prefixLen) || '32'}`,
  );
  if (ranges.length) parts.push(`Addr: ${ranges.join(',')}`);
  if (m.destinationPort !== undefined)
    parts.push(`Port: ${str(obj(m.destinationPort).value ?? m.destinationPort)}`);
  const sni = arr(m.serverNames).map(str);
  if (sni.length) parts.push(`SNI: ${sni.join(',')}`);
  if (m.transportProtocol) parts.push(`Trans: ${str(m.transportProtocol)}`);
  const alpn = arr(m.applicationProtocols).map(str);
  if (alpn.length) parts.push(`App: ${alpn.join(',')}`);
  return parts.join('; ') || 'ALL';
}

function describeDestination(chain: Json): string {
  for (const f of arr(chain.filters).map(obj)) {
    const cfg = typedConfig(f);
    const rds = obj(cfg.rds);
    if (rds.routeConfigName !== undefined) return `Route: ${str(rds.routeConfigName)}`;
    if (cfg.routeConfig !== undefined) return `Inline Route: ${str(obj(cfg.routeConfig).name)}`;
    if (cfg.cluster !== undefined) return `Cluster: ${str(cfg.cluster)}`;
    const weighted = arr(obj(cfg.weightedClusters).clusters).map((c) => str(obj(c).name));
    if (weighted.length) return `Clusters: ${weighted.join(',')}`;
  }
  return arr(chain.filters)
    .map((f) => str(obj(f).name))
    .join(',');
}

export function renderListeners(listeners: readonly Json[]): string {
  const rows: string[][] = [];
  for (const l of listeners) {
    const sock = obj(obj(l.address).socketAddress);
    const address = str(sock.address);
    const port = str(sock.portValue);
    const chains = arr(l.filterChains).map(obj);
    if (l.defaultFilterChain !== undefined) chains.push(obj(l.defaultFilterChain));
    for (const chain of chains.length ? chains : [{}]) {
      rows.push([address, port, describeChainMatch(obj(chain.filterChainMatch)), describeDestination(chain)]);
    }
  }
  rows.sort((a, b) => Number(a[1]) - Number(b[1]) || (a[0] ?? '').localeCompare(b[0] ?? ''));
  return formatTable(['ADDRESSES', 'PORT', 'MATCH', 'DESTINATION'], rows);
}

/** Route configs served over RDS plus those inlined in listeners (Istio's inbound ones). */
export function allRouteConfigs(routes: readonly Json[], listeners: readonly Json[]): Json[] {
  const inline = listeners.flatMap((l) =>
    arr(l.filterChains)
      .map(obj)
      .flatMap((chain) => arr(chain.filters).map((f) => obj(typedConfig(obj(f)).routeConfig)))
      .filter((rc) => Object.keys(rc).length > 0),
  );
  return [...routes, ...inline];
}

function describeRouteMatch(m: Json): string {
  let path = '';
  if (m.prefix !== undefined) path = `${str(m.prefix).replace(/\/$/, '')}/*`;
  else if (m.path !== undefined) path = str(m.path);
  else if (m.safeRegex !== undefined) path = `regex ${str(obj(m.safeRegex).regex)}`;
  else if (m.pathSeparatedPrefix !== undefined) path = `${str(m.pathSeparatedPrefix)}/*`;
  const headers = arr(m.headers).map((h) => {
    const hm = obj(h);
    const sm = obj(hm.stringMatch);
    const value = sm.exact ?? sm.prefix ?? obj(sm.safeRegex).regex ?? hm.exactMatch;
    return value !== undefined ? `${str(hm.name)}=${str(value)}` : str(hm.name);
  });
  return headers.length ? `${path} [${headers.join(', ')}]` : path;
}

/** Domains as istioctl condenses them: the shortest forms without ports, then a count. */
function describeDomains(domains: string[]): string {
  const names = [...new Set(domains.filter((d) => !/:\d+$/.test(d) || d.startsWith('[')))];
  names.sort((a, b) => a.length - b.length || a.localeCompare(b));
  const shown = names.slice(0, 2).join(', ');
  return names.length > 2 ? `${shown} + ${names.length - 2} more...` : shown;
}

export function renderRoutes(routeConfigs: readonly Json[], mesh?: MeshConfig): string {
  const rows: string[][] = [];
  for (const rc of routeConfigs) {
    for (const vh of arr(rc.virtualHosts).map(obj)) {
      const domains = arr(vh.domains).map(str);
      const fqdn = domains.find((d) => d.split('.').length > 3 && !/:\d+$/.test(d)) ?? domains[0] ?? '';
      let vs: string | undefined;
      if (mesh && !str(rc.name).startsWith('inbound|')) {
        const forProxy = mesh.virtualServices.filter((r) => {
          const gateways = arr(obj(r.spec).gateways).map(str);
          const mesh_ = gateways.length === 0 || gateways.includes('mesh');
          return mesh.proxy.type === 'router' ? gateways.some((g) => g !== 'mesh') : mesh_;
        });
        vs = pick(forProxy, fqdn, mesh, (r) => arr(obj(r.spec).hosts).map(str));
      }
      for (const route of arr(vh.routes).map(obj)) {
        rows.push([
          str(rc.name),
          str(vh.name),
          describeDomains(domains),
          describeRouteMatch(obj(route.match)),
          routeDestination(route),
          routePolicy(route),
          fromIstioMetadata(route) ?? vs ?? '-',
        ]);
      }
    }
  }
  return formatTable(
    ['NAME', 'VHOST NAME', 'DOMAINS', 'MATCH', 'DESTINATION', 'POLICY', 'VIRTUAL SERVICE'],
    rows,
  );
}

function endpointRow(lb: Json, cluster: string): string[] {
  const sock = obj(obj(obj(lb.endpoint).address).socketAddress);
  const health = str(lb.healthStatus) || 'UNKNOWN';
  // Envoy routes to UNKNOWN like HEALTHY; istioctl prints it as HEALTHY.
  return [
    `${str(sock.address)}:${str(sock.portValue)}`,
    health === 'UNKNOWN' ? 'HEALTHY' : health,
    '-',
    cluster,
  ];
}

/**
 * Endpoints the control plane assigned: every ClusterLoadAssignment plus clusters with inline
 * load assignments. OUTLIER CHECK is only known to the proxy (see renderAdminEndpoints).
 */
export function renderEndpoints(endpoints: readonly Json[], clusters: readonly Json[]): string {
  const assignments = [...endpoints, ...clusters.map((c) => obj(c.loadAssignment))].filter(
    (a) => a.clusterName !== undefined,
  );
  const rows = assignments.flatMap((a) =>
    arr(a.endpoints).flatMap((loc) =>
      arr(obj(loc).lbEndpoints).map((lb) => endpointRow(obj(lb), str(a.clusterName))),
    ),
  );
  rows.sort((a, b) => (a[3] ?? '').localeCompare(b[3] ?? '') || (a[0] ?? '').localeCompare(b[0] ?? ''));
  return formatTable(['ENDPOINT', 'STATUS', 'OUTLIER CHECK', 'CLUSTER'], rows);
}

/** From a proxy's admin /clusters text (Envoy's format): health and outlier state per host. */
export function renderAdminEndpoints(clustersText: string): string {
  const rows: string[][] = [];
  for (const line of clustersText.split('\n')) {
    const m = /^(.*)::health_flags::(.*)$/.exec(line);
    if (!m) continue;
    const rest = m[1] ?? '';
    const at = rest.indexOf('::');
    if (at < 0) continue;
    const flags = m[2] ?? '';
    rows.push([
      rest.slice(at + 2),
      /failed_eds_health|failed_active_hc/.test(flags) ? 'UNHEALTHY' : 'HEALTHY',
      flags.includes('failed_outlier_check') ? 'FAILED' : 'OK',
      rest.slice(0, at),
    ]);
  }
  rows.sort((a, b) => (a[3] ?? '').localeCompare(b[3] ?? '') || (a[0] ?? '').localeCompare(b[0] ?? ''));
  return formatTable(['ENDPOINT', 'STATUS', 'OUTLIER CHECK', 'CLUSTER'], rows);
}
