/**
 * The proxy's identity as sent in every DiscoveryRequest's `node`, following Istio's metadata
 * keys (NAMESPACE, LABELS, WORKLOAD_NAME, INSTANCE_IPS) so the control plane can tell sidecars
 * and gateways apart and scope their configuration.
 */
import type { Struct__Output, Value__Output } from '../../protocol/envoy-types.js';

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
        NAMESPACE: str(b.namespace),
        WORKLOAD_NAME: str(b.workloadName),
        LABELS: { structValue: { fields: labels } },
        INSTANCE_IPS: str(b.instanceIps.join(',')),
        PROXY_TYPE: str(b.mode === 'gateway' ? 'router' : 'sidecar'),
      },
    },
    locality,
    user_agent_name: 'trellis-proxy',
    user_agent_version: version,
  };
}
