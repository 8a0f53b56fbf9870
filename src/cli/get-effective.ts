/**
 * `trellis get KIND NAME --effective` and `trellis get trafficfilters`: the config as the mesh
 * serves it (the control plane's `?effective=true`, controlplane/effective-config.ts).
 *
 * One resource prints as YAML with a comment on every field a TrafficFilter set, naming the
 * filter, its owner and priority, and a header listing conflicts and problems; `-o json` prints
 * the answer as is (`status.provenance` maps each field path to its filter). TrafficFilters list
 * with OWNER, PRIORITY, TARGET, FEATURE and CONFLICTS, then every problem the layering found.
 */
import { Document, isMap, isScalar, isSeq, type Node } from 'yaml';
import type { Resource } from '../api/resource.js';
import { featureOf, type TrafficFilterSpec } from '../api/trellis/traffic-filter.js';
import { formatPath, type PathStep } from '../controllers/traffic-filter/field-paths.js';
import type { Provenance } from '../controllers/traffic-filter/layering.js';
import type { FrameConflict } from '../controllers/traffic-filter/provenance.js';
import { formatAge, formatTable } from './table.js';

/** What `?effective=true` adds to each resource. */
export interface EffectiveStatus {
  provenance?: Record<string, Provenance>;
  conflicts?: FrameConflict[];
  problems?: { derivation: string; severity: string; path: string; message: string }[];
}

export type EffectiveResource = Resource & { status?: EffectiveStatus };

const TRAFFIC_FILTER_NAMES = ['trafficfilter', 'trafficfilters', 'tf'];

export function isTrafficFilterKind(kind: string): boolean {
  const lower = kind.toLowerCase();
  return TRAFFIC_FILTER_NAMES.some((n) => lower === n || lower === `${n}.trellis.io`);
}

function who(p: Provenance): string {
  const shared = p.sharedWith?.length ? `, also ${p.sharedWith.join(', ')}` : '';
  return `${p.filter} (owner ${p.owner}, priority ${p.priority}${shared})`;
}

/** The resource as YAML, each field a filter set commented with the filter; status as a header. */
export function renderEffective(item: EffectiveResource): string {
  const { status, ...manifest } = item;
  const doc = new Document(manifest);
  const provenance = status?.provenance ?? {};
  annotate(doc.contents, [], provenance);
  const header = [
    `${item.kind} ${item.metadata.namespace}/${item.metadata.name} as served.`,
    Object.keys(provenance).length > 0
      ? 'Fields set by a TrafficFilter name it.'
      : 'No TrafficFilter sets any of its fields.',
  ];
  for (const c of status?.conflicts ?? []) {
    header.push(
      `conflict at ${c.at} (priority ${c.priority}): ${c.filters.join(' and ')} set different values, so neither applies`,
    );
  }
  for (const p of status?.problems ?? []) header.push(`${p.severity}: ${p.path}: ${p.message}`);
  doc.commentBefore = header.map((l) => ` ${l}`).join('\n');
  return doc.toString({ lineWidth: 0 });
}

function annotate(node: unknown, steps: PathStep[], provenance: Record<string, Provenance>): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const at = [...steps, key];
      const p = provenance[formatPath(at)];
      if (p !== undefined) {
        if (isScalar(pair.value)) pair.value.comment = ` ${who(p)}`;
        else if (pair.key !== null && typeof pair.key === 'object')
          (pair.key as Node).commentBefore = ` ${who(p)}`;
      }
      annotate(pair.value, at, provenance);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => annotate(item, [...steps, i], provenance));
  }
}

function target(spec: TrafficFilterSpec): string {
  const t = spec.target;
  return [
    t.host,
    t.route !== undefined ? `route=${t.route}` : '',
    t.subset !== undefined ? `subset=${t.subset}` : '',
  ]
    .filter((s) => s !== '')
    .join(' ');
}

/** The filters a problem says this one conflicts with (`shop/team-b`). */
function rivals(problems: EffectiveStatus['problems']): string {
  const out = new Set<string>();
  for (const p of problems ?? []) {
    if (!p.message.startsWith('conflicts with ')) continue;
    const head = p.message.slice(0, p.message.indexOf(' at the same priority'));
    for (const m of head.matchAll(/TrafficFilter (\S+)/g)) out.add(`${m[1] ?? ''} (${p.path})`);
  }
  return [...out].join(', ') || '-';
}

export function renderTrafficFilters(
  items: readonly EffectiveResource[],
  o: { allNamespaces: boolean; nowMs: number; wide?: boolean; sources?: Record<string, string> },
): string {
  const header = [
    ...(o.allNamespaces ? ['NAMESPACE'] : []),
    'NAME',
    'OWNER',
    'PRIORITY',
    'TARGET',
    'FEATURE',
    'CONFLICTS',
    'AGE',
    ...(o.wide ? ['SOURCE'] : []),
  ];
  const rows = items.map((r) => {
    const spec = r.spec as TrafficFilterSpec;
    const created = r.metadata.creationTimestamp ? Date.parse(r.metadata.creationTimestamp) : NaN;
    return [
      ...(o.allNamespaces ? [r.metadata.namespace] : []),
      r.metadata.name,
      spec.owner,
      String(spec.priority ?? 0),
      target(spec),
      featureOf(spec) ?? '-',
      rivals(r.status?.problems),
      Number.isNaN(created) ? '<unknown>' : formatAge(created, o.nowMs),
      ...(o.wide ? [o.sources?.[`${r.metadata.namespace}/${r.metadata.name}`] ?? '-'] : []),
    ];
  });
  const lines: string[] = [];
  for (const r of items) {
    for (const p of r.status?.problems ?? []) {
      lines.push(`${p.severity}: ${r.metadata.namespace}/${r.metadata.name}: ${p.path}: ${p.message}`);
    }
  }
  return formatTable(header, rows) + (lines.length > 0 ? `\n${lines.join('\n')}\n` : '');
}
