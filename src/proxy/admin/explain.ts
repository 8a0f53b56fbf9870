/**
 * `trellis explain`, computed by the proxy itself (admin `POST /explain`): what this proxy would
 * do with a request its client sends, from the config snapshot it serves and its live cluster
 * state. The listener and route table (listener/targets.ts, connection-manager/route-table.ts,
 * with why each earlier route did not match), the HTTP filters (explain-policies.ts), the route
 * action, the clusters with their endpoints (explain-cluster.ts), and the failure it would meet
 * with its response flag and fix. Nothing is sent upstream and no state changes.
 */
import { TrellisError } from '../../core/errors.js';
import type { ListenerConfig, HttpConnectionManagerConfig, RouteTable } from '../model/config.js';
import { outboundTarget, portOf } from '../listener/targets.js';
import { explainRouteMiss, selectVirtualHost } from '../connection-manager/route-table.js';
import { withPseudoHeaders } from '../connection-manager/headers.js';
import { normalizeRequestPath } from '../connection-manager/path-normalization.js';
import { redirectLocation } from '../connection-manager/request-handler.js';
import type { HttpFilterRunner } from '../connection-manager/filters.js';
import { explainCluster, type ClusterView } from './explain-cluster.js';
import { explainPolicies } from './explain-policies.js';
import { flagMeaning } from './explain-flags.js';
import { fractionOf, type FractionalPercentConfig } from '../policy/proto-values.js';
import type { ExplainAction, ExplainFailure, ExplainRequest, Explanation } from './explain-types.js';

export interface ExplainContext extends ClusterView {
  /** This proxy's node id. */
  node: string;
  filters: HttpFilterRunner;
  /** node.cluster, for the source_cluster rate limit action. */
  localCluster: string;
}

const METHOD = /^[A-Z][A-Z0-9_-]{0,31}$/;

/** The authority and path of the URL a user wrote (`http://reviews:9080/p`, `reviews:9080/p`). */
export function parseExplainUrl(url: string): { authority: string; path: string } {
  const m = /^(?:(https?):\/\/)?([^/?#\s]+)([^#\s]*)$/i.exec(url.trim());
  if (!m)
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `url ${JSON.stringify(url)}: expected http://HOST[:PORT]/PATH, e.g. http://reviews:9080/reviews/1`,
    );
  const rest = m[3] ?? '';
  return {
    authority: (m[2] ?? '').toLowerCase(),
    path: rest === '' ? '/' : rest.startsWith('/') ? rest : `/${rest}`,
  };
}

/** Checks and normalizes a request to explain; a problem is a TRELLIS_INVALID_ARGUMENT. */
export function explainRequestFrom(body: unknown): ExplainRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new TrellisError('TRELLIS_INVALID_ARGUMENT', 'expected a JSON object {method, url, headers}');
  const b = body as Record<string, unknown>;
  const method = b.method === undefined ? 'GET' : b.method;
  if (typeof method !== 'string' || !METHOD.test(method.toUpperCase()))
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `method ${JSON.stringify(method)}: expected an HTTP method such as GET`,
    );
  if (typeof b.url !== 'string' || b.url === '')
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      'url is required: the request URL, e.g. http://reviews:9080/',
    );
  const headers: Record<string, string> = {};
  if (b.headers !== undefined) {
    if (b.headers === null || typeof b.headers !== 'object' || Array.isArray(b.headers))
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        'headers: expected an object of header names to values',
      );
    for (const [k, v] of Object.entries(b.headers as Record<string, unknown>)) {
      if (typeof v !== 'string' || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/i.test(k))
        throw new TrellisError(
          'TRELLIS_INVALID_ARGUMENT',
          `header ${JSON.stringify(k)}: expected a header name and a string value`,
        );
      headers[k.toLowerCase()] = v;
    }
  }
  parseExplainUrl(b.url);
  return { method: method.toUpperCase(), url: b.url, headers };
}

