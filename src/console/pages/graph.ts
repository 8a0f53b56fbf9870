/**
 * The live graph: `/v1/graph?type=versionedApp` (rates from the proxies' metrics, read through
 * /console/api/graph) when the control plane serves it and has traffic to show; otherwise the registry's topology (services
 * and the versions behind them, no rates), so a mesh with no traffic yet still has a map.
 */
import cytoscape from 'cytoscape';
import type { GraphEdge, GraphNode, ServiceGraph } from '../../controlplane/graph/types.js';
import { get } from '../api.js';
import { h, mount } from '../dom.js';

type Drawn = Omit<ServiceGraph, 'source'> & { source: string };

/** /v1/graph's versioned-app graph when it has traffic in it, else the registry's map (the control plane decides). */
const loadGraph = (): Promise<Drawn> => get<Drawn>('/console/api/graph');

const label = (n: GraphNode) =>
  n.kind === 'service'
    ? (n.name.split('.')[0] ?? n.name)
    : n.version
      ? `${n.app ?? n.name} ${n.version}`
      : n.name;

function edgeLabel(e: GraphEdge): string {
  if (e.requestsPerSecond <= 0) return '';
  const err = e.errorRatio > 0 ? ` ${(e.errorRatio * 100).toFixed(1)}% err` : '';
  return `${e.requestsPerSecond.toFixed(1)} rps${err}`;
}

/** An edge's numbers in words, for the list under the drawing (rates, errors, latency, mTLS). */
function edgeText(e: GraphEdge): string {
  if (e.protocol === 'tcp') return `${(e.bytesPerSecond ?? 0).toFixed(0)} B/s, mTLS ${e.mtls}`;
  const latency =
    e.p50Ms !== undefined ? `, p50 ${e.p50Ms.toFixed(0)} ms, p99 ${(e.p99Ms ?? 0).toFixed(0)} ms` : '';
  return `${e.requestsPerSecond.toFixed(2)} rps, ${(e.errorRatio * 100).toFixed(1)}% errors${latency}, mTLS ${e.mtls}`;
}

export async function graphPage(root: HTMLElement): Promise<void> {
  const graph = await loadGraph();
  const canvas = h('div', { id: 'graph', class: 'graph' });
  const from =
    graph.source === 'registry'
      ? 'from the registry (no traffic measured yet): services and the versions behind them'
      : `from ${graph.source}, rates over ${graph.windowSeconds}s`;
  mount(
    root,
    h('h1', {}, 'Service graph'),
    h(
      'p',
      { class: 'muted', id: 'graph-source' },
      `${graph.nodes.length} nodes, ${graph.edges.length} edges ${from}`,
    ),
    canvas,
    h(
      'ul',
      { class: 'graph-edges', 'aria-label': 'edges' },
      graph.edges.map((e) =>
        h(
          'li',
          { 'data-edge': e.id, 'data-rps': String(e.requestsPerSecond) },
          `${e.source} → ${e.target}: ${edgeText(e)}`,
        ),
      ),
    ),
    h(
      'ul',
      { class: 'graph-nodes', 'aria-label': 'nodes' },
      graph.nodes.map((n) =>
        h('li', { 'data-node': n.id, 'data-kind': n.kind }, `${n.kind} ${label(n)} (${n.namespace})`),
      ),
    ),
  );
  cytoscape({
    container: canvas,
    elements: [
      ...graph.nodes.map((n) => ({ data: { id: n.id, label: label(n), kind: n.kind } })),
      ...graph.edges.map((e) => ({
        data: {
          id: e.id,
          source: e.source,
          target: e.target,
          label: edgeLabel(e),
          error: e.errorRatio > 0.05 ? 1 : 0,
        },
      })),
    ],
    layout: { name: 'breadthfirst', directed: true, padding: 20, spacingFactor: 1.1 },
    style: [
      {
        selector: 'node',
        style: {
          label: 'data(label)',
          'font-size': 11,
          'text-valign': 'bottom',
          'background-color': '#3b82f6',
          width: 26,
          height: 26,
        },
      },
      { selector: 'node[kind = "service"]', style: { shape: 'triangle', 'background-color': '#10b981' } },
      {
        selector: 'edge',
        style: {
          width: 2,
          'line-color': '#94a3b8',
          'target-arrow-color': '#94a3b8',
          'target-arrow-shape': 'triangle',
          'curve-style': 'bezier',
          label: 'data(label)',
          'font-size': 9,
        },
      },
      { selector: 'edge[error = 1]', style: { 'line-color': '#ef4444', 'target-arrow-color': '#ef4444' } },
    ],
  });
}
