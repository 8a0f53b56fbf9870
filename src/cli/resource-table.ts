/**
 * `trellis get` tables: the columns `kubectl get` prints for Istio's CRDs (HOSTS, GATEWAYS,
 * HOST, LOCATION, RESOLUTION, ADDRESS), then AGE. NAMESPACE comes first with -A, and SOURCE
 * (the file a resource is served from) last with -o wide.
 */
import type { Resource } from '../api/resource.js';
import { formatAge, formatTable } from './table.js';

type Spec = Record<string, unknown>;
type Column = [header: string, cell: (spec: Spec, resource: Resource) => string];

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
  ProxyConfig: [
    [
      'SELECTOR',
      (s) => {
        const labels = (s.selector as { matchLabels?: Record<string, string> } | undefined)?.matchLabels;
        return labels === undefined
          ? ''
          : Object.entries(labels)
              .map(([k, v]) => `${k}=${v}`)
              .join(',');
      },
    ],
    ['CONCURRENCY', (s) => text(s.concurrency)],
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

type Conditions = { type?: string; status?: string; reason?: string }[] | undefined;

/** `True`, or `False (Reason)`, of one condition; `-` before the control plane computed it. */
function conditionCell(conditions: Conditions, type: string): string {
  const c = conditions?.find((x) => x.type === type);
  if (c === undefined) return '-';
  return c.status === 'True' ? 'True' : `${c.status ?? '?'} (${c.reason ?? ''})`;
}

/** A Gateway API route's Accepted and ResolvedRefs over its parents (`True`, or the first refusal). */
function routeCondition(type: string) {
  return (_: Spec, r: Resource): string => {
    const parents = (r.status as { parents?: { conditions?: Conditions }[] } | undefined)?.parents ?? [];
    if (parents.length === 0) return '-';
    const cells = parents.map((p) => conditionCell(p.conditions, type));
    return cells.find((c) => c !== 'True') ?? 'True';
  };
}

const gatewayApiRoute: Column[] = [
  ['HOSTNAMES', (s) => list(s.hostnames)],
  ['ACCEPTED', routeCondition('Accepted')],
  ['RESOLVED', routeCondition('ResolvedRefs')],
];

Object.assign(COLUMNS, {
  KubernetesGateway: [
    ['CLASS', (s) => text(s.gatewayClassName)],
    [
      'PROGRAMMED',
      (_, r) =>
        conditionCell((r.status as { conditions?: Conditions } | undefined)?.conditions, 'Programmed'),
    ],
  ],
  GatewayClass: [
    ['CONTROLLER', (s) => text(s.controllerName)],
    [
      'ACCEPTED',
      (_, r) => conditionCell((r.status as { conditions?: Conditions } | undefined)?.conditions, 'Accepted'),
    ],
  ],
  HTTPRoute: gatewayApiRoute,
  GRPCRoute: gatewayApiRoute,
  TLSRoute: gatewayApiRoute,
  TCPRoute: gatewayApiRoute.slice(1),
} satisfies Record<string, Column[]>);

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
      ...columns.map(([, cell]) => cell(spec, r)),
      ...(o.extra?.cells(r) ?? []),
      Number.isNaN(created) ? '<unknown>' : formatAge(created, o.nowMs),
      ...(o.wide ? [o.sources?.[`${r.metadata.namespace}/${r.metadata.name}`] ?? '-'] : []),
    ];
  });
  return formatTable(header, rows);
}