export async function explainRequest(ctx: ExplainContext, req: ExplainRequest): Promise<Explanation> {
  const url = parseExplainUrl(req.url);
  const authority = req.headers.host ?? url.authority;
  const out: Explanation = {
    proxy: ctx.node,
    request: { method: req.method, authority, path: url.path, headers: req.headers },
    routes: [],
    policies: [],
    clusters: [],
    outcome: { result: 'succeed', failures: [] },
    notes: [],
  };
  const failures = out.outcome.failures;
  const port = portOf(authority, 80);
  const target = outboundTarget(ctx.snapshot, { authority, path: url.path });
  if (target.kind !== 'routes' || !target.hcm) {
    failures.push({
      flag: 'NR',
      status: 404,
      certainty: 'certain',
      meaning: flagMeaning('NR'),
      reason: `this proxy has no listener for port ${port} (and no virtualOutbound to fall back on)`,
      fix: `add a ServiceEntry (or a Service) for ${hostOf(authority)} with port ${port}, or check the Sidecar's egress hosts`,
    });
    return finish(out);
  }
  const hcm = target.hcm;
  const listener = listenerOf(ctx, hcm);
  out.listener = { name: listener?.name ?? '(unknown)', statPrefix: hcm.statPrefix };
  if (hcm.routeConfigName !== undefined) out.listener.routeConfig = hcm.routeConfigName;
  let path = url.path;
  const normalized = normalizeRequestPath(path, hcm.pathNormalization);
  if (normalized.kind === 'reject') {
    failures.push({
      flag: 'DPE',
      status: 400,
      certainty: 'certain',
      meaning: flagMeaning('DPE'),
      reason: `the path is refused by the listener's path normalization: ${normalized.detail}`,
      fix: 'send the path without escaped slashes, or change path_with_escaped_slashes_action',
    });
    return finish(out);
  }
  if (normalized.kind === 'redirect') {
    out.outcome.status = 307;
    out.notes.push(`the path is redirected to ${normalized.path} (unescaped slashes)`);
    return finish(out);
  }
  if (normalized.path !== path) out.notes.push(`the path is normalized to ${normalized.path} before routing`);
  path = normalized.path;
  const table = target.table;
  const headers = withPseudoHeaders(req.headers, path, req.method, authority, 'http');
  const vh = table ? selectVirtualHost(table, authority) : undefined;
  if (vh) out.virtualHost = { name: vh.name, domains: [...vh.domains] };
  let route;
  for (const r of vh?.routes ?? []) {
    const reason = explainRouteMiss(r.match, { authority, path, method: req.method, headers });
    out.routes.push(
      reason === undefined ? { name: r.name, matched: true } : { name: r.name, matched: false, reason },
    );
    if (reason === undefined) {
      route = r;
      break;
    }
  }
  const action = route?.action;
  const single = action?.kind === 'forward' && action.targets.length === 1 ? action.targets[0]!.cluster : '';
  const policies = await explainPolicies({
    hcm,
    route,
    vh,
    method: req.method,
    path,
    authority,
    headers,
    cluster: single,
    port: listener?.port ?? port,
    filters: ctx.filters,
    localCluster: ctx.localCluster,
    wallNowMs: ctx.clock.wallNow(),
  });
  out.policies = policies.policies;
  failures.push(...policies.failures);
  if (failures.some((f) => f.certainty === 'certain')) return finish(out);
  if (!route || !vh || !table) {
    failures.push(noRoute(table, hcm, authority, path, vh?.name));
    return finish(out);
  }
  out.route = { name: route.name, action: actionView(route, path, authority) };
  if (route.action.kind !== 'forward') {
    out.outcome.status = route.action.status;
    if (route.action.kind === 'direct' && route.action.status >= 400)
      failures.push(directFailure(vh.name, route.name, route.action.status, authority));
    return finish(out);
  }
  if (vh.name === 'allow_any')
    out.notes.push(
      `no service of the mesh matches ${hostOf(authority)}: the request leaves the mesh through the allow_any passthrough (outboundTrafficPolicy ALLOW_ANY); a ServiceEntry for it would give it mesh routing and policies`,
    );
  const total = route.action.totalWeight || 1;
  if (route.action.targets.length === 0) {
    failures.push({
      flag: 'NC',
      status: 503,
      certainty: 'certain',
      meaning: flagMeaning('NC'),
      reason: `route ${route.name} names no cluster`,
      fix: 'give the route a destination',
    });
    return finish(out);
  }
  for (const t of route.action.targets) {
    const percent = Math.round((t.weight * 10000) / total) / 100;
    const c = explainCluster(ctx, t.cluster, percent);
    out.clusters.push(c.cluster);
    if (c.failure && t.weight > 0) {
      const status = c.failure.flag === 'NC' ? (route.action.clusterNotFoundStatus ?? 503) : c.failure.status;
      failures.push({
        ...c.failure,
        status,
        certainty: percent >= 100 ? 'certain' : 'possible',
        ...(percent < 100 ? { reason: `${percent}% of requests: ${c.failure.reason}` } : {}),
      });
    }
  }
  const retry = route.action.retry;
  if (retry && retry.numRetries > 0)
    out.notes.push(
      `failed attempts are retried up to ${retry.numRetries} time(s) on ${[...retry.retryOn].join(',')}; when every attempt fails the flag is URX beside the last attempt's`,
    );
  return finish(out);
}

