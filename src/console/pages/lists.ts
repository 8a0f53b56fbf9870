/** The list pages: services, proxies with their sync state, config errors, the audit trail. */
import { get } from '../api.js';
import { h, mount, table } from '../dom.js';
import type { AuditRecord, ConfigProblem, ProxyStatus, Service } from '../types.js';

export const serviceLink = (s: Pick<Service, 'namespace' | 'hostname'>) =>
  `#/services/${encodeURIComponent(s.namespace)}/${encodeURIComponent(s.hostname)}`;

export const versionsOf = (s: Service): string[] =>
  [...new Set(s.endpoints.map((e) => e.labels.version).filter((v): v is string => v !== undefined))].sort();

export async function servicesPage(root: HTMLElement): Promise<void> {
  const { services } = await get<{ services: Service[] }>('/console/api/services');
  mount(
    root,
    h('h1', {}, 'Services'),
    table(
      ['Service', 'Namespace', 'Ports', 'Versions', 'Endpoints', 'Source'],
      services.map((s) => [
        h('a', { href: serviceLink(s) }, s.hostname),
        s.namespace,
        s.ports.map((p) => `${p.number}/${p.protocol}`).join(' '),
        versionsOf(s).join(', ') || '-',
        `${s.endpoints.filter((e) => e.healthy).length}/${s.endpoints.length} healthy`,
        s.source,
      ]),
      { id: 'services' },
    ),
  );
}

/** SYNCED / NOT SENT / STALE per type, and the last NACK, as `trellis proxy-status` shows them. */
export function syncCells(p: ProxyStatus): string[] {
  return ['CDS', 'LDS', 'EDS', 'RDS'].map((t) => p.types[t]?.status ?? '-');
}

export function nacksOf(
  proxies: readonly ProxyStatus[],
): { proxy: string; type: string; message: string; at: string }[] {
  return proxies.flatMap((p) =>
    Object.entries(p.types).flatMap(([type, s]) =>
      s.lastNack
        ? [{ proxy: p.workloadName || p.proxy, type, message: s.lastNack.message, at: s.lastNack.at }]
        : [],
    ),
  );
}

export const proxyTable = (proxies: readonly ProxyStatus[]) =>
  table(
    ['Proxy', 'Namespace', 'Type', 'CDS', 'LDS', 'EDS', 'RDS', 'Revision', 'Config dump'],
    proxies.map((p) => [
      p.workloadName || p.proxy,
      p.namespace,
      p.type,
      ...syncCells(p),
      p.configRevision === undefined || p.configRevision < 0 ? '-' : String(p.configRevision),
      h('a', { href: `#/proxies/${encodeURIComponent(p.proxy)}` }, 'config dump'),
    ]),
    { class: 'proxies' },
  );

export async function proxiesPage(root: HTMLElement): Promise<void> {
  const proxies = await get<ProxyStatus[]>('/console/api/proxies');
  const nacks = nacksOf(proxies);
  mount(
    root,
    h('h1', {}, 'Proxies'),
    proxyTable(proxies),
    h('h2', {}, 'NACKs'),
    nacks.length === 0
      ? h('p', { class: 'muted' }, 'No proxy rejected its config.')
      : table(
          ['Proxy', 'Type', 'At', 'Message'],
          nacks.map((n) => [n.proxy, n.type, n.at, n.message]),
        ),
  );
}

export async function configDumpPage(root: HTMLElement, proxy: string): Promise<void> {
  const dump = await get<unknown>(`/console/api/config_dump?proxy=${encodeURIComponent(proxy)}`);
  mount(
    root,
    h('h1', {}, 'Config dump'),
    h('p', { class: 'muted' }, proxy),
    h('pre', { class: 'dump' }, JSON.stringify(dump, null, 2)),
  );
}

export function problemText(p: ConfigProblem): string {
  if (p.derivation && p.problems)
    return `${p.source?.kind} ${p.source?.namespace}/${p.source?.name}: ${p.problems.map((q) => `${q.path}: ${q.message}`).join('; ')}`;
  const where = p.file
    ? `${p.file}${p.doc ? `:${p.doc}` : ''}: `
    : p.source
      ? `${p.source.kind} ${p.source.namespace}/${p.source.name}: `
      : '';
  return `${where}${p.path ? `${p.path}: ` : ''}${p.message}`;
}

export async function errorsPage(root: HTMLElement): Promise<void> {
  const problems = await get<ConfigProblem[]>('/console/api/config_errors');
  mount(
    root,
    h('h1', {}, 'Config errors and warnings'),
    problems.length === 0
      ? h('p', { class: 'muted' }, 'Every config document is accepted.')
      : h(
          'ul',
          { class: 'problems' },
          problems.map((p) => h('li', { class: p.severity ?? 'error' }, problemText(p))),
        ),
  );
}

export async function auditPage(root: HTMLElement): Promise<void> {
  const records = await get<AuditRecord[]>('/console/api/audit');
  mount(
    root,
    h('h1', {}, 'Audit trail'),
    h('p', { class: 'muted' }, 'Every change made through the console, newest first.'),
    table(
      ['At', 'User', 'Action', 'Resources', 'Outcome'],
      records.map((r) => [
        r.at,
        `${r.user} (${r.role})`,
        r.action,
        r.resources.join(', '),
        r.outcome === 'applied'
          ? `applied (revision ${r.revision ?? '-'})`
          : `${r.outcome}: ${(r.problems ?? []).join('; ')}`,
      ]),
      { id: 'audit' },
    ),
  );
}
