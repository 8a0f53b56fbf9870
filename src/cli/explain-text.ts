/**
 * `trellis explain` as text: the Explanation a proxy computed (proxy/admin/explain-types.ts),
 * one labelled section a line group, the verdict last with its flag, reason and fix.
 */
import type { ExplainCluster, Explanation } from '../proxy/admin/explain-types.js';

const LABEL = 10;

function section(label: string, lines: readonly string[]): string[] {
  return lines.map((l, i) => `  ${(i === 0 ? label : '').padEnd(LABEL)} ${l}`);
}

function ms(n: number): string {
  if (n === 0) return 'none';
  return n % 1000 === 0 ? `${n / 1000}s` : `${n}ms`;
}

function clusterLines(c: ExplainCluster, indent = ''): string[] {
  const lines = [
    `${indent}${c.name}${c.percent < 100 ? ` (${c.percent}% of requests)` : ''}${c.found ? '' : ': not known to this proxy'}`,
  ];
  if (!c.found) return lines;
  const eps = c.endpoints.map(
    (e) =>
      `${indent}  ${e.address} ${e.health}${e.reason ? ` (${e.reason})` : ''}${e.activeRequests ? `, ${e.activeRequests} active` : ''}${e.workload ? `  ${e.workload}` : ''}`,
  );
  if (c.type !== 'AGGREGATE' && c.type !== 'DYNAMIC_FORWARD_PROXY' && c.type !== 'ORIGINAL_DST')
    lines.push(
      eps.length ? `${indent}  endpoints:` : `${indent}  endpoints: none`,
      ...eps.map((e) => `  ${e}`),
    );
  const cb = c.circuitBreakers;
  if (cb)
    lines.push(
      `${indent}  circuit breaker: ${cb.requests.active}/${cb.requests.max} requests, ${cb.pendingRequests.active}/${cb.pendingRequests.max} pending, ${cb.retries.active}/${cb.retries.max} retries`,
    );
  for (const m of c.members ?? []) lines.push(...clusterLines(m, `${indent}  `));
  for (const n of c.notes) lines.push(`${indent}  note: ${n}`);
  return lines;
}

export function formatExplanation(e: Explanation, from: string): string {
  const out: string[] = [];
  const req = e.request;
  out.push(`${req.method} http://${req.authority}${req.path} from ${from}`);
  const headers = Object.entries(req.headers).map(([k, v]) => `${k}: ${v}`);
  if (headers.length) out.push(...section('headers', headers));
  if (e.actual) {
    const a = e.actual;
    out.push(
      ...section('actual', [
        `${a.status} ${a.flags} at ${a.time}${a.upstreamHost ? ` from ${a.upstreamHost}` : ''}${a.upstreamCluster ? ` (${a.upstreamCluster})` : ''}, ${a.attempts} attempt(s)${a.details ? `, ${a.details}` : ''}`,
        ...a.meanings,
        'explained below with the config this proxy has now',
      ]),
    );
  }
  if (e.listener)
    out.push(
      ...section('listener', [
        `${e.listener.name}${e.listener.routeConfig !== undefined ? ` (route config ${e.listener.routeConfig})` : ''}`,
      ]),
    );
  if (e.virtualHost)
    out.push(...section('host', [`${e.virtualHost.name} (domains ${e.virtualHost.domains.join(', ')})`]));
  if (e.routes.length) {
    const width = Math.max(...e.routes.map((r) => r.name.length));
    out.push(
      ...section(
        'routes',
        e.routes.map(
          (r, i) =>
            `${String(i + 1).padStart(2)}. ${(r.name || '(unnamed)').padEnd(width)}  ${r.matched ? 'MATCHED' : `no: ${r.reason ?? ''}`}`,
        ),
      ),
    );
  }
  if (e.policies.length) {
    const width = Math.max(...e.policies.map((p) => p.filter.length));
    out.push(
      ...section(
        'policies',
        e.policies.map((p) => `${p.filter.padEnd(width)}  ${p.effect}: ${p.detail}`),
      ),
    );
  }
  const a = e.route?.action;
  if (a?.kind === 'forward') {
    const lines = [
      `to ${a.targets.map((t) => (a.targets.length > 1 ? `${t.cluster} ${t.percent}%` : t.cluster)).join(', ')}`,
      `timeout ${ms(a.timeoutMs)}${a.retry ? `, ${a.retry.numRetries} retries on ${a.retry.retryOn.join(',')}${a.retry.perTryTimeoutMs !== undefined ? ` (per try ${ms(a.retry.perTryTimeoutMs)})` : ''}` : ', no retries'}`,
    ];
    for (const m of a.mirrors) lines.push(`mirrored to ${m.cluster} (${m.percent}%)`);
    if (a.prefixRewrite !== undefined) lines.push(`path prefix rewritten to ${a.prefixRewrite}`);
    if (a.hostRewrite !== undefined) lines.push(`host rewritten to ${a.hostRewrite}`);
    out.push(...section('action', lines));
  } else if (a?.kind === 'redirect')
    out.push(...section('action', [`redirect ${a.status} to ${a.location}`]));
  else if (a?.kind === 'direct')
    out.push(
      ...section('action', [`direct response ${a.status}${a.body ? ` ${JSON.stringify(a.body)}` : ''}`]),
    );
  for (const c of e.clusters) out.push(...section('cluster', clusterLines(c)));
  if (e.notes.length) out.push(...section('notes', e.notes));
  const o = e.outcome;
  const verdict =
    o.result === 'succeed'
      ? `SUCCEED${o.status !== undefined ? ` (${o.status} from the proxy)` : ': sent upstream'}`
      : o.result === 'fail'
        ? `FAIL ${o.status ?? ''}`.trimEnd()
        : 'MAY FAIL';
  const lines = [verdict];
  for (const f of o.failures) {
    lines.push(
      `${f.certainty === 'certain' ? '' : 'possibly '}${f.status}${f.flag ? ` ${f.flag}` : ''}: ${f.meaning}`,
      `  why: ${f.reason}`,
      `  fix: ${f.fix}`,
    );
  }
  out.push(...section('result', lines));
  return out.join('\n') + '\n';
}
