/**
 * `trellis get` tables: the columns `kubectl get` prints for Istio's CRDs (HOSTS, GATEWAYS,
 * HOST, LOCATION, RESOLUTION, ADDRESS), then AGE. NAMESPACE comes first with -A, and SOURCE
 * (the file a resource is served from) last with -o wide.
 */
import type { Resource } from '../api/resource.js';
import { formatAge, formatTable } from './table.js';

type Spec = Record<string, unknown>;
type Column = [header: string, cell: (spec: Spec) => string];

const list = (v: unknown): string => (Array.isArray(v) && v.length ? JSON.stringify(v) : '');
const text = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');

function gatewayHosts(spec: Spec): string {
  const servers = Array.isArray(spec.servers) ? (spec.servers as { hosts?: unknown }[]) : [];
  const hosts = [...new Set(servers.flatMap((s) => (Array.isArray(s.hosts) ? (s.hosts as string[]) : [])))];
  return list(hosts);
}

const COLUMNS: Record<string, Column[]> = {
  VirtualService: [
    ['GATEWAYS', (s) => list(s.gateways)],
    ['HOSTS', (s) => list(s.hosts)],
  ],
  DestinationRule: [['HOST', (s) => text(s.host)]],
  Gateway: [['HOSTS', gatewayHosts]],
  ServiceEntry: [
    ['HOSTS', (s) => list(s.hosts)],
    ['LOCATION', (s) => text(s.location)],
    ['RESOLUTION', (s) => text(s.resolution)],
  ],
  WorkloadEntry: [['ADDRESS', (s) => text(s.address)]],
  RateLimit: [
    ['HOSTS', (s) => list(s.hosts)],
    ['MODE', (s) => text(s.mode) || 'local'],
  ],
  Router: [
    ['PORT', (s) => text(s.port)],
    [
      'BRANCHES',
      (s) =>
        Array.isArray(s.subsets)
          ? (s.subsets as { branch?: unknown }[]).map((b) => text(b.branch)).join(',')
          : '',
    ],
  ],
  // kubectl's columns; a Secret's content is top-level (no spec), and its values redacted.
  Secret: [
    ['TYPE', (s) => text(s.type) || 'Opaque'],
    [
      'DATA',
      (s) =>
        String(new Set([...Object.keys(s.data ?? {}), ...Object.keys(s.stringData ?? {})] as string[]).size),
    ],
  ],
};

export interface ResourceTableOptions {
  allNamespaces: boolean;
  wide: boolean;
  nowMs: number;
  /** `namespace/name` -> file it is served from. */
  sources?: Record<string, string>;
  /** Columns read from elsewhere than the resource (a Router's rollout status), before AGE. */
  extra?: { headers: readonly string[]; cells(r: Resource): readonly string[] };
}

export function renderResources(kind: string, items: readonly Resource[], o: ResourceTableOptions): string {
  const columns = COLUMNS[kind] ?? [];
  const header = [
    ...(o.allNamespaces ? ['NAMESPACE'] : []),
    'NAME',
    ...columns.map(([h]) => h),
    ...(o.extra?.headers ?? []),
    'AGE',
    ...(o.wide ? ['SOURCE'] : []),
  ];
  const rows = items.map((r) => {
    // Kinds written without a spec (Secret) keep their columns' fields at the top level.
    const spec = (r.spec ?? r) as Spec;
    const created = r.metadata.creationTimestamp ? Date.parse(r.metadata.creationTimestamp) : NaN;
    return [
      ...(o.allNamespaces ? [r.metadata.namespace] : []),
      r.metadata.name,
      ...columns.map(([, cell]) => cell(spec)),
      ...(o.extra?.cells(r) ?? []),
      Number.isNaN(created) ? '<unknown>' : formatAge(created, o.nowMs),
      ...(o.wide ? [o.sources?.[`${r.metadata.namespace}/${r.metadata.name}`] ?? '-'] : []),
    ];
  });
  return formatTable(header, rows);
}
