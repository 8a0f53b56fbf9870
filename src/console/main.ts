/**
 * The Trellis console: log in with a token, then the pages by URL fragment (#/graph,
 * #/services, #/services/NS/HOST, #/proxies, #/proxies/ID, #/errors, #/audit).
 */
import { ApiError, get, session } from './api.js';
import { h, mount } from './dom.js';
import { graphPage } from './pages/graph.js';
import { auditPage, configDumpPage, errorsPage, proxiesPage, servicesPage } from './pages/lists.js';
import { servicePage } from './pages/service.js';
import type { Session } from './types.js';

const app = document.getElementById('app') as HTMLElement;

function loginPage(message?: string): void {
  const input = h('input', {
    type: 'password',
    name: 'token',
    id: 'token',
    autocomplete: 'off',
    required: true,
  }) as HTMLInputElement;
  const form = h(
    'form',
    { id: 'login', class: 'login' },
    h('h1', {}, 'Trellis console'),
    h('label', {}, 'Token', input),
    h(
      'p',
      { class: 'muted' },
      'A token from the control plane’s --console-tokens file (trellis up prints where its file is).',
    ),
    message && h('p', { class: 'edit-error', role: 'alert' }, message),
    h('button', { type: 'submit' }, 'Log in'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    session.set(input.value.trim());
    void start();
  });
  mount(app, form);
  input.focus();
}

const NAV: [string, string][] = [
  ['#/graph', 'Graph'],
  ['#/services', 'Services'],
  ['#/proxies', 'Proxies'],
  ['#/errors', 'Config errors'],
  ['#/audit', 'Audit'],
];

/** A message shown once at the top of the next page rendered (what a saved edit did). */
let flash: { ok: boolean; text: string } | undefined;

async function render(who: Session): Promise<void> {
  const hash = location.hash || '#/graph';
  const parts = hash.slice(2).split('/').map(decodeURIComponent);
  const main = h('main', { id: 'page' }, h('p', { class: 'muted' }, 'loading...'));
  mount(
    app,
    h(
      'header',
      {},
      h('span', { class: 'brand' }, 'Trellis'),
      h(
        'nav',
        {},
        NAV.map(([href, text]) =>
          h('a', { href, class: hash.startsWith(href) ? 'active' : undefined }, text),
        ),
      ),
      h('span', { class: 'who', id: 'who' }, `${who.user} · ${who.role}`),
      h('button', { class: 'secondary', onclick: () => (session.clear(), loginPage()) }, 'Log out'),
    ),
    main,
  );
  if (flash) {
    app.insertBefore(
      h('div', { id: 'flash', class: flash.ok ? 'edit-ok' : 'edit-error', role: 'status' }, flash.text),
      main,
    );
    flash = undefined;
  }
  const reload = (message?: string) => {
    if (message !== undefined) flash = { ok: true, text: message };
    void render(who);
  };
  try {
    switch (parts[0]) {
      case 'services':
        if (parts.length >= 3) await servicePage(main, parts[1] ?? '', parts[2] ?? '', who, reload);
        else await servicesPage(main);
        break;
      case 'proxies':
        if (parts[1]) await configDumpPage(main, parts[1]);
        else await proxiesPage(main);
        break;
      case 'errors':
        await errorsPage(main);
        break;
      case 'audit':
        await auditPage(main);
        break;
      default:
        await graphPage(main);
    }
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return loginPage(err.message);
    mount(
      main,
      h('p', { class: 'edit-error', role: 'alert' }, err instanceof Error ? err.message : String(err)),
    );
  }
}

let current: Session | undefined;

async function start(): Promise<void> {
  if (!session.token()) return loginPage();
  try {
    current = await get<Session>('/console/api/session');
  } catch (err) {
    session.clear();
    return loginPage(err instanceof Error ? err.message : String(err));
  }
  await render(current);
}

window.addEventListener('hashchange', () => {
  if (current && session.token()) void render(current);
});
void start();
