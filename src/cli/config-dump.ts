/**
 * Reads the two config dump shapes `trellis proxy-config` accepts into one list per xDS type:
 * - the control plane's /debug/config_dump?proxy=ID (what it sent): sections with snake_case
 *   keys (`dynamic_active_clusters: [{name, version_info, resource}]`);
 * - a proxy's admin /config_dump, the Trellis proxy's or Envoy's (what it accepted): Envoy's
 *   envoy.admin.v3 shape in proto3 JSON (`dynamicActiveClusters: [{cluster}]`,
 *   `dynamicListeners: [{activeState: {listener}}]`, ...).
 * Resources themselves are proto3 JSON (camelCase) in both.
 */
export type Json = Record<string, unknown>;

export interface DumpResources {
  /** `sidecar~10.0.0.1~productpage-v1.default~default.svc.cluster.local`, when the dump says. */
  nodeId: string | undefined;
  clusters: Json[];
  listeners: Json[];
  routes: Json[];
  endpoints: Json[];
}

const obj = (v: unknown): Json =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Entries of the first of `keys` present, each mapped through `pick` (skipping empties). */
function entries(section: Json, keys: string[], pick: (e: Json) => unknown): Json[] {
  const out: Json[] = [];
  for (const k of keys) {
    for (const e of arr(section[k])) {
      const r = obj(pick(obj(e)));
      if (Object.keys(r).length) out.push(r);
    }
  }
  return out;
}

export function readConfigDump(dump: unknown): DumpResources {
  const d = obj(dump);
  const out: DumpResources = { nodeId: undefined, clusters: [], listeners: [], routes: [], endpoints: [] };
  const node = obj(d.node);
  if (typeof node.id === 'string') out.nodeId = node.id;
  for (const c of arr(d.configs)) {
    const section = obj(c);
    const type = (typeof section['@type'] === 'string' ? section['@type'] : '').replace(/^.*\./, '');
    switch (type) {
      case 'BootstrapConfigDump': {
        const id = obj(obj(section.bootstrap).node).id;
        if (typeof id === 'string') out.nodeId ??= id;
        break;
      }
      case 'ClustersConfigDump':
        out.clusters.push(
          ...entries(section, ['staticClusters', 'static_clusters'], (e) => e.cluster),
          ...entries(section, ['dynamicActiveClusters'], (e) => e.cluster),
          ...entries(section, ['dynamic_active_clusters'], (e) => e.resource),
        );
        break;
      case 'ListenersConfigDump':
        out.listeners.push(
          ...entries(section, ['staticListeners', 'static_listeners'], (e) => e.listener),
          ...entries(section, ['dynamicListeners'], (e) => obj(e.activeState).listener),
          ...entries(section, ['dynamic_listeners'], (e) => e.resource),
        );
        break;
      case 'RoutesConfigDump':
        out.routes.push(
          ...entries(section, ['staticRouteConfigs', 'static_route_configs'], (e) => e.routeConfig),
          ...entries(section, ['dynamicRouteConfigs'], (e) => e.routeConfig),
          ...entries(section, ['dynamic_route_configs'], (e) => e.resource),
        );
        break;
      case 'EndpointsConfigDump':
        out.endpoints.push(
          ...entries(section, ['staticEndpointConfigs', 'static_endpoint_configs'], (e) => e.endpointConfig),
          ...entries(section, ['dynamicEndpointConfigs'], (e) => e.endpointConfig),
          ...entries(section, ['dynamic_endpoint_configs'], (e) => e.resource),
        );
        break;
      default:
        break;
    }
  }
  return out;
}

/** Node ids are `TYPE~IP~WORKLOAD.NAMESPACE~NAMESPACE.svc.DOMAIN` (Istio's convention). */
export function nodeInfo(id: string | undefined): { type: string; namespace: string } {
  const parts = (id ?? '').split('~');
  const namespace = parts[2]?.split('.')[1] ?? parts[3]?.split('.')[0] ?? 'default';
  return { type: parts[0] ?? 'sidecar', namespace };
}

/** `outbound|9080|v1|reviews.default.svc.cluster.local` -> its parts (Istio's cluster names). */
export function parseClusterName(name: string): {
  direction: string;
  port: string;
  subset: string;
  fqdn: string;
} {
  const p = name.split('|');
  if (p.length === 4 && (p[0] === 'outbound' || p[0] === 'inbound')) {
    return { direction: p[0], port: p[1] ?? '', subset: p[2] ?? '', fqdn: p[3] ?? '' };
  }
  return { direction: '', port: '', subset: '', fqdn: name };
}

/** The HTTP connection manager or TCP proxy config of a network filter, whatever its shape. */
export function typedConfig(filter: Json): Json {
  return obj(filter.typedConfig ?? filter.typed_config);
}

export { obj, arr };
