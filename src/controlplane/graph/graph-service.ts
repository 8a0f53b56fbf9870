/**
 * The service graph the HTTP API serves (`GET /v1/graph`): rates from the control plane's own
 * scrape of the proxies, or from Prometheus when `--prometheus-url` is given, built into Kiali's
 * graph types (build-graph.ts).
 */
import type { Clock } from '../../core/clock.js';
import { buildGraph, type Rate } from './build-graph.js';
import type { MetricsScraper } from './scraper.js';
import { prometheusRates } from './prometheus-source.js';
import type { GraphType, ServiceGraph } from './types.js';

export const GRAPH_TYPES: readonly GraphType[] = ['workload', 'app', 'versionedApp', 'service'];
export const DEFAULT_WINDOW_SECONDS = 60;
export const MAX_WINDOW_SECONDS = 600;

export interface GraphQuery {
  type: GraphType;
  namespace?: string;
  windowSeconds: number;
}

export interface GraphView {
  graph(q: GraphQuery): Promise<ServiceGraph>;
}

export function graphService(
  source: { scraper: MetricsScraper } | { prometheusUrl: string },
  clock: Pick<Clock, 'wallNow'>,
): GraphView {
  return {
    async graph(q) {
      let rates: Rate[];
      if ('scraper' in source) rates = source.scraper.rates(q.windowSeconds * 1000);
      else rates = await prometheusRates(source.prometheusUrl, q.windowSeconds);
      const parts = buildGraph(q.type, rates, q.namespace);
      return {
        type: q.type,
        generatedAt: new Date(clock.wallNow()).toISOString(),
        windowSeconds: q.windowSeconds,
        source: 'scraper' in source ? 'scrape' : 'prometheus',
        nodes: parts.nodes,
        edges: parts.edges,
      };
    },
  };
}
