import type { Logger } from '../core/logger.js';
import { TrellisError } from '../core/errors.js';
import type { Registration } from '../registry/service-index.js';
import type { ApiViews } from './api-views.js';
import { registerConfigRoutes } from './config-routes.js';
import { registerExplainRoute } from './explain-route.js';
import { HttpRouter } from './http-server.js';
import { trellisVersion } from './build-info.js';
import { parseLabelsQuery } from './proxy-configs.js';
import { parseGraphQuery } from './graph/graph-query.js';

/**
 * The control plane's HTTP API (default 127.0.0.1:15014):
 *   GET  /ready                              200 once serving
 *   GET  /version                            {version, node}: this control plane's build
 *   GET  /metrics                            Prometheus text
 *   GET  /debug/syncz                        per connected proxy and type: sent/ACKed versions, NACKs
 *   GET  /debug/config_dump?proxy=ID         what that proxy was last sent
 *   GET  /debug/config_errors                rejected config inputs with file, doc, path, message; then
 *                                            warnings about accepted config (problems with
 *                                            severity "warning", source {kind, namespace, name, file?})
 *   GET  /debug/registry                     services and endpoints in the index
 *   GET  /v1/services                        the same, versioned: {version, services: [{hostname,
 *                                            namespace, ports, ..., source, endpoints: [...]}]}
 *                                            (trellis get services|workloads|endpoints)
 *   POST /v1/registrations                   register an instance (JSON Registration) -> {id}
 *   POST /v1/registrations/:id/heartbeat     keep it alive
 *   DELETE /v1/registrations/:id             deregister
 *   GET  /v1/registrations                   registered instances
 *   GET  /v1/convergence[?storeRevision=N]   is the config store at revision N (default: now) in
 *                                            effect on every proxy? {storeRevision, revision (served),
 *                                            inEffect, proxies, lagging: [{proxy, name, reason:
 *                                            pending|nack|disconnected, detail, revision}], waitingFor?}
 *                                            (trellis wait, trellis apply --wait)
 *   GET  /v1/routers                         each Router's rollout: [{namespace, name, host, phase
 *                                            (Progressing|Ready|Stalled), observedGeneration, revision,
 *                                            step?, message, lagging, conflicts}]
 *   GET  /v1/explain?from=PROXY&url=URL[&method=M][&header=k:v...] | ?from=PROXY&requestId=ID
 *                                            what that proxy would do with the request, computed by
 *                                            the proxy (explain-route.ts; trellis explain)
 *   GET  /v1/proxy-config?namespace=NS&labels=k=v,...   the ProxyConfig a proxy of that namespace
 *                                            and labels starts with: {concurrency?,
 *                                            environmentVariables, sources, fingerprint}
 *   GET  /v1/ratelimit/config                the rate limit service's config compiled from RateLimit
 *                                            resources: { revision, domains: [envoyproxy/ratelimit] }
 *   GET  /v1/graph?type=T&namespace=NS&window=S   the service graph (graph/types.ts ServiceGraph):
 *                                            T workload|app|versionedApp|service, S seconds (60)
 */
export function buildApi(views: ApiViews, logger: Logger): HttpRouter {
  const { debug, registrations, rateLimits } = views;
  const router = new HttpRouter(logger);
  router
    .on('GET', '/ready', () => (debug.isReady() ? { text: 'ready\n' } : { status: 503, text: 'starting\n' }))
    .on('GET', '/version', () => ({ json: { version: trellisVersion(), node: process.version } }))
    .on('GET', '/metrics', () => ({ text: debug.renderMetrics(), contentType: 'text/plain; version=0.0.4' }))
    .on('GET', '/debug/syncz', () => ({ json: debug.proxyStatus() }))
    .on('GET', '/debug/config_dump', (req) => {
      const proxy = req.query.get('proxy');
      if (!proxy)
        throw new TrellisError(
          'TRELLIS_INVALID_ARGUMENT',
          'query parameter proxy=ID is required (see /debug/syncz for ids)',
        );
      const dump = debug.configDump(proxy);
      if (!dump)
        throw new TrellisError(
          'TRELLIS_NOT_FOUND',
          `no connected proxy ${JSON.stringify(proxy)}; see /debug/syncz`,
        );
      return { json: dump };
    })
    .on('GET', '/debug/config_errors', () => ({ json: debug.configProblems() }))
    .on('GET', '/debug/registry', () => {
      const snap = debug.registry();
      return {
        json: snap.services.map((s) => ({ ...s, endpoints: snap.endpoints(s.hostname) })),
      };
    })
    .on('GET', '/v1/services', () => {
      const snap = debug.registry();
      return {
        json: {
          version: snap.version,
          services: snap.services.map((s) => ({ ...s, endpoints: snap.endpoints(s.hostname) })),
        },
      };
    })
    .on('GET', '/v1/registrations', () => ({ json: registrations.list() }))
    .on('GET', '/v1/convergence', (req) => {
      if (!views.convergence)
        throw new TrellisError('TRELLIS_NOT_FOUND', 'this server reports no convergence');
      const raw = req.query.get('storeRevision');
      if (raw !== null && !/^\d+$/.test(raw))
        throw new TrellisError(
          'TRELLIS_INVALID_ARGUMENT',
          `storeRevision=${JSON.stringify(raw)}: expected a store revision (a non-negative integer, as trellis apply prints)`,
        );
      return { json: views.convergence.report(raw === null ? undefined : Number(raw)) };
    })
    .on('GET', '/v1/routers', () => ({ json: views.routers?.statuses() ?? [] }))
    .on('GET', '/v1/proxy-config', (req) => {
      if (!views.proxyConfigs)
        throw new TrellisError('TRELLIS_NOT_FOUND', 'this server resolves no ProxyConfig');
      const namespace = req.query.get('namespace');
      if (namespace === null || namespace === '')
        throw new TrellisError(
          'TRELLIS_INVALID_ARGUMENT',
          "query parameter namespace=NS is required (the proxy's namespace; labels=k=v,... its labels)",
        );
      const labels = parseLabelsQuery(req.query.get('labels'));
      return { json: views.proxyConfigs.resolve({ namespace, labels }) };
    })
    .on('GET', '/v1/ratelimit/config', () => ({ json: rateLimits.rateLimitConfig() }))
    .on('GET', '/v1/graph', async (req) => {
      const q = parseGraphQuery(req.query);
      if (!views.graph) throw new TrellisError('TRELLIS_NOT_FOUND', 'this server builds no service graph');
      return { json: await views.graph.graph(q) };
    })
    .on('POST', '/v1/registrations', async (req) => {
      const body = (await req.body()) as Registration;
      const id = await registrations.register(body);
      return { status: 201, json: { id } };
    })
    .on('POST', '/v1/registrations/:id/heartbeat', async (req) => {
      await registrations.heartbeat(req.params.id ?? '');
      return { json: { ok: true } };
    })
    .on('DELETE', '/v1/registrations/:id', async (req) => {
      if (!(await registrations.deregister(req.params.id ?? ''))) {
        throw new TrellisError(
          'TRELLIS_NOT_FOUND',
          `no registered instance ${JSON.stringify(req.params.id)}`,
        );
      }
      return { json: { ok: true } };
    });
  registerExplainRoute(router, debug);
  registerConfigRoutes(router, views.config); // /v1/config: apply, get, delete (see config-routes.ts)
  return router;
}
