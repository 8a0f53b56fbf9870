/**
 * The Trellis console on the control plane's HTTP server:
 *
 *   GET  /                                  302 to /console/
 *   GET  /console/, /console/:file          the web application (index.html, app.js, styles.css)
 *   GET  /console/api/session               {user, role}: who the bearer token names
 *   GET  /console/api/services              the registry: services with their endpoints
 *   GET  /console/api/topology              services -> versioned apps, from the registry
 *   GET  /console/api/graph                 /v1/graph?type=versionedApp when it has edges, else
 *                                           the topology
 *   GET  /console/api/explain?from=&method=&url=  /v1/explain (trellis explain's API) for the console
 *   GET  /console/api/proxies               per proxy and type: sync state, NACKs (/debug/syncz)
 *   GET  /console/api/config_dump?proxy=ID  what a proxy was last sent
 *   GET  /console/api/config_errors         rejected config and warnings
 *   GET  /console/api/kinds                 the kinds this control plane knows
 *   GET  /console/api/config/:kind          resources of a kind (?namespace=NS)
 *   POST /console/api/config                editor: apply JSON resources as POST /v1/config does,
 *                                           each annotated trellis.io/edited-by: USER; audited
 *   DELETE /console/api/config/:kind/:ns/:name  editor: delete; audited
 *   GET  /console/api/audit                 the audit trail, newest first
 *
 * The console's API is its own path rather than /v1 behind a check: /v1 is the CLI's API
 * (`trellis apply`, `get`, `wait`), unauthenticated on loopback, and putting tokens in front of it
 * would break every script; the console's routes reuse the same views and the same apply path.
 * Every /console/api route needs `Authorization: Bearer TOKEN` (401 without a known one) and
 * writes need the editor role (403). Tokens are never read from URLs.
 */
import { outOfConsoleScope } from './write-scope.js';
import { TrellisError } from '../../core/errors.js';
import type { Clock } from '../../core/clock.js';
import { shownResource } from '../../api/validate.js';
import type { ApiViews } from '../api-views.js';
import { registeredKinds } from '../../api/kinds.js';
import { applyDocuments, parseJsonBody, resolveKind, REQUEST_FILE } from '../config-routes.js';
import type { ApiRequest, ApiResult, HttpRouter } from '../http-server.js';
import { errorBody } from '../http-server.js';
import type { ConsoleAction, ConsoleAuth } from './auth.js';
import type { AuditTrail } from './audit.js';
import type { ConsoleUser } from './tokens.js';
import { registryTopology } from './topology.js';
import { readConsoleFile, SERVED_FILES, type ConsoleAssetDirs } from './assets.js';
import type { Resource } from '../../api/resource.js';

/** The annotation naming who last changed a resource through the console. */
export const EDITED_BY_ANNOTATION = 'trellis.io/edited-by';

export interface ConsoleOptions {
  /** Absent: no tokens were configured, and every API call answers 401 saying so. */
  auth: ConsoleAuth | undefined;
  audit: AuditTrail;
  clock: Clock;
  assets: ConsoleAssetDirs;
  /** Resolves once the bundle is fresh (assets.ts ensureConsoleBundle); rejects when it cannot be. */
  bundled: () => Promise<void>;
}

const PAGE_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  // Everything comes from this origin; cytoscape draws on a canvas with inline styles.
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
};

function denied(status: 401 | 403, message: string): ApiResult {
  return {
    status,
    json: { error: { code: status === 401 ? 'UNAUTHENTICATED' : 'FORBIDDEN', message } },
    headers: status === 401 ? { 'www-authenticate': 'Bearer realm="trellis-console"' } : {},
  };
}

/**
 * What an editor may write through the console: traffic settings of services. Security policy,
 * gateways, service entries and secrets stay with `trellis apply` and files, and so do a
 * VirtualService's gateway bindings and a DestinationRule's client TLS (write-scope.ts).
 */
export const CONSOLE_WRITABLE_KINDS: readonly string[] = [
  'VirtualService',
  'DestinationRule',
  'TrafficFilter',
  'Router',
  'Telemetry',
];

type Guarded = (req: ApiRequest, user: ConsoleUser) => Promise<ApiResult> | ApiResult;

