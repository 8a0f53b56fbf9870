/**
 * "What would happen to this request?" on a service page: a source proxy, a method and a URL,
 * answered by `trellis explain`'s API (GET /v1/explain, through /console/api/explain with the
 * viewer role) from that proxy's live config: the listener, the route and why earlier ones did
 * not match, the policies, the cluster and its endpoints, and for a failure what to change.
 */
import { ApiError, get } from '../api.js';
import { h } from '../dom.js';
import type { ProxyStatus } from '../types.js';

/** The query /console/api/explain takes, as `trellis explain --from PROXY -X METHOD URL` would send. */
export function explainQuery(from: string, method: string, url: string): string {
  return new URLSearchParams({ from, method, url }).toString();
}

export function explainForm(proxies: readonly ProxyStatus[], url: string): HTMLElement {
  const out = h('pre', { class: 'explain-result', hidden: true });
  const form = h(
    'form',
    { id: 'explain-form', class: 'explain' },
    h(
      'label',
      {},
      'from ',
      h(
        'select',
        { name: 'from' },
        proxies
          .filter((p) => p.type !== 'grpc')
          .map((p) => h('option', { value: p.proxy }, `${p.workloadName}.${p.namespace}`)),
      ),
    ),
    h('label', {}, ' method ', h('input', { name: 'method', value: 'GET', size: 6 })),
    h('label', {}, ' URL ', h('input', { name: 'url', value: url, size: 48 })),
    ' ',
    h('button', { type: 'submit' }, 'Explain'),
    out,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = new FormData(form as HTMLFormElement);
    const field = (name: string, fallback: string) => {
      const v = data.get(name);
      return typeof v === 'string' && v !== '' ? v : fallback;
    };
    const query = explainQuery(field('from', ''), field('method', 'GET'), field('url', ''));
    out.hidden = false;
    out.textContent = 'explaining…';
    get<unknown>(`/console/api/explain?${query}`).then(
      (answer) => {
        out.classList.remove('edit-error');
        out.textContent = JSON.stringify(answer, null, 2);
      },
      (err: unknown) => {
        out.classList.add('edit-error');
        out.textContent = err instanceof ApiError ? err.message : String(err);
      },
    );
  });
  return form;
}
