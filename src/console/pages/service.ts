/**
 * One service: its versions, endpoints, proxies and their sync state, routes, filters, config
 * errors and NACKs, the access log switch, and (for editors) the forms that change its traffic.
 */
import { ApiError, call, get } from '../api.js';
import { h, mount, table } from '../dom.js';
import { FEATURE_FORMS, featureEdit, filterName, type FeatureForm } from '../edits/features.js';
import { configFor, currentWeights, type WrittenConfig } from '../edits/lookup.js';
import type { EditPlan, ResourceObject, ServiceConfig, ServiceInfo } from '../edits/model.js';
import { accessLogEdit, routingEdit, type HeaderRoute } from '../edits/routing.js';
import type { ConfigProblem, ProxyStatus, Service, Session } from '../types.js';
import { nacksOf, problemText, proxyTable, versionsOf } from './lists.js';
import { explainForm } from './explain-form.js';

const list = async (kind: string, namespace: string): Promise<ResourceObject[]> => {
  try {
    return (
      await get<{ items: ResourceObject[] }>(
        `/console/api/config/${kind}?namespace=${encodeURIComponent(namespace)}`,
      )
    ).items;
  } catch {
    return []; // a kind this control plane does not know
  }
};

/** Sends a plan; answers what to show: the revision, or the problems with their field paths. */
async function save(plan: EditPlan, out: HTMLElement, after: (message: string) => void): Promise<void> {
  if (!plan.ok) {
    mount(out, h('div', { class: 'edit-error', role: 'alert' }, plan.message));
    return;
  }
  mount(out, h('span', { class: 'muted' }, 'saving...'));
  try {
    const res = await call<{ revision: number }>('POST', '/console/api/config', plan.resources);
    const saved = `Saved: ${plan.resources.map((r) => `${r.kind} ${r.metadata.name}`).join(', ')} (revision ${res.revision})`;
    mount(out, h('div', { class: 'edit-ok', role: 'status' }, saved));
    after(saved);
  } catch (err) {
    const e = err instanceof ApiError ? err : new ApiError(0, String(err));
    mount(
      out,
      h(
        'div',
        { class: 'edit-error', role: 'alert' },
        h('strong', {}, e.message),
        e.problems.length > 0 &&
          h(
            'ul',
            {},
            e.problems.map((p) =>
              h('li', { class: 'problem' }, `${p.path ? `${p.path}: ` : ''}${p.message}`),
            ),
          ),
      ),
    );
  }
}

const valuesOf = (form: HTMLFormElement): Record<string, string> =>
  Object.fromEntries(
    [...new FormData(form).entries()].map(([k, v]) => [k, typeof v === 'string' ? v : v.name]),
  );

function routingForm(
  service: ServiceInfo,
  config: ServiceConfig,
  reload: (message?: string) => void,
): HTMLElement {
  const weights = currentWeights(config);
  const out = h('div', { class: 'result' });
  const form = h(
    'form',
    { id: 'routing-form', class: 'editor' },
    h(
      'h3',
      {},
      config.router
        ? `Canary weights (Router ${config.router.metadata.name})`
        : 'Canary weights and header routes',
    ),
    h(
      'div',
      { class: 'fields' },
      service.versions.map((v) =>
        h(
          'label',
          {},
          `${v} %`,
          h('input', { name: `weight:${v}`, value: weights[v] ?? '', inputmode: 'numeric', size: 4 }),
        ),
      ),
    ),
    !config.router &&
      h(
        'div',
        { class: 'fields' },
        h('label', {}, 'Header', h('input', { name: 'header', placeholder: 'x-user' })),
        h('label', {}, 'equals', h('input', { name: 'headerValue', placeholder: 'jason' })),
        h(
          'label',
          {},
          'to version',
          h(
            'select',
            { name: 'headerVersion' },
            service.versions.map((v) => h('option', { value: v }, v)),
          ),
        ),
      ),
    h('button', { type: 'submit' }, 'Save routing'),
    out,
  ) as HTMLFormElement;
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = valuesOf(form);
    const w = Object.fromEntries(service.versions.map((x) => [x, v[`weight:${x}`] ?? '']));
    const headerRoutes: HeaderRoute[] =
      (v.header ?? '').trim() !== ''
        ? [{ header: v.header ?? '', value: v.headerValue ?? '', version: v.headerVersion ?? '' }]
        : [];
    void save(routingEdit(service, config, { weights: w, headerRoutes }), out, reload);
  });
  return form;
}