export function registerConsoleRoutes(
  router: HttpRouter,
  views: Pick<ApiViews, 'debug' | 'config'>,
  opts: ConsoleOptions,
): void {
  const guard =
    (action: ConsoleAction, handler: Guarded) =>
    async (req: ApiRequest): Promise<ApiResult> => {
      if (req.query.has('token') || req.query.has('access_token'))
        return {
          status: 400,
          json: errorBody(
            new TrellisError(
              'TRELLIS_INVALID_ARGUMENT',
              'tokens are never taken from URLs (they end up in logs and history); send Authorization: Bearer TOKEN',
            ),
          ),
        };
      if (!opts.auth)
        return denied(
          401,
          'this control plane has no console tokens: start it with --console-tokens FILE (token,user,uid,"trellis:editors")',
        );
      const outcome = opts.auth.check(req.raw.headers.authorization, action);
      if (!outcome.ok) return denied(outcome.status, outcome.message);
      return await handler(req, outcome.user);
    };

  const page = async (name: string): Promise<ApiResult> => {
    await opts.bundled();
    const text = await readConsoleFile(opts.assets, name);
    if (text === undefined)
      throw new TrellisError('TRELLIS_NOT_FOUND', `no console file ${JSON.stringify(name)}`);
    return { text, contentType: SERVED_FILES[name] as string, headers: PAGE_HEADERS };
  };

  const { debug, config } = views;
  router
    .on('GET', '/', () => ({
      status: 302,
      text: 'the console: /console/\n',
      headers: { location: '/console/' },
    }))
    .on('GET', '/console', () => page('index.html'))
    .on('GET', '/console/:file', (req) => page(req.params.file ?? ''))
    .on(
      'GET',
      '/console/api/session',
      guard('read', (_req, user) => ({ json: { user: user.user, uid: user.uid, role: user.role } })),
    )
    .on(
      'GET',
      '/console/api/services',
      guard('read', () => {
        const snap = debug.registry();
        return {
          json: {
            version: snap.version,
            services: snap.services.map((s) => ({ ...s, endpoints: snap.endpoints(s.hostname) })),
          },
        };
      }),
    )
    .on(
      'GET',
      '/console/api/topology',
      guard('read', () => ({ json: registryTopology(debug.registry(), new Date(opts.clock.wallNow())) })),
    )
    .on(
      'GET',
      '/console/api/graph',
      guard('read', async (req) => {
        // The measured graph when the control plane serves one with traffic in it; otherwise
        // the registry's map. Answered here, so the browser never logs a 404 for a missing graph.
        const live = router.find('GET', '/v1/graph');
        if (live) {
          const query = new URLSearchParams(req.query);
          query.set('type', 'versionedApp');
          try {
            const result = await live.handler({ ...req, path: '/v1/graph', params: live.params, query });
            const graph = result?.json as { edges?: unknown[] } | undefined;
            if ((result?.status ?? 200) === 200 && (graph?.edges?.length ?? 0) > 0) return { json: graph };
          } catch {
            // No metrics yet, or none to read: the registry's map below.
          }
        }
        return { json: registryTopology(debug.registry(), new Date(opts.clock.wallNow())) };
      }),
    )
    .on(
      'GET',
      '/console/api/explain',
      guard('read', async (req) => {
        // trellis explain's own route, so the console and the CLI answer the same.
        const explain = router.find('GET', '/v1/explain');
        if (!explain)
          throw new TrellisError(
            'TRELLIS_UNSUPPORTED',
            'this control plane serves no /v1/explain; run trellis explain --from PROXY URL against a newer one',
          );
        return (
          (await explain.handler({ ...req, path: '/v1/explain', params: explain.params })) ?? { json: {} }
        );
      }),
    )
    .on(
      'GET',
      '/console/api/proxies',
      guard('read', () => ({ json: debug.proxyStatus() })),
    )
    .on(
      'GET',
      '/console/api/config_dump',
      guard('read', (req) => {
        const proxy = req.query.get('proxy') ?? '';
        const dump = proxy === '' ? undefined : debug.configDump(proxy);
        if (!dump)
          throw new TrellisError(
            'TRELLIS_NOT_FOUND',
            `no connected proxy ${JSON.stringify(proxy)}; pick one from the proxies list`,
          );
        return { json: dump };
      }),
    )
    .on(
      'GET',
      '/console/api/config_errors',
      guard('read', () => ({ json: debug.configProblems() })),
    )
    .on(
      'GET',
      '/console/api/config/:kind',
      guard('read', (req) => {
        const def = resolveKind(req.params.kind ?? '');
        const namespace = req.query.get('namespace') || undefined;
        return {
          json: {
            kind: def.kind,
            revision: config.store.revision,
            items: config.store.list(def.kind, namespace).map((r) => shownResource(r)),
          },
        };
      }),
    )
    .on(
      'GET',
      '/console/api/kinds',
      guard('read', () => ({ json: registeredKinds().map((d) => d.kind) })),
    )
    .on(
      'GET',
      '/console/api/audit',
      guard('read', () => ({ json: opts.audit.list() })),
    )
    .on(
      'POST',
      '/console/api/config',
      guard('write', async (req, user) => {
        const text = await req.text();
        if (text.trim() === '')
          throw new TrellisError(
            'TRELLIS_INVALID_ARGUMENT',
            'empty request: send one or more resources as JSON',
          );
        const docs = parseJsonBody(text).map((d) =>
          d.resource ? { ...d, resource: editedBy(d.resource, user.user) } : d,
        );
        const refused = docs.find((d) => d.resource && !CONSOLE_WRITABLE_KINDS.includes(d.resource.kind));
        if (refused?.resource)
          return denied(
            403,
            `the console does not write ${refused.resource.kind} resources (only ${CONSOLE_WRITABLE_KINDS.join(', ')}); use trellis apply`,
          );
        for (const d of docs) {
          const out = d.resource ? outOfConsoleScope(d.resource) : undefined;
          if (out && d.resource)
            return denied(
              403,
              `${d.resource.kind} ${d.resource.metadata.namespace}/${d.resource.metadata.name}: ${out.path}: the console does not change this (${out.reason})`,
            );
        }
        const named = docs.flatMap((d) =>
          d.resource
            ? [`${d.resource.kind} ${d.resource.metadata.namespace}/${d.resource.metadata.name}`]
            : [],
        );
        const base = { user: user.user, role: user.role, action: 'apply' as const, resources: named };
        let result: NonNullable<ApiResult>;
        try {
          result = await applyDocuments(config, docs);
        } catch (err) {
          opts.audit.record({
            ...base,
            outcome: 'failed',
            problems: [err instanceof Error ? err.message : String(err)],
          });
          throw err;
        }
        if (result.status === 400) {
          const problems = (
            result.json as { error: { problems: { doc: number; path: string; message: string }[] } }
          ).error.problems;
          opts.audit.record({
            ...base,
            outcome: 'rejected',
            problems: problems.map(
              (p) => `${REQUEST_FILE}:${p.doc}: ${p.path ? `${p.path}: ` : ''}${p.message}`,
            ),
          });
        } else {
          opts.audit.record({
            ...base,
            outcome: 'applied',
            revision: (result.json as { revision: number }).revision,
          });
        }
        return result;
      }),
    )
    .on(
      'DELETE',
      '/console/api/config/:kind/:namespace/:name',
      guard('write', async (req, user) => {
        const def = resolveKind(req.params.kind ?? '');
        const { namespace = '', name = '' } = req.params;
        if (!CONSOLE_WRITABLE_KINDS.includes(def.kind))
          return denied(403, `the console does not delete ${def.kind} resources; use trellis delete`);
        const base = {
          user: user.user,
          role: user.role,
          action: 'delete' as const,
          resources: [`${def.kind} ${namespace}/${name}`],
        };
        const writer = config.writer;
        if (!writer)
          throw new TrellisError(
            'TRELLIS_UNSUPPORTED',
            "this control plane's config store is read-only; change the config at its source",
          );
        try {
          const result = await writer.delete(def.kind, namespace, name);
          opts.audit.record({ ...base, outcome: 'applied', revision: result.revision });
          return { json: { revision: result.revision, deleted: shownResource(result.deleted) } };
        } catch (err) {
          opts.audit.record({
            ...base,
            outcome: 'failed',
            problems: [err instanceof Error ? err.message : String(err)],
          });
          throw err;
        }
      }),
    );
}

/** The resource with `trellis.io/edited-by: USER` (replacing what the client sent there). */
export function editedBy(r: Resource, user: string): Resource {
  return {
    ...r,
    metadata: { ...r.metadata, annotations: { ...r.metadata.annotations, [EDITED_BY_ANNOTATION]: user } },
  };
}
