/**
 * The proxy's identity as sent in every DiscoveryRequest's `node`, following Istio's metadata
 * keys (NAMESPACE, LABELS, WORKLOAD_NAME, INSTANCE_IPS, ISTIO_VERSION) so the control plane can
 * tell sidecars and gateways apart and scope their configuration, and ADMIN_ADDRESS (a Trellis
 * key) so the CLI can reach the proxy's admin endpoint by the proxy's name.
 */
import type { Struct__Output, Value__Output } from '../../protocol/envoy-types.js';
import { LANES_CAPABILITY, TRELLIS_FILTERS_METADATA } from '../../protocol/trellis/lanes-filter.js';
import { STATS_CAPABILITY } from '../../protocol/trellis/istio-stats.js';

export interface ProxyBootstrap {
  /** Istio form: `sidecar~10.0.0.1~reviews-v1-abc.default~default.svc.cluster.local`. */
  nodeId: string;
  /** Envoy's node.cluster; Istio uses `<workload>.<namespace>`. */
  cluster: string;
  mode: 'sidecar' | 'gateway';
  namespace: string;
  workloadName: string;
  labels: Readonly<Record<string, string>>;
  instanceIps: readonly string[];
  /** `region/zone/subzone`, any part may be empty. */
  locality: string;
  /**
   * More node metadata: Istio's `ISTIO_META_X=v` environment as `X: v`, and TRELLIS_PROXY_CONFIG
   * (the ProxyConfig the proxy started with). The keys above win over these.
   */
  metadata?: Readonly<Record<string, string>>;
}

export interface NodeMsg {
  id: string;
  cluster: string;
  metadata: Struct__Output;
  locality: { region?: string; zone?: string; sub_zone?: string };
  user_agent_name: string;
  user_agent_version: string;
}

const str = (s: string): Value__Output => ({ stringValue: s });

export function nodeMessage(b: ProxyBootstrap, version: string): NodeMsg {
  const labels: Record<string, Value__Output> = {};
  for (const [k, v] of Object.entries(b.labels)) labels[k] = str(v);
  const [region, zone, subZone] = b.locality.split('/');
  const locality: NodeMsg['locality'] = {};
  if (region) locality.region = region;
  if (zone) locality.zone = zone;
  if (subZone) locality.sub_zone = subZone;
  return {
    id: b.nodeId,
    cluster: b.cluster,
    metadata: {
      fields: {
        ...Object.fromEntries(Object.entries(b.metadata ?? {}).map(([k, v]) => [k, str(v)])),
        NAMESPACE: str(b.namespace),
        WORKLOAD_NAME: str(b.workloadName),
        LABELS: { structValue: { fields: labels } },
        INSTANCE_IPS: str(b.instanceIps.join(',')),
        PROXY_TYPE: str(b.mode === 'gateway' ? 'router' : 'sidecar'),
        // Istio's agent reports the proxy version here (istioctl version / proxy-status read it).
        ISTIO_VERSION: str(version),
        // The Trellis HTTP filters this proxy runs: only proxies that list one are sent it.
        [TRELLIS_FILTERS_METADATA]: str(`${LANES_CAPABILITY},${STATS_CAPABILITY}`),
      },
    },
    locality,
    user_agent_name: 'trellis-proxy',
    user_agent_version: version,
  };
}

/**
 * Records where the admin endpoint listens (metadata ADMIN_ADDRESS, `HOST:PORT`) once it is bound:
 * call it before the xDS client's first request, which carries this same node object.
 */
export function setAdminAddress(node: NodeMsg, host: string, port: number): void {
  const h = host.includes(':') ? `[${host}]` : host;
  node.metadata.fields = { ...node.metadata.fields, ADMIN_ADDRESS: str(`${h}:${port}`) };
}