function featureForm(
  f: FeatureForm,
  service: ServiceInfo,
  config: ServiceConfig,
  current: ResourceObject | undefined,
  reload: (message?: string) => void,
): HTMLElement {
  const out = h('div', { class: 'result' });
  const now = current
    ? JSON.stringify(
        Object.fromEntries(Object.entries(current.spec).filter(([k]) => k !== 'target' && k !== 'owner')),
      )
    : '';
  const form = h(
    'form',
    { class: 'editor', 'data-feature': f.feature },
    h('h3', {}, f.title),
    current && h('p', { class: 'muted' }, `now: ${now}`),
    h(
      'div',
      { class: 'fields' },
      f.fields.map((x) =>
        h(
          'label',
          {},
          x.label,
          x.options
            ? h(
                'select',
                { name: x.name },
                x.options.map((o) => h('option', { value: o }, o)),
              )
            : h('input', { name: x.name, placeholder: x.placeholder ?? '', size: 10 }),
        ),
      ),
    ),
    h('button', { type: 'submit' }, 'Save'),
    current &&
      h(
        'button',
        {
          type: 'button',
          class: 'secondary',
          onclick: () =>
            void call(
              'DELETE',
              `/console/api/config/trafficfilter/${current.metadata.namespace}/${current.metadata.name}`,
            ).then(
              () => reload(`Removed TrafficFilter ${current.metadata.name}`),
              (err: unknown) =>
                mount(out, h('div', { class: 'edit-error', role: 'alert' }, String((err as Error).message))),
            ),
        },
        'Remove',
      ),
    out,
  ) as HTMLFormElement;
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void save(featureEdit(f, service, config, valuesOf(form)), out, reload);
  });
  return form;
}

/** Is the console's access log Telemetry for `app` there and logging? */
function accessLogOn(telemetries: readonly ResourceObject[], service: ServiceInfo, app: string): boolean {
  const mine = telemetries.find((t) => t.metadata.name === accessLogEdit(service, app, true).metadata.name);
  const logging = mine?.spec.accessLogging as { disabled?: boolean }[] | undefined;
  return logging?.[0]?.disabled === false;
}

function accessLogSwitch(
  service: ServiceInfo,
  apps: readonly string[],
  editor: boolean,
  telemetries: readonly ResourceObject[] | undefined,
): HTMLElement {
  const out = h('div', { class: 'result' });
  return h(
    'div',
    { class: 'access-log' },
    apps.map((app) =>
      h(
        'label',
        {},
        h('input', {
          type: 'checkbox',
          name: `access-log:${app}`,
          disabled: !editor,
          checked: telemetries !== undefined && accessLogOn(telemetries, service, app),
          onchange: (e: Event) =>
            void save(
              { ok: true, resources: [accessLogEdit(service, app, (e.target as HTMLInputElement).checked)] },
              out,
              () => undefined,
            ),
        }),
        ` access log for ${app}`,
      ),
    ),
    telemetries === undefined &&
      h(
        'p',
        { class: 'muted' },
        'This control plane has no Telemetry kind yet: switching writes one and shows why it fails.',
      ),
    out,
  );
}

