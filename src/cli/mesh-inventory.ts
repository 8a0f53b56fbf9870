/**
 * `trellis get services|workloads|endpoints`: the control plane's service index (GET /v1/services)
 * as kubectl-style tables and as plain objects for -o yaml|json. Workloads are the endpoints
 * grouped by namespace and workload name, joined with the connected proxies (/debug/syncz) so a
 * user sees which instances have a sidecar. Pure: the command fetches, this shapes.
 */
import { formatTable } from './table.js';
import { shortName, type NamedProxy } from './proxy-names.js';

export interface InventoryPort {
  name: string;
  number: number;
  protocol: string;
  targetPort?: number;
}

export interface InventoryEndpoint {
  hostname: string;
  namespace: string;
  address: string;
  ports: Record<string, number>;
  labels: Record<string, string>;
  locality: string;
  weight: number;
  healthy: boolean;
  workloadName?: string;
  serviceAccount?: string;
}

export interface InventoryService {
  hostname: string;
  namespace: string;
  ports: InventoryPort[];
  resolution: string;
  location: string;
  addresses: string[];
  labels: Record<string, string>;
  source: string;
  endpoints: InventoryEndpoint[];
}

export const INVENTORY_KINDS = {
  services: ['services', 'service', 'svc'],
  workloads: ['workloads', 'workload', 'wl'],
  endpoints: ['endpoints', 'endpoint', 'ep'],
} as const;
export type InventoryKind = keyof typeof INVENTORY_KINDS;

export function inventoryKind(arg: string): InventoryKind | undefined {
  const a = arg.toLowerCase();
  return (Object.keys(INVENTORY_KINDS) as InventoryKind[]).find((k) =>
    (INVENTORY_KINDS[k] as readonly string[]).includes(a),
  );
}

/** A service is named by its full host or its first label (`reviews` for reviews.default.svc...). */
function serviceMatches(s: InventoryService, name: string): boolean {
  return s.hostname === name || s.hostname.split('.')[0] === name;
}

const labelsText = (l: Record<string, string>): string =>
  Object.entries(l)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(',') || '<none>';

function portsText(ports: readonly InventoryPort[]): string {
  return (
    ports
      .map(
        (p) =>
          `${p.number}/${p.protocol}${p.targetPort !== undefined && p.targetPort !== p.number ? `->${p.targetPort}` : ''}`,
      )
      .join(',') || '<none>'
  );
}

export interface InventoryQuery {
  /** A namespace, or undefined for every namespace (-A). */
  namespace: string | undefined;
  /** A service (host or first label), workload or endpoint service name. */
  name?: string;
}

export function selectServices(services: readonly InventoryService[], q: InventoryQuery): InventoryService[] {
  return services
    .filter((s) => q.namespace === undefined || s.namespace === q.namespace)
    .filter((s) => q.name === undefined || serviceMatches(s, q.name))
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.hostname.localeCompare(b.hostname));
}

export interface EndpointRow extends InventoryEndpoint {
  /** `address:port` per service port. */
  endpoint: string;
  port: string;
  protocol: string;
}

/** One row per endpoint and service port, as `istioctl proxy-config endpoints` lists them. */
export function endpointRows(services: readonly InventoryService[], q: InventoryQuery): EndpointRow[] {
  const rows: EndpointRow[] = [];
  for (const s of selectServices(services, q)) {
    for (const e of s.endpoints) {
      for (const p of s.ports) {
        const port = e.ports[p.name] ?? p.targetPort ?? p.number;
        rows.push({ ...e, endpoint: `${e.address}:${port}`, port: `${p.number}`, protocol: p.protocol });
      }
    }
  }
  return rows;
}

export interface WorkloadRow {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  addresses: string[];
  services: string[];
  /** Healthy instances / all, counted per address. */
  healthy: number;
  instances: number;
  /** Short names of the connected proxies of this workload (workload name and namespace match). */
  proxies: string[];
}