function finish(out: Explanation): Explanation {
  const f = out.outcome.failures;
  const certain = f.find((x) => x.certainty === 'certain');
  if (certain) {
    out.outcome.result = 'fail';
    out.outcome.status = certain.status;
  } else if (f.length > 0) out.outcome.result = 'may-fail';
  return out;
}

/** A route that answers an error itself: Istio's block_all (REGISTRY_ONLY), or a configured one. */
function directFailure(vh: string, route: string, status: number, authority: string): ExplainFailure {
  const base = {
    status,
    certainty: 'certain' as const,
    meaning: 'answered by the route itself (a direct response)',
  };
  if (vh === 'block_all')
    return {
      ...base,
      reason: `no service of the mesh matches ${hostOf(authority)}, and the outbound traffic policy is REGISTRY_ONLY (route block_all)`,
      fix: `add a ServiceEntry for ${hostOf(authority)}, or allow unknown hosts with outboundTrafficPolicy ALLOW_ANY (mesh config or Sidecar)`,
    };
  return {
    ...base,
    reason: `route ${route} is configured to answer ${status} itself`,
    fix: 'change the route (a VirtualService directResponse or an EnvoyFilter) if this is not intended',
  };
}

function hostOf(authority: string): string {
  return authority.replace(/:\d+$/, '');
}

function listenerOf(ctx: ExplainContext, hcm: HttpConnectionManagerConfig): ListenerConfig | undefined {
  for (const l of ctx.snapshot.listeners.values()) if (l.filterChains.some((c) => c.filter === hcm)) return l;
  return undefined;
}

function noRoute(
  table: RouteTable | undefined,
  hcm: HttpConnectionManagerConfig,
  authority: string,
  path: string,
  vhName: string | undefined,
): ExplainFailure {
  const base = { flag: 'NR', status: 404, certainty: 'certain' as const, meaning: flagMeaning('NR') };
  const host = hostOf(authority);
  const port = portOf(authority, 80);
  if (!table)
    return {
      ...base,
      reason: `route configuration ${hcm.routeConfigName ?? '(inline)'} has not been received by this proxy`,
      fix: "check the proxy's sync state ('trellis proxy-status') and the control plane's config errors",
    };
  if (vhName === undefined)
    return {
      ...base,
      reason: `no route for host ${host} on port ${port}: route configuration ${table.name} has no virtual host for ${authority}`,
      fix: `add a VirtualService for ${host} or a ServiceEntry for it with port ${port}`,
    };
  return {
    ...base,
    reason: `virtual host ${vhName} has no route for ${path}: each route's reason is listed above`,
    fix: `add a match for this request to the VirtualService of ${host}, or end its http routes with one without a match`,
  };
}

function actionView(
  route: NonNullable<Parameters<typeof redirectLocation>[0]>,
  path: string,
  authority: string,
): ExplainAction {
  const a = route.action;
  if (a.kind === 'direct') return { kind: 'direct', status: a.status, body: a.body };
  if (a.kind === 'redirect')
    return {
      kind: 'redirect',
      status: a.status,
      location: redirectLocation(route, a, { scheme: 'http', authority, path }),
    };
  const total = a.totalWeight || 1;
  const view: ExplainAction = {
    kind: 'forward',
    targets: a.targets.map((t) => ({
      cluster: t.cluster,
      weight: t.weight,
      percent: Math.round((t.weight * 10000) / total) / 100,
    })),
    timeoutMs: a.timeoutMs,
    mirrors: a.mirrors.map((m) => ({
      cluster: m.cluster,
      percent: m.fraction?.default_value ? fractionPercent(m.fraction.default_value) : 100,
    })),
  };
  if (a.retry && a.retry.numRetries > 0) {
    view.retry = { numRetries: a.retry.numRetries, retryOn: [...a.retry.retryOn] };
    if (a.retry.perTryTimeoutMs !== undefined) view.retry.perTryTimeoutMs = a.retry.perTryTimeoutMs;
  }
  if (a.prefixRewrite !== undefined) view.prefixRewrite = a.prefixRewrite;
  if (a.hostRewrite !== undefined) view.hostRewrite = a.hostRewrite;
  return view;
}

function fractionPercent(fp: FractionalPercentConfig): number {
  return Math.round(fractionOf(fp) * 1_000_000) / 10_000;
}