export async function servicePage(
  root: HTMLElement,
  namespace: string,
  hostname: string,
  who: Session,
  reload: (message?: string) => void,
): Promise<void> {
  const [{ services }, proxies, problems, virtualServices, destinationRules, routers, trafficFilters, kinds] =
    await Promise.all([
      get<{ services: Service[] }>('/console/api/services'),
      get<ProxyStatus[]>('/console/api/proxies'),
      get<ConfigProblem[]>('/console/api/config_errors'),
      list('virtualservice', namespace),
      list('destinationrule', namespace),
      list('router', namespace),
      list('trafficfilter', namespace),
      get<string[]>('/console/api/kinds'),
    ]);
  // Asked for only when known: an unknown kind answers 400, which the browser logs as an error.
  const telemetries = kinds.includes('Telemetry') ? await list('telemetry', namespace) : undefined;
  const svc = services.find((s) => s.hostname === hostname && s.namespace === namespace);
  if (!svc) {
    mount(
      root,
      h('h1', {}, hostname),
      h('p', { class: 'edit-error' }, `no service ${hostname} in ${namespace}; see the services list`),
    );
    return;
  }
  const info: ServiceInfo = {
    host: svc.hostname,
    name: svc.hostname.split('.')[0] ?? svc.hostname,
    namespace,
    versions: versionsOf(svc),
  };
  const written: WrittenConfig = { virtualServices, destinationRules, routers, trafficFilters };
  const config = configFor(info, written);
  const workloads = new Set(svc.endpoints.map((e) => e.workloadName).filter(Boolean));
  const apps = [...new Set(svc.endpoints.map((e) => e.labels.app ?? '').filter(Boolean))];
  const mine = proxies.filter((p) => workloads.has(p.workloadName) && p.namespace === namespace);
  const related = [config.virtualService, config.destinationRule, config.router, ...config.filters].filter(
    (r) => r !== undefined,
  );
  const names = new Set(related.map((r) => r.metadata.name));
  const ownProblems = problems.filter((p) => {
    const text = problemText(p);
    return (
      text.includes(info.host) ||
      (p.source !== undefined && p.source.namespace === namespace && names.has(p.source.name))
    );
  });
  const nacks = nacksOf(mine);
  const editor = who.role === 'editor';
  mount(
    root,
    h('h1', {}, svc.hostname),
    h(
      'p',
      { class: 'muted' },
      `${namespace} · ${svc.ports.map((p) => `${p.number}/${p.protocol}`).join(' ')} · from ${svc.source}`,
    ),
    h('h2', {}, 'Versions'),
    table(
      ['Version', 'Endpoints', 'Healthy'],
      (info.versions.length ? info.versions : ['(none)']).map((v) => {
        const eps = svc.endpoints.filter((e) => (e.labels.version ?? '(none)') === v);
        return [v, String(eps.length), String(eps.filter((e) => e.healthy).length)];
      }),
      { id: 'versions' },
    ),
    h('h2', {}, 'Endpoints'),
    table(
      ['Address', 'Ports', 'Workload', 'Labels', 'Health'],
      svc.endpoints.map((e) => [
        e.address,
        Object.entries(e.ports)
          .map(([k, v]) => `${k}=${v}`)
          .join(' '),
        e.workloadName ?? '-',
        Object.entries(e.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(' '),
        e.healthy ? 'healthy' : 'unhealthy',
      ]),
    ),
    h('h2', {}, 'Proxies'),
    mine.length ? proxyTable(mine) : h('p', { class: 'muted' }, 'No connected proxy serves this service.'),
    h('h2', {}, 'Routes and filters'),
    related.length
      ? h(
          'div',
          { id: 'routes' },
          related.map((r) =>
            h(
              'details',
              {},
              h(
                'summary',
                {},
                `${r.kind} ${r.metadata.name}${r.metadata.annotations?.['trellis.io/edited-by'] ? ` (edited by ${r.metadata.annotations['trellis.io/edited-by']})` : ''}`,
              ),
              h('pre', {}, JSON.stringify(r.spec, null, 2)),
            ),
          ),
        )
      : h(
          'p',
          { class: 'muted', id: 'routes' },
          'No VirtualService, DestinationRule, Router or TrafficFilter for this host: traffic goes to every endpoint.',
        ),
    h('h2', {}, 'Config errors and NACKs'),
    ownProblems.length + nacks.length === 0
      ? h('p', { class: 'muted' }, 'None.')
      : h(
          'ul',
          { class: 'problems' },
          ownProblems.map((p) => h('li', {}, problemText(p))),
          nacks.map((n) => h('li', {}, `NACK from ${n.proxy} (${n.type}): ${n.message}`)),
        ),
    h('h2', {}, 'Explain a request'),
    explainForm(proxies, `http://${info.host}:${svc.ports[0]?.number ?? 80}/`),
    h('h2', {}, 'Access log'),
    apps.length
      ? accessLogSwitch(info, apps, editor, telemetries)
      : h('p', { class: 'muted' }, 'No app label on this service’s workloads.'),
    editor
      ? h(
          'section',
          { id: 'editors' },
          h('h2', {}, 'Change traffic'),
          h(
            'p',
            { class: 'muted' },
            'Each change is saved as a resource and validated as trellis apply validates it.',
          ),
          info.versions.length > 0 && routingForm(info, config, reload),
          FEATURE_FORMS.map((f) =>
            featureForm(
              f,
              info,
              config,
              config.filters.find((r) => r.metadata.name === filterName(info, f.feature)),
              reload,
            ),
          ),
        )
      : h('p', { class: 'muted', id: 'viewer-note' }, 'You are a viewer: editing needs the editor role.'),
  );
}