export function workloadRows(
  services: readonly InventoryService[],
  proxies: readonly NamedProxy[],
  q: InventoryQuery,
): WorkloadRow[] {
  const byKey = new Map<string, WorkloadRow & { health: Map<string, boolean> }>();
  for (const s of services) {
    if (q.namespace !== undefined && s.namespace !== q.namespace) continue;
    for (const e of s.endpoints) {
      const name = e.workloadName || e.address;
      if (q.name !== undefined && name !== q.name) continue;
      const key = `${e.namespace}/${name}`;
      let w = byKey.get(key);
      if (!w) {
        w = {
          name,
          namespace: e.namespace,
          labels: { ...e.labels },
          addresses: [],
          services: [],
          healthy: 0,
          instances: 0,
          proxies: [],
          health: new Map(),
        };
        byKey.set(key, w);
      }
      if (!w.addresses.includes(e.address)) w.addresses.push(e.address);
      const svc = s.hostname.endsWith(`.${s.namespace}.svc.cluster.local`)
        ? (s.hostname.split('.')[0] ?? s.hostname)
        : s.hostname;
      if (!w.services.includes(svc)) w.services.push(svc);
      // An instance behind several services is one instance; unhealthy anywhere is unhealthy.
      w.health.set(e.address, (w.health.get(e.address) ?? true) && e.healthy);
    }
  }
  const rows = [...byKey.values()].map(({ health, ...w }) => {
    const wanted = `${w.name}.${w.namespace}`;
    return {
      ...w,
      addresses: w.addresses.sort(),
      services: w.services.sort(),
      instances: health.size,
      healthy: [...health.values()].filter(Boolean).length,
      proxies: proxies
        .filter((p) => shortName(p) === wanted)
        .map((p) => p.proxy)
        .sort(),
    };
  });
  return rows.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

export interface TableOptions {
  allNamespaces: boolean;
  wide: boolean;
}

function withNamespace<T extends { namespace: string }>(
  opts: TableOptions,
  header: string[],
  rows: readonly T[],
  cells: (r: T) => string[],
): string {
  return opts.allNamespaces
    ? formatTable(
        ['NAMESPACE', ...header],
        rows.map((r) => [r.namespace, ...cells(r)]),
      )
    : formatTable(header, rows.map(cells));
}

export function renderServices(services: readonly InventoryService[], opts: TableOptions): string {
  const header = ['NAME', 'PORTS', 'ENDPOINTS', 'LOCATION'];
  if (opts.wide) header.push('RESOLUTION', 'ADDRESSES', 'LABELS', 'SOURCE');
  return withNamespace(opts, header, services, (s) => {
    const healthy = s.endpoints.filter((e) => e.healthy).length;
    const cells = [s.hostname, portsText(s.ports), `${healthy}/${s.endpoints.length}`, s.location];
    if (opts.wide)
      cells.push(s.resolution, s.addresses.join(',') || '<none>', labelsText(s.labels), s.source);
    return cells;
  });
}

export function renderEndpoints(rows: readonly EndpointRow[], opts: TableOptions): string {
  const header = ['ENDPOINT', 'SERVICE', 'PORT', 'HEALTH', 'WORKLOAD'];
  if (opts.wide) header.push('WEIGHT', 'LOCALITY', 'LABELS', 'SERVICE ACCOUNT');
  return withNamespace(opts, header, rows, (r) => {
    const cells = [
      r.endpoint,
      r.hostname,
      `${r.port}/${r.protocol}`,
      r.healthy ? 'HEALTHY' : 'UNHEALTHY',
      r.workloadName || '-',
    ];
    if (opts.wide)
      cells.push(String(r.weight), r.locality || '-', labelsText(r.labels), r.serviceAccount || '-');
    return cells;
  });
}

export function renderWorkloads(rows: readonly WorkloadRow[], opts: TableOptions): string {
  const header = ['NAME', 'SERVICES', 'READY', 'PROXY'];
  if (opts.wide) header.push('ADDRESSES', 'LABELS', 'PROXY IDS');
  return withNamespace(opts, header, rows, (w) => {
    const cells = [
      w.name,
      w.services.join(','),
      `${w.healthy}/${w.instances}`,
      w.proxies.length === 0 ? 'none' : `${w.proxies.length} connected`,
    ];
    if (opts.wide) cells.push(w.addresses.join(','), labelsText(w.labels), w.proxies.join(',') || '-');
    return cells;
  });
}
